package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// The runner's tests run in simulated time (clock.Event) against the simulator answering with
// a latency: what they measure does not depend on how busy the machine is.

// queueScheduler hands out the picks it is given, in order; with none left it waits. It
// records what it is told.
type queueScheduler struct {
	clock clock.Clock
	wake  *clock.Wake

	mu       sync.Mutex
	queue    []schedule.Pick
	repeat   []schedule.Pick // handed out in turn for ever once queue is empty
	next     int
	outcomes map[int64][]schedule.Outcome
	walkedAt map[int64][]time.Time
}

func newQueueScheduler(c clock.Clock) *queueScheduler {
	return &queueScheduler{clock: c, wake: clock.NewWake(), outcomes: map[int64][]schedule.Outcome{}, walkedAt: map[int64][]time.Time{}}
}

func (q *queueScheduler) Next(ctx context.Context, room func(schedule.Pick) bool) (schedule.Pick, error) {
	for {
		q.mu.Lock()
		if len(q.queue) > 0 && room(q.queue[0]) {
			p := q.queue[0]
			q.queue = q.queue[1:]
			q.mu.Unlock()
			return p, nil
		}
		if len(q.queue) == 0 && len(q.repeat) > 0 && room(q.repeat[q.next%len(q.repeat)]) {
			p := q.repeat[q.next%len(q.repeat)]
			q.next++
			q.mu.Unlock()
			return p, nil
		}
		q.mu.Unlock()
		if err := q.clock.Wait(ctx, 100*time.Millisecond, q.wake); err != nil {
			return schedule.Pick{}, err
		}
	}
}

func (q *queueScheduler) Walked(id int64, _ *diff.State, o schedule.Outcome) {
	q.mu.Lock()
	q.outcomes[id] = append(q.outcomes[id], o)
	q.walkedAt[id] = append(q.walkedAt[id], q.clock.Now())
	q.mu.Unlock()
	q.wake.Signal()
}

func (q *queueScheduler) Hint(int64) schedule.HintResult { return schedule.HintIgnored }
func (q *queueScheduler) Status() schedule.Status        { return schedule.Status{} }

// countingTransport tracks the requests in flight per conversation.
type countingTransport struct {
	next http.RoundTripper

	mu       sync.Mutex
	inFlight map[string]int
	maxConv  int // most requests in flight for one conversation
	requests map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	conv := r.URL.Query().Get("conversation_id")
	c.mu.Lock()
	c.inFlight[conv]++
	c.requests[conv]++
	if conv != "" {
		c.maxConv = max(c.maxConv, c.inFlight[conv])
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight[conv]--
		c.mu.Unlock()
	}()
	return c.next.RoundTrip(r)
}

// slowCommitter takes latency per transaction, fails the transactions it is told to, and
// records every call.
type slowCommitter struct {
	clock   clock.Clock
	latency time.Duration

	mu    sync.Mutex
	calls [][]publish.Change
	fail  int // fail the next n transactions
}

func (s *slowCommitter) Publish(ctx context.Context, changes []publish.Change) error {
	if err := clock.Sleep(ctx, s.clock, s.latency); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, changes)
	if s.fail > 0 {
		s.fail--
		return errors.New("transaction aborted")
	}
	return nil
}

type runWorld struct {
	clock  *clock.Event
	sim    *partoosim.Sim
	client *partoo.Client
	tr     *countingTransport
	idx    *state.Index
	com    *slowCommitter
	sched  *queueScheduler
	runner *pipeline.Runner
}

func newRunWorld(t *testing.T, latency time.Duration, maxInFlight int) *runWorld {
	t.Helper()
	clk := clock.NewEvent(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: 300, Clock: clk,
		Faults: partoosim.Faults{Latency: latency, LatencyP99: latency * 5 / 2}})
	tr := &countingTransport{next: sim.Transport(), inFlight: map[string]int{}, requests: map[string]int{}}
	cl, err := partoo.New(partoo.Config{APIURL: "http://partoo-sim/v2", APIKey: secret.New("k"), RequestsPerMinute: 300,
		BudgetReserve: 0.1, Clock: clk, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	w := &runWorld{clock: clk, sim: sim, client: cl, tr: tr, idx: state.NewIndex(),
		com: &slowCommitter{clock: clk, latency: 10 * time.Millisecond}, sched: newQueueScheduler(clk)}
	step, err := pipeline.New(pipeline.Config{Partoo: cl, Index: func() *state.Index { return w.idx }, Committer: w.com,
		Scheduler: w.sched, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	w.runner, err = pipeline.NewRunner(pipeline.RunnerConfig{Step: step, Scheduler: w.sched, Budget: cl.Budget(), Clock: clk,
		Go: clk.Go, MaxInFlight: maxInFlight})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs the runner for d of simulated time, with also (the test's own actors) started at
// the same instant.
func (w *runWorld) run(t *testing.T, d time.Duration, also ...func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	w.clock.Start(append([]func(){func() { done <- w.runner.Run(ctx) }, func() {
		_ = clock.Sleep(ctx, w.clock, d)
		cancel()
		done <- nil
	}}, also...)...)
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func (w *runWorld) conversations(n, msgs int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = w.sim.CreateConversation(partoosim.ConversationSpec{}).ID
		for j := 0; j < msgs; j++ {
			_, _ = w.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[i]})
		}
	}
	return ids
}

// TestRunnerUsesTheWholeBudget: with a 1 s API latency one walk at a time would use a
// fraction of the budget (the sequential connector made 20 %); the runner keeps enough walks
// in flight to use ≥ 97 % of the target rate, with no 429, never more than MaxInFlight at
// once, and commits finished walks in batches.
func TestRunnerUsesTheWholeBudget(t *testing.T) {
	w := newRunWorld(t, time.Second, 16)
	for _, id := range w.conversations(400, 3) {
		w.sched.repeat = append(w.sched.repeat, schedule.Pick{ID: id, Reason: schedule.ReasonReconcile, Background: true})
	}
	w.run(t, time.Minute) // warm-up: the budget's burst and the latency estimate
	before := w.sim.Counters().Total
	w.run(t, 5*time.Minute)
	c := w.sim.Counters()
	perMinute := float64(c.Total-before) / 5
	t.Logf("%.1f requests/min (target 270), at most %d in flight, in-flight limit %d, %d transactions", perMinute, c.MaxConcurrent,
		w.runner.Limit(), len(w.com.calls))
	if perMinute < 0.97*270 {
		t.Errorf("%.1f requests/min, want ≥ 97 %% of 270", perMinute)
	}
	if c.Throttled != 0 {
		t.Errorf("%d 429s", c.Throttled)
	}
	if c.MaxConcurrent > 16 || c.MaxConcurrent < 4 {
		t.Errorf("%d requests in flight at most, want 4..16 (rate × latency ≈ 4.5)", c.MaxConcurrent)
	}
	batched := 0
	for _, call := range w.com.calls {
		if len(call) > 1 {
			batched++
		}
	}
	if batched == 0 {
		t.Error("no transaction carried more than one conversation")
	}
}

// TestRunnerNeverWalksAConversationTwiceAtOnce: picks of a conversation whose walk is in
// flight never start a second walk; once the walk is settled the conversation is walked again
// (it may have changed after the walk read it).
func TestRunnerNeverWalksAConversationTwiceAtOnce(t *testing.T) {
	w := newRunWorld(t, 300*time.Millisecond, 8)
	ids := w.conversations(3, 150) // two pages each: walks that last
	const picks = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	picker := func() { // a pick every 100 ms, in turn
		for i := 0; i < picks; i++ {
			w.sched.mu.Lock()
			w.sched.queue = append(w.sched.queue, schedule.Pick{ID: ids[i%3], Reason: schedule.ReasonDiscovery})
			w.sched.mu.Unlock()
			w.sched.wake.Signal()
			if clock.Sleep(ctx, w.clock, 100*time.Millisecond) != nil {
				return
			}
		}
	}
	w.run(t, time.Minute, picker)
	if w.tr.maxConv != 1 {
		t.Fatalf("%d requests at once for one conversation", w.tr.maxConv)
	}
	for _, id := range ids {
		n := len(w.sched.outcomes[id])
		t.Logf("conversation %d: %d picks, %d walks", id, picks/3, n)
		if n < 3 || n > picks/3 {
			t.Errorf("conversation %d walked %d times for %d picks", id, n, picks/3)
		}
		if st := w.idx.Get(id); st == nil || len(st.Messages) != 150 {
			t.Errorf("conversation %d not recorded", id)
		}
	}
}

// TestAbortedBatchIsWalkedAgain: when the transaction of a batch aborts, nothing of any walk
// in it is recorded, every conversation of the batch is told failed (the scheduler walks it
// again), and the next walks commit everything.
func TestAbortedBatchIsWalkedAgain(t *testing.T) {
	w := newRunWorld(t, 0, 8) // the reads end together: one batch
	ids := w.conversations(6, 2)
	w.com.fail = 1
	for _, id := range ids {
		w.sched.queue = append(w.sched.queue, schedule.Pick{ID: id, Reason: schedule.ReasonDiscovery})
	}
	w.run(t, 10*time.Second)
	if len(w.com.calls) < 2 || len(w.com.calls[0]) < 2 {
		t.Fatalf("transactions %d, first with %d conversations: want a batch that aborts", len(w.com.calls), len(w.com.calls[0]))
	}
	failed := map[int64]bool{}
	for _, ch := range w.com.calls[0] {
		failed[ch.ConversationID] = true
		o := w.sched.outcomes[ch.ConversationID]
		if len(o) == 0 || !o[0].Failed {
			t.Errorf("conversation %d of the aborted batch told %+v", ch.ConversationID, o)
		}
		if w.idx.Get(ch.ConversationID) != nil {
			t.Errorf("conversation %d recorded although its transaction aborted", ch.ConversationID)
		}
	}
	// The scheduler walks them again (the Smart scheduler does so after a delay).
	for id := range failed {
		w.sched.queue = append(w.sched.queue, schedule.Pick{ID: id, Reason: schedule.ReasonRetry})
	}
	w.run(t, 10*time.Second)
	for _, id := range ids {
		if st := w.idx.Get(id); st == nil || len(st.Messages) != 2 {
			t.Errorf("conversation %d not recorded after the retry", id)
		}
	}
	// Every message is committed once by the transactions that succeeded.
	events := map[int64]int{}
	for _, call := range w.com.calls[1:] {
		for _, ch := range call {
			events[ch.ConversationID] += len(ch.Events)
		}
	}
	for _, id := range ids {
		if events[id] != 2 {
			t.Errorf("conversation %d: %d events committed, want its 2 MessageCreated", id, events[id])
		}
	}
}

// TestBackgroundWalksLeaveRoomForFreshOnes: with the budget full of background work, a fresh
// pick still starts at once and its request goes first at the budget.
func TestBackgroundWalksLeaveRoomForFreshOnes(t *testing.T) {
	w := newRunWorld(t, 300*time.Millisecond, 16)
	ids := w.conversations(300, 1)
	for _, id := range ids[1:] {
		w.sched.repeat = append(w.sched.repeat, schedule.Pick{ID: id, Reason: schedule.ReasonReconcile, Background: true})
	}
	var asked time.Time
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fresh := func() { // after a minute of background work, a fresh change
		if clock.Sleep(ctx, w.clock, time.Minute) != nil {
			return
		}
		_, _ = w.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[0]})
		asked = w.clock.Now()
		w.sched.mu.Lock()
		w.sched.queue = append(w.sched.queue, schedule.Pick{ID: ids[0], Reason: schedule.ReasonHint})
		w.sched.mu.Unlock()
		w.sched.wake.Signal()
	}
	w.run(t, 70*time.Second, fresh)
	var took time.Duration = -1
	for _, at := range w.sched.walkedAt[ids[0]] {
		if at.After(asked) {
			took = at.Sub(asked)
			break
		}
	}
	t.Logf("fresh walk committed %v after the pick; %d walks in flight allowed for background work", took, w.runner.Limit())
	if took < 0 || took > time.Second {
		t.Fatalf("the fresh pick took %v, want ≤ 1 s (latency 300 ms, p99 750 ms; a token every 222 ms)", took)
	}
	if st := w.idx.Get(ids[0]); st == nil || len(st.Messages) != 2 {
		t.Fatalf("the fresh pick's change was not recorded")
	}
}
