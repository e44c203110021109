package schedule_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// harness runs a scheduler the way the connector does, in virtual time (clock.Event): the
// scheduler's own goroutines and the test's walks are the participants, the simulator answers
// in process.
type harness struct {
	t       *testing.T
	ctx     context.Context // of the running participant (run)
	clock   *clock.Event
	sim     *partoosim.Sim
	cl      *partoo.Client
	mu      sync.Mutex
	state   map[int64]*diff.State
	s       *schedule.Smart
	cfg     schedule.Config // s's, for a restart
	listing atomic.Bool     // false: GET /conversations answers 503
}

func newHarness(t *testing.T, convs int, order partoosim.Order, mod ...func(*schedule.Config)) *harness {
	clk := clock.NewEvent(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: "k", Clock: clk, Order: order, RequestsPerMinute: 300})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{}, 1)
	gen.Populate(convs, 3, 24*time.Hour)
	h := &harness{t: t, clock: clk, sim: sim, state: map[int64]*diff.State{}}
	h.listing.Store(true)
	api := sim.Handler()
	transport := simtest.Transport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/conversations" && !h.listing.Load() {
			http.Error(w, "listing down", http.StatusServiceUnavailable)
			return
		}
		api.ServeHTTP(w, r)
	}))
	cl, err := partoo.New(partoo.Config{APIURL: "http://sim/v2", APIKey: secret.New("k"), Clock: clk,
		HTTPClient: &http.Client{Transport: transport}, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.cl = cl
	cfg := schedule.Config{Partoo: cl, Clock: clk, Go: clk.Go,
		State: func(id int64) *diff.State {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.state[id]
		},
		Known: func() []int64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			var ids []int64
			for id := range h.state {
				ids = append(ids, id)
			}
			return ids
		}}
	for _, m := range mod {
		m(&cfg)
	}
	h.s, h.cfg = schedule.NewSmart(cfg), cfg
	return h
}

// run runs f as a participant of the virtual clock and waits for it; the scheduler's
// goroutines are stopped when it returns.
func (h *harness) run(f func()) {
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	done := make(chan struct{})
	h.clock.Go(func() {
		defer close(done)
		defer cancel()
		f()
	})
	<-done
}

// stateOf is a conversation's recorded state.
func (h *harness) stateOf(id int64) *diff.State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state[id]
}

// tracked is how many conversations have a state.
func (h *harness) tracked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.state)
}

// walk does what the connector does: walk, diff, record, tell the scheduler.
func (h *harness) walk(id int64) int {
	w, err := h.cl.Messages(h.ctx, id)
	if err != nil {
		h.t.Error(err)
		return 0
	}
	h.mu.Lock()
	r := diff.Diff(h.state[id], id, w.Messages, diff.Complete, h.clock.Now(), diff.Options{})
	if r.Changed {
		h.state[id] = r.Next
	}
	st := h.state[id]
	h.mu.Unlock()
	h.s.Walked(id, st, schedule.Outcome{Changed: len(r.Events) > 0})
	return len(r.Events)
}

// snapshot walks until every conversation of the organisation is tracked.
func (h *harness) snapshot() {
	n := len(h.sim.ConversationIDs())
	for i := 0; i < 10*n && h.tracked() < n; i++ {
		p := h.next()
		h.walk(p.ID)
	}
	if h.tracked() != n {
		h.t.Errorf("only %d of %d conversations walked", h.tracked(), n)
	}
}

func (h *harness) next() schedule.Pick {
	p, err := h.s.Next(h.ctx, schedule.Always)
	if err != nil {
		h.t.Error(err)
	}
	return p
}

func gaps(ts []time.Time) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i].Sub(ts[i-1]))
	}
	return d
}
