package schedule_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// TestSmallOrganisationIsSnapshottedAtOnceAndListedSparingly: an organisation of one or two
// conversations (too few for page 1 to tell the listing's order) has its first walk at once,
// and over two minutes of a 300/min budget the listing takes about one request per discovery
// interval, not most of the budget; reconciliation walks each conversation at most once per
// discovery interval. (Before: the first walk after about a minute, 540 listings in 2
// minutes.)
func TestSmallOrganisationIsSnapshottedAtOnceAndListedSparingly(t *testing.T) {
	for _, n := range []int{1, 2} {
		h := newHarness(t, n, partoosim.OrderRecent)
		h.run(func() {
			start := h.clock.Now()
			var first time.Duration = -1
			walks := map[int64]int{}
			for h.clock.Now().Before(start.Add(2 * time.Minute)) {
				p := h.next()
				if first < 0 {
					first = h.clock.Now().Sub(start)
				}
				walks[p.ID]++
				h.walk(p.ID)
			}
			listings := h.sim.Counters().ByEndpoint["/v2/conversations"][200]
			t.Logf("%d conversations: first walk after %v; in 2 minutes %d listings, walks %v", n, first, listings, walks)
			if first > 3*time.Second {
				t.Fatalf("%d conversations: first walk after %v, want within seconds", n, first)
			}
			// One per discovery interval (2 s): 60, and the first pass's own.
			if listings > 65 {
				t.Fatalf("%d conversations: %d listings in 2 minutes, want about 60 (one per discovery interval)", n, listings)
			}
			for id, w := range walks {
				if w > 65 {
					t.Fatalf("conversation %d walked %d times in 2 minutes with nothing changing", id, w)
				}
			}
		})
	}
}

// TestFailingWalksBackOffInASmallOrganisation: in an organisation of two conversations, where
// reconciliation passes follow each other every few seconds, a conversation whose walks keep
// failing is walked again only after 10 s, 20 s, 40 s ... up to 10 minutes, whatever asks for
// it; the other conversation is walked as usual.
func TestFailingWalksBackOffInASmallOrganisation(t *testing.T) {
	h := newHarness(t, 2, partoosim.OrderRecent)
	h.run(func() {
		h.snapshot()
		ids := h.sim.ConversationIDs()
		bad := ids[0]
		h.s.Walked(bad, h.stateOf(bad), schedule.Outcome{Failed: true})
		times := []time.Time{h.clock.Now()}
		goodWalks := 0
		for len(times) < 12 {
			p := h.next()
			if p.ID != bad {
				goodWalks++
				h.walk(p.ID)
				continue
			}
			times = append(times, h.clock.Now())
			h.s.Walked(bad, h.stateOf(bad), schedule.Outcome{Failed: true})
		}
		want := []time.Duration{10, 20, 40, 80, 160, 320, 600, 600, 600, 600, 600}
		for i, w := range want {
			if got := times[i+1].Sub(times[i]); got < w*time.Second || got > w*time.Second+time.Second {
				t.Fatalf("delay %d: %v, want %v (all: %v)", i+1, got, w*time.Second, gaps(times))
			}
		}
		if total := times[len(times)-1].Sub(times[0]); goodWalks < int(total/(10*time.Second)) {
			t.Fatalf("the healthy conversation was walked %d times in %v", goodWalks, total)
		}
	})
}
