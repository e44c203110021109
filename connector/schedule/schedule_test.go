package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoo/partootest"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
)

type harness struct {
	t     *testing.T
	clock *partootest.ManualClock
	sim   *partootest.Sim
	cl    *partoo.Client
	state map[int64]*diff.State
	s     *schedule.Scheduler
}

func newHarness(t *testing.T, convs int, order partootest.Order) *harness {
	clock := partootest.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	sim := partootest.New(partootest.Config{APIKey: "k", Clock: clock, Order: order, RequestsPerMinute: 300})
	gen := partootest.NewGenerator(sim, partootest.Activity{}, 1)
	gen.Populate(convs, 3, 24*time.Hour)
	cl, err := partoo.New(partoo.Config{BaseURL: sim.Serve(t), APIKey: partoo.NewSecret("k"), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clock, sim: sim, cl: cl, state: map[int64]*diff.State{}}
	h.s = schedule.New(schedule.Config{Partoo: cl, Clock: clock,
		State: func(id int64) *diff.State { return h.state[id] },
		Known: func() []int64 {
			var ids []int64
			for id := range h.state {
				ids = append(ids, id)
			}
			return ids
		}})
	return h
}

// walk does what the connector does: walk, diff, record, tell the scheduler.
func (h *harness) walk(id int64) int {
	msgs, err := h.cl.Messages(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	r := diff.Diff(h.state[id], id, msgs, true, h.clock.Now(), diff.Options{})
	if r.Changed {
		h.state[id] = r.Next
	}
	h.s.Walked(id, h.state[id], len(r.Events) > 0)
	return len(r.Events)
}

func (h *harness) next() (int64, schedule.Reason) {
	before := h.s.Stats().Picked
	id, err := h.s.Next(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	after := h.s.Stats().Picked
	for r := range after {
		if after[r] != before[r] {
			return id, schedule.Reason(r)
		}
	}
	h.t.Fatal("no reason counted")
	return 0, 0
}

// A fresh start snapshots every conversation, not only those on page 1 of the listing.
func TestColdStartCoversEveryConversation(t *testing.T) {
	h := newHarness(t, 250, partootest.OrderRecent)
	for i := 0; i < 2000 && len(h.state) < 250; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	if len(h.state) != 250 {
		t.Fatalf("only %d of 250 conversations walked", len(h.state))
	}
	if !h.s.Stats().RecencyOrdered {
		t.Fatal("a recency-ordered listing was not recognised")
	}
	if c := h.sim.Counters(); c.Throttled != 0 {
		t.Fatalf("%d 429s", c.Throttled)
	}
}

func TestIDOrderIsRecognised(t *testing.T) {
	h := newHarness(t, 250, partootest.OrderID)
	for i := 0; i < 300; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	if h.s.Stats().RecencyOrdered {
		t.Fatal("an id-ordered listing was taken for recency order")
	}
}

func TestChangesAreFoundFirstAndHintsComeBeforeAll(t *testing.T) {
	h := newHarness(t, 150, partootest.OrderRecent)
	for i := 0; i < 1000 && len(h.state) < 150; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	// A new message in a quiet conversation: the next discovery finds it.
	quiet := h.sim.ConversationIDs()[10]
	if _, err := h.sim.AddMessage(partootest.MessageSpec{ConversationID: quiet}); err != nil {
		t.Fatal(err)
	}
	found := false
	for i := 0; i < 30 && !found; i++ {
		id, reason := h.next()
		if id == quiet {
			if reason != schedule.ReasonDiscovery {
				t.Fatalf("found by %v, want discovery", reason)
			}
			found = h.walk(id) == 1
		} else {
			h.walk(id)
		}
	}
	if !found {
		t.Fatal("discovery did not find the new message within 30 picks")
	}
	// A hint is served next, once even if repeated.
	h.s.Hint(77)
	h.s.Hint(77)
	if id, reason := h.next(); id != 77 || reason != schedule.ReasonHint {
		t.Fatalf("after a hint: %d (%v)", id, reason)
	}
	if _, reason := h.next(); reason == schedule.ReasonHint {
		t.Fatal("a repeated hint was served twice")
	}
}

func TestSendingIsRewalkedWithBackoff(t *testing.T) {
	h := newHarness(t, 5, partootest.OrderRecent)
	for i := 0; i < 100 && len(h.state) < 5; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	c := h.sim.ConversationIDs()[2]
	if _, err := h.sim.AddMessage(partootest.MessageSpec{ConversationID: c, SenderType: partoo.SenderUser, Status: partoo.StatusSending}); err != nil {
		t.Fatal(err)
	}
	h.walk(c) // recorded in Sending
	var times []time.Time
	for i := 0; i < 400 && len(times) < 4; i++ {
		id, reason := h.next()
		if id == c && reason == schedule.ReasonSending {
			times = append(times, h.clock.Now())
		}
		h.walk(id)
	}
	if len(times) < 4 {
		t.Fatalf("only %d Sending re-walks", len(times))
	}
	if g1, g2 := times[2].Sub(times[1]), times[3].Sub(times[2]); g2 <= g1 {
		t.Fatalf("delays do not grow: %v then %v", g1, g2)
	}
}
