package schedule_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// A fresh start snapshots every conversation, not only those on page 1 of the listing.
func TestColdStartCoversEveryConversation(t *testing.T) {
	h := newHarness(t, 250, partoosim.OrderRecent)
	h.run(func() {
		for i := 0; i < 2000 && h.tracked() < 250; i++ {
			id := h.next().ID
			h.walk(id)
		}
		if h.tracked() != 250 {
			t.Fatalf("only %d of 250 conversations walked", h.tracked())
		}
		if !h.s.Stats().RecencyOrdered {
			t.Fatal("a recency-ordered listing was not recognised")
		}
		if c := h.sim.Counters(); c.Throttled != 0 {
			t.Fatalf("%d 429s", c.Throttled)
		}
	})
}

func TestIDOrderIsRecognised(t *testing.T) {
	h := newHarness(t, 250, partoosim.OrderID)
	h.run(func() {
		for i := 0; i < 300; i++ {
			id := h.next().ID
			h.walk(id)
		}
		if h.s.Stats().RecencyOrdered {
			t.Fatal("an id-ordered listing was taken for recency order")
		}
	})
}

func TestChangesAreFoundFirstAndHintsComeBeforeAll(t *testing.T) {
	h := newHarness(t, 150, partoosim.OrderRecent)
	h.run(func() {
		for i := 0; i < 1000 && h.tracked() < 150; i++ {
			id := h.next().ID
			h.walk(id)
		}
		// A new message in a quiet conversation, one reconciliation (in id order) will not
		// reach for a while: the next discovery finds it.
		ids := h.sim.ConversationIDs()
		quiet := slices.Max(ids)
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: quiet}); err != nil {
			t.Fatal(err)
		}
		found := false
		for i := 0; i < 30 && !found; i++ {
			p := h.next()
			id, reason := p.ID, p.Reason
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
		// A hint is served at once (at most one reconciliation pick owed before it), and
		// once even if repeated.
		h.s.Hint(77)
		h.s.Hint(77)
		hints := 0
		for i := 0; i < 3; i++ {
			p := h.next()
			if p.Reason == schedule.ReasonHint && p.ID == 77 {
				if i > 1 {
					t.Fatalf("the hint came %d picks late", i)
				}
				hints++
			}
		}
		if hints != 1 {
			t.Fatalf("the repeated hint was served %d times", hints)
		}
	})
}

func TestSendingIsRewalkedWithBackoff(t *testing.T) {
	h := newHarness(t, 5, partoosim.OrderRecent)
	h.run(func() {
		for i := 0; i < 100 && h.tracked() < 5; i++ {
			id := h.next().ID
			h.walk(id)
		}
		c := h.sim.ConversationIDs()[2]
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c, SenderType: model.SenderUser, Status: model.StatusSending}); err != nil {
			t.Fatal(err)
		}
		h.walk(c) // recorded in Sending
		var times []time.Time
		for i := 0; i < 400 && len(times) < 4; i++ {
			p := h.next()
			id, reason := p.ID, p.Reason
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
	})
}

// TestDiscoveryFailuresAreCountedAndKnownConversationsStillWalked: with the listing down,
// discovery failures count up in Status, and reconciliation keeps walking the conversations the
// state knows (finding their changes) instead of spinning on the listing.
func TestDiscoveryFailuresAreCountedAndKnownConversationsStillWalked(t *testing.T) {
	h := newHarness(t, 20, partoosim.OrderRecent)
	h.run(func() {
		h.snapshot()
		h.listing.Store(false)
		target := h.sim.ConversationIDs()[7]
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: target}); err != nil {
			t.Fatal(err)
		}
		before := h.sim.Counters().ByEndpoint["/v2/conversations"][200]
		found := false
		for i := 0; i < 500 && (!found || h.s.Status().DiscoveryFailures == 0); i++ {
			id := h.next().ID
			found = (h.walk(id) > 0 && id == target) || found
		}
		if !found {
			t.Fatal("the new message of a known conversation was not found while the listing was down")
		}
		st := h.s.Status()
		if st.DiscoveryFailures == 0 || st.LastDiscoveryError == "" {
			t.Fatalf("status = %+v, want discovery failures counted", st)
		}
		if n := h.sim.Counters().ByEndpoint["/v2/conversations"][200]; n != before {
			t.Fatalf("the listing answered %d times while down?", n-before)
		}
		h.listing.Store(true)
		for i := 0; i < 50 && h.s.Status().DiscoveryFailures > 0; i++ {
			id := h.next().ID
			h.walk(id)
		}
		if st := h.s.Status(); st.DiscoveryFailures != 0 || st.LastDiscovery.IsZero() {
			t.Fatalf("after the listing came back: %+v", st)
		}
	})
}

// TestIgnoredLastMessageIsNotWalkedAgainAndAgain: a conversation whose last message has an
// unknown sender_type (which the diff ignores) is not walked at every discovery.
func TestIgnoredLastMessageIsNotWalkedAgainAndAgain(t *testing.T) {
	h := newHarness(t, 10, partoosim.OrderRecent)
	h.run(func() {
		h.snapshot()
		c := h.sim.ConversationIDs()[3]
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c, SenderType: "Bot"}); err != nil {
			t.Fatal(err)
		}
		walks := 0
		start := h.clock.Now()
		for h.clock.Now().Before(start.Add(time.Minute)) { // 30 discoveries
			p := h.next()
			id, reason := p.ID, p.Reason
			if id == c && reason == schedule.ReasonDiscovery {
				walks++
			}
			h.walk(id)
		}
		if walks > 1 {
			t.Fatalf("walked %d times by discovery for a message it ignores", walks)
		}
	})
}

// TestReconcilePeriodPausesBetweenPasses: with a period of 10 minutes, a pass over a small
// organisation ends early and the next does not begin before the period is over.
func TestReconcilePeriodPausesBetweenPasses(t *testing.T) {
	h := newHarness(t, 30, partoosim.OrderRecent, func(c *schedule.Config) { c.ReconcilePeriod = 10 * time.Minute })
	h.run(func() {
		start := h.clock.Now()
		passes := map[int64]int{}
		for h.s.Status().Pass.Number <= 3 {
			p := h.next()
			id, reason := p.ID, p.Reason
			if reason == schedule.ReasonReconcile {
				at := h.clock.Now().Sub(start)
				if off := at % (10 * time.Minute); off > 5*time.Minute {
					t.Fatalf("a reconciliation walk %v into a period: passes must finish early and pause", off)
				}
				passes[int64(at/(10*time.Minute))]++
			}
			h.walk(id)
		}
		for p := int64(0); p < 3; p++ {
			if passes[p] < 30 {
				t.Fatalf("period %d: %d reconciliation walks, want every conversation (30): %v", p, passes[p], passes)
			}
		}
	})
}

// TestFailedWalksAreRetriedWithGrowingDelays: a walk reported failed is walked again, later
// each time while it keeps failing.
func TestFailedWalksAreRetriedWithGrowingDelays(t *testing.T) {
	h := newHarness(t, 5, partoosim.OrderRecent, func(c *schedule.Config) { c.ReconcilePeriod = time.Hour })
	h.run(func() {
		h.snapshot()
		c := h.sim.ConversationIDs()[1]
		h.s.Walked(c, h.stateOf(c), schedule.Outcome{Failed: true})
		var times []time.Time
		last := h.clock.Now()
		for i := 0; i < 500 && len(times) < 3; i++ {
			p := h.next()
			id, reason := p.ID, p.Reason
			if id == c { // its walks keep failing
				if reason == schedule.ReasonRetry {
					times = append(times, h.clock.Now())
				}
				h.s.Walked(c, h.stateOf(c), schedule.Outcome{Failed: true})
				continue
			}
			h.walk(id)
		}
		if len(times) < 3 {
			t.Fatalf("only %d retries", len(times))
		}
		g0, g1, g2 := times[0].Sub(last), times[1].Sub(times[0]), times[2].Sub(times[1])
		if !(g0 >= 10*time.Second && g1 > g0 && g2 > g1) {
			t.Fatalf("retry delays %v, %v, %v: want at least 10 s, growing", g0, g1, g2)
		}
	})
}

// TestPicksOnlyWhatTheRunnerHasRoomFor: while the runner has no room for background work or
// hints, Next returns neither (the hint waits, reconciliation waits), yet still returns what
// discovery found; once there is room, the hint comes first.
func TestPicksOnlyWhatTheRunnerHasRoomFor(t *testing.T) {
	h := newHarness(t, 50, partoosim.OrderRecent)
	h.run(func() {
		h.snapshot()
		full := func(p schedule.Pick) bool { return !p.Background && p.Reason != schedule.ReasonHint }
		h.s.Hint(h.sim.ConversationIDs()[3])
		changed := slices.Max(h.sim.ConversationIDs())
		if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: changed}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(h.ctx, time.Hour)
		defer cancel()
		p, err := h.s.Next(ctx, full)
		if err != nil || p.ID != changed || p.Reason != schedule.ReasonDiscovery {
			t.Fatalf("with no room for hints or background work: %+v %v, want the discovered change", p, err)
		}
		h.walk(p.ID)
		// For a minute (of virtual time), Next hands out nothing it has no room for.
		wctx, wcancel := context.WithCancel(h.ctx)
		h.clock.Go(func() {
			_ = clock.Sleep(wctx, h.clock, time.Minute)
			wcancel()
		})
		picks := 0
		for {
			p, err := h.s.Next(wctx, full)
			if err != nil {
				break
			}
			if !full(p) {
				t.Fatalf("Next returned %+v although the runner had no room for it", p)
			}
			picks++
			h.walk(p.ID)
		}
		t.Logf("%d picks in a minute with no room for hints or background work", picks)
		// With room, the hint comes at once, after at most the few reconciliation walks owed
		// for the minute reconciliation had no room (its share is banked, up to 3 walks).
		for i := 0; ; i++ {
			p := h.next()
			if p.Reason == schedule.ReasonHint {
				break
			}
			if p.Reason != schedule.ReasonReconcile || p.Background || i == 3 {
				t.Fatalf("with room, %+v came before the hint", p)
			}
			h.walk(p.ID)
		}
	})
}
