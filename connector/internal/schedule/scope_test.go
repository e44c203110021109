package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// TestHintScopeComesFromPartoo: with a businesses filter, a hint for a conversation the state
// does not know is walked only once GET /conversations/{id} says it belongs to an allowed
// business; one of another business is never walked, and its later hints are refused without
// asking again.
func TestHintScopeComesFromPartoo(t *testing.T) {
	h := newHarness(t, 0, partoosim.OrderRecent, func(c *schedule.Config) {
		c.BusinessIDs = []string{"1"}
		c.DiscoveryInterval = time.Hour // only the hints can bring the new conversations
	})
	old := h.clock.Now().Add(-48 * time.Hour)
	add := func(business int64) int64 {
		c := h.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: business, CreatedAt: old})
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, Date: old}); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	add(1)
	h.run(func() {
		h.snapshot()
		mine, other := add(1), add(3)
		if r := h.s.Hint(other); r != schedule.HintChecking {
			t.Fatalf("hint for an unknown conversation: %v, want %v", r, schedule.HintChecking)
		}
		if r := h.s.Hint(mine); r != schedule.HintChecking {
			t.Fatalf("hint for an unknown conversation: %v, want %v", r, schedule.HintChecking)
		}
		ctx, cancel := context.WithCancel(h.ctx)
		h.clock.Go(func() {
			_ = clock.Sleep(ctx, h.clock, 5*time.Minute)
			cancel()
		})
		var walkedMine bool
		for {
			p, err := h.s.Next(ctx, schedule.Always)
			if err != nil {
				break
			}
			if p.ID == other {
				t.Fatalf("the conversation of business 3 was picked (%v)", p.Reason)
			}
			if p.ID == mine {
				walkedMine = walkedMine || p.Reason == schedule.ReasonHint
			}
			h.walk(p.ID)
		}
		cancel()
		if !walkedMine || h.stateOf(mine) == nil {
			t.Fatal("the hinted conversation of business 1 was not walked for its hint")
		}
		for i := 0; i < 3; i++ {
			if r := h.s.Hint(other); r != schedule.HintOutside {
				t.Fatalf("a later hint for the conversation of business 3: %v, want %v", r, schedule.HintOutside)
			}
		}
		if r := h.s.Hint(mine); r != schedule.HintAccepted {
			t.Fatalf("a hint for the now known conversation: %v, want %v", r, schedule.HintAccepted)
		}
		if n := h.sim.Counters().ByEndpoint["/v2/conversations/{id}"][200]; n != 2 {
			t.Fatalf("%d GET /conversations/{id}, want 2 (one check per unknown conversation)", n)
		}
		if h.stateOf(other) != nil {
			t.Fatal("the conversation of business 3 has a state")
		}
	})
}

// TestHintForAListedConversationIsNotChecked: a conversation the business-filtered listing
// has shown is in scope: its hint goes on at once, without a GET /conversations/{id}, even
// before its first walk.
func TestHintForAListedConversationIsNotChecked(t *testing.T) {
	h := newHarness(t, 0, partoosim.OrderRecent, func(c *schedule.Config) { c.BusinessIDs = []string{"1"} })
	c := h.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 1})
	if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID}); err != nil {
		t.Fatal(err)
	}
	h.run(func() {
		if p := h.next(); p.ID != c.ID { // listed, not walked
			t.Fatalf("first pick %+v", p)
		}
		if r := h.s.Hint(c.ID); r != schedule.HintAccepted {
			t.Fatalf("hint for a listed conversation: %v, want %v", r, schedule.HintAccepted)
		}
		if n := h.sim.Counters().ByEndpoint["/v2/conversations/{id}"][200]; n != 0 {
			t.Fatalf("%d GET /conversations/{id} for a listed conversation", n)
		}
	})
}
