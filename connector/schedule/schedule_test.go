package schedule_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/clock"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
	"github.com/partoo-connector/partoo-connector/connector/secret"
)

type harness struct {
	t       *testing.T
	clock   *clock.Manual
	sim     *partoosim.Sim
	cl      *partoo.Client
	state   map[int64]*diff.State
	s       *schedule.Smart
	listing atomic.Bool // false: GET /conversations answers 503
}

func newHarness(t *testing.T, convs int, order partoosim.Order, mod ...func(*schedule.Config)) *harness {
	clock := clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: "k", Clock: clock, Order: order, RequestsPerMinute: 300})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{}, 1)
	gen.Populate(convs, 3, 24*time.Hour)
	h := &harness{t: t, clock: clock, sim: sim, state: map[int64]*diff.State{}}
	h.listing.Store(true)
	api := sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/conversations" && !h.listing.Load() {
			http.Error(w, "listing down", http.StatusServiceUnavailable)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cl, err := partoo.New(partoo.Config{APIURL: srv.URL + "/v2", APIKey: secret.New("k"), Clock: clock,
		BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.cl = cl
	cfg := schedule.Config{Partoo: cl, Clock: clock,
		State: func(id int64) *diff.State { return h.state[id] },
		Known: func() []int64 {
			var ids []int64
			for id := range h.state {
				ids = append(ids, id)
			}
			return ids
		}}
	for _, m := range mod {
		m(&cfg)
	}
	h.s = schedule.NewSmart(cfg)
	return h
}

// walk does what the connector does: walk, diff, record, tell the scheduler.
func (h *harness) walk(id int64) int {
	w, err := h.cl.Messages(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	r := diff.Diff(h.state[id], id, w.Messages, diff.Complete, h.clock.Now(), diff.Options{})
	if r.Changed {
		h.state[id] = r.Next
	}
	h.s.Walked(id, h.state[id], schedule.Outcome{Changed: len(r.Events) > 0})
	return len(r.Events)
}

// snapshot walks until every conversation of the organisation is tracked.
func (h *harness) snapshot() {
	n := len(h.sim.ConversationIDs())
	for i := 0; i < 10*n && len(h.state) < n; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	if len(h.state) != n {
		h.t.Fatalf("only %d of %d conversations walked", len(h.state), n)
	}
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
	h := newHarness(t, 250, partoosim.OrderRecent)
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
	h := newHarness(t, 250, partoosim.OrderID)
	for i := 0; i < 300; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	if h.s.Stats().RecencyOrdered {
		t.Fatal("an id-ordered listing was taken for recency order")
	}
}

func TestChangesAreFoundFirstAndHintsComeBeforeAll(t *testing.T) {
	h := newHarness(t, 150, partoosim.OrderRecent)
	for i := 0; i < 1000 && len(h.state) < 150; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	// A new message in a quiet conversation: the next discovery finds it.
	quiet := h.sim.ConversationIDs()[10]
	if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: quiet}); err != nil {
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
	h := newHarness(t, 5, partoosim.OrderRecent)
	for i := 0; i < 100 && len(h.state) < 5; i++ {
		id, _ := h.next()
		h.walk(id)
	}
	c := h.sim.ConversationIDs()[2]
	if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c, SenderType: partoo.SenderUser, Status: partoo.StatusSending}); err != nil {
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

// TestDiscoveryFailuresAreCountedAndKnownConversationsStillWalked: with the listing down,
// discovery failures count up in Status, and reconciliation keeps walking the conversations the
// state knows (finding their changes) instead of spinning on the listing.
func TestDiscoveryFailuresAreCountedAndKnownConversationsStillWalked(t *testing.T) {
	h := newHarness(t, 20, partoosim.OrderRecent)
	h.snapshot()
	h.listing.Store(false)
	target := h.sim.ConversationIDs()[7]
	if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: target}); err != nil {
		t.Fatal(err)
	}
	before := h.sim.Counters().ByEndpoint["/v2/conversations"][200]
	found := false
	for i := 0; i < 200 && !found; i++ {
		id, _ := h.next()
		found = h.walk(id) > 0 && id == target
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
		id, _ := h.next()
		h.walk(id)
	}
	if st := h.s.Status(); st.DiscoveryFailures != 0 || st.LastDiscovery.IsZero() {
		t.Fatalf("after the listing came back: %+v", st)
	}
}

// TestIgnoredLastMessageIsNotWalkedAgainAndAgain: a conversation whose last message has an
// unknown sender_type (which the diff ignores) is not walked at every discovery.
func TestIgnoredLastMessageIsNotWalkedAgainAndAgain(t *testing.T) {
	h := newHarness(t, 10, partoosim.OrderRecent)
	h.snapshot()
	c := h.sim.ConversationIDs()[3]
	if _, err := h.sim.AddMessage(partoosim.MessageSpec{ConversationID: c, SenderType: "Bot"}); err != nil {
		t.Fatal(err)
	}
	walks := 0
	start := h.clock.Now()
	for h.clock.Now().Before(start.Add(time.Minute)) { // 30 discoveries
		id, reason := h.next()
		if id == c && reason == schedule.ReasonDiscovery {
			walks++
		}
		h.walk(id)
	}
	if walks > 1 {
		t.Fatalf("walked %d times by discovery for a message it ignores", walks)
	}
}

// TestReconcilePeriodPausesBetweenPasses: with a period of 10 minutes, a pass over a small
// organisation ends early and the next does not begin before the period is over.
func TestReconcilePeriodPausesBetweenPasses(t *testing.T) {
	h := newHarness(t, 30, partoosim.OrderRecent, func(c *schedule.Config) { c.ReconcilePeriod = 10 * time.Minute })
	start := h.clock.Now()
	passes := map[int64]int{}
	for h.s.Status().Pass.Number <= 3 {
		id, reason := h.next()
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
}

// TestFailedWalksAreRetriedWithGrowingDelays: a walk reported failed is walked again, later
// each time while it keeps failing.
func TestFailedWalksAreRetriedWithGrowingDelays(t *testing.T) {
	h := newHarness(t, 5, partoosim.OrderRecent, func(c *schedule.Config) { c.ReconcilePeriod = time.Hour })
	h.snapshot()
	c := h.sim.ConversationIDs()[1]
	h.s.Walked(c, h.state[c], schedule.Outcome{Failed: true})
	var times []time.Time
	last := h.clock.Now()
	for i := 0; i < 500 && len(times) < 3; i++ {
		id, reason := h.next()
		if id == c { // its walks keep failing
			if reason == schedule.ReasonRetry {
				times = append(times, h.clock.Now())
			}
			h.s.Walked(c, h.state[c], schedule.Outcome{Failed: true})
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
}
