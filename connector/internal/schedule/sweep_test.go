package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

var sweepT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// TestSweepOfAFewFixedIDsWaitsBetweenSweeps: a fixed list of one, two or three conversations
// is handed out once per sweep interval, even when the caller asks again at once (as the
// runner does while the walk is in flight): a minute holds 30 sweeps, not millions of picks.
func TestSweepOfAFewFixedIDsWaitsBetweenSweeps(t *testing.T) {
	for _, ids := range [][]int64{{7}, {7, 8}, {7, 8, 9}} {
		clk := clock.NewManual(sweepT0)
		s := schedule.NewSweep(schedule.SweepConfig{ConversationIDs: ids, Clock: clk})
		picks := 0
		for clk.Now().Before(sweepT0.Add(time.Minute)) {
			if _, err := s.Next(context.Background(), schedule.Always); err != nil {
				t.Fatal(err)
			}
			picks++
			if picks > 1000 {
				break
			}
		}
		if want := 30 * len(ids); picks < want-len(ids) || picks > want+len(ids) {
			t.Fatalf("%d ids: %d picks in a minute, want about %d (one sweep every %v)", len(ids), picks, want, schedule.DefaultSweepInterval)
		}
	}
}

// TestSweepBacksOffFailingConversations: a fixed conversation whose walks keep failing is
// walked again after 10 s, then 20 s, 40 s ... up to 10 minutes, while the other one of the
// list is swept as usual; a walk that succeeds ends the back-off.
func TestSweepBacksOffFailingConversations(t *testing.T) {
	clk := clock.NewManual(sweepT0)
	s := schedule.NewSweep(schedule.SweepConfig{ConversationIDs: []int64{7, 8}, Clock: clk})
	var walks []time.Time
	healthy := 0
	for len(walks) < 12 {
		p, err := s.Next(context.Background(), schedule.Always)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID == 8 {
			healthy++
			s.Walked(8, nil, schedule.Outcome{})
			continue
		}
		walks = append(walks, clk.Now())
		s.Walked(7, nil, schedule.Outcome{Failed: true})
	}
	want := []time.Duration{10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600}
	for i, w := range want {
		if got := walks[i+1].Sub(walks[i]); got != w*time.Second {
			t.Fatalf("delay %d after a failure: %v, want %v (all: %v)", i+1, got, w*time.Second, gaps(walks))
		}
	}
	total := walks[len(walks)-1].Sub(walks[0])
	if min := int(total/schedule.DefaultSweepInterval) - 2; healthy < min {
		t.Fatalf("the healthy conversation was walked %d times in %v, want at least %d", healthy, total, min)
	}
	// Success ends the back-off: the next failure waits 10 s again.
	s.Walked(7, nil, schedule.Outcome{})
	for {
		p, _ := s.Next(context.Background(), schedule.Always)
		if p.ID == 7 {
			break
		}
	}
	s.Walked(7, nil, schedule.Outcome{Failed: true})
	failedAt := clk.Now()
	for {
		p, _ := s.Next(context.Background(), schedule.Always)
		if p.ID == 7 {
			if got := clk.Now().Sub(failedAt); got != 10*time.Second {
				t.Fatalf("after a success, the next failure waited %v, want 10s", got)
			}
			break
		}
	}
}
