// Package freshness measures how fast a scheduling strategy turns Partoo changes into events
// under the 300 requests/minute budget, with a realistic API latency. It runs the shipped
// pipeline — a scheduler (connector/internal/schedule) and the concurrent runner of the walk step
// (connector/internal/pipeline: walkers in flight, the real Partoo client with its budget, retries and
// decoding, the diff, the Avro encoding, group commit) — against the simulator answering with
// log-normal latency, in simulated time: clock.Event runs the goroutines one at a time and
// jumps from one wake-up to the next, so hours of activity take seconds, whatever the load.
// Kafka is replaced by a committer that takes CommitLatency per transaction: an event counts
// as detected when its transaction commits.
package freshness

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// Strategy names.
const (
	Naive     = "naive sweep"
	Scheduler = "scheduler"
	Webhooks  = "scheduler + webhooks"
	Oracle    = "oracle (1 walk per change)"
)

// Setup describes one run.
type Setup struct {
	Conversations   int                // organisation size [10,000]
	MessagesPerConv int                // average history [20]
	Activity        partoosim.Activity // live activity [1 message/s, transitions 1–30 s, rare deletions]; MessagesPerSecond < 0: none
	Budget          int                // requests per minute [300]
	Reserve         float64            // budget reserve [0.1, the shipped default; negative: none]
	Latency         time.Duration      // median API latency [0]
	LatencyP99      time.Duration      // 99th percentile [2.5 × Latency]
	CommitLatency   time.Duration      // one Kafka transaction [10 ms]
	MaxInFlight     int                // walks in flight at most [16, the shipped default]
	Fresh           bool               // the state starts empty: the first snapshot runs first
	Warmup          time.Duration      // changes before this are not measured [5 min; 0 with Fresh]
	Active          time.Duration      // changes measured in [Warmup, Active] [60 min]
	Cooldown        time.Duration      // the strategy keeps running this long after [60 min]
	Order           partoosim.Order    // listing order [recent]
	Seed            uint64
}

func (s *Setup) defaults() {
	if s.Conversations == 0 {
		s.Conversations = 10_000
	}
	if s.MessagesPerConv == 0 {
		s.MessagesPerConv = 20
	}
	if s.Activity.MessagesPerSecond == 0 {
		s.Activity.MessagesPerSecond = 1
	}
	if s.Activity.MessagesPerSecond < 0 {
		s.Activity.MessagesPerSecond = 1e-9 // none, in effect
	}
	if s.Activity.DeleteRatio == 0 {
		s.Activity.DeleteRatio = 0.02
	}
	if s.Budget == 0 {
		s.Budget = budget.DefaultRequestsPerMinute
	}
	if s.Reserve == 0 {
		s.Reserve = 0.1
	}
	if s.Reserve < 0 {
		s.Reserve = 0
	}
	if s.LatencyP99 == 0 {
		s.LatencyP99 = s.Latency * 5 / 2
	}
	if s.CommitLatency == 0 {
		s.CommitLatency = 10 * time.Millisecond
	}
	if s.MaxInFlight == 0 {
		s.MaxInFlight = pipeline.DefaultMaxInFlight
	}
	if s.Warmup == 0 && !s.Fresh {
		s.Warmup = 5 * time.Minute
	}
	if s.Active == 0 {
		s.Active = time.Hour
	}
	if s.Cooldown == 0 {
		s.Cooldown = time.Hour
	}
	if s.Order == "" {
		s.Order = partoosim.OrderRecent
	}
}

// Rate is the budget's target rate per minute (after the reserve).
func (s Setup) Rate() float64 { return float64(s.Budget) * (1 - s.Reserve) }

// Result of one run.
type Result struct {
	Strategy  string
	Setup     Setup
	Score           // of the changes in the window, after a final reconciliation
	Requests  int64 // API requests during the window
	Throttled int64 // 429s over the whole run: must be 0
	// Utilisation is the window's requests per minute over the budget's target rate.
	Utilisation float64
	// Snapshot is how long the first snapshot took (Fresh: until every conversation of the
	// organisation was tracked; 0 if it did not end), and SnapshotBound its floor:
	// conversations ÷ rate.
	Snapshot, SnapshotBound time.Duration
	// LiveDuringSnapshot are the lags of the MessageCreated that happened while the snapshot
	// ran (Fresh), sorted.
	LiveDuringSnapshot []time.Duration
	// Picks counts the walks by the scheduler's reason, Endpoints the requests by endpoint,
	// over the whole run; InFlightLimit is the runner's limit at the end.
	Picks         map[schedule.Reason]int
	Endpoints     map[string]int64
	InFlightLimit int
	// ReconcilePeriod is the longest a reconciliation pass may take at saturation:
	// conversations (at the end) ÷ (reconcile share × rate).
	ReconcilePeriod time.Duration
}

// Run runs one strategy on a fresh simulated organisation.
func Run(ctx context.Context, setup Setup, strategy string) (Result, error) {
	setup.defaults()
	r, err := newRun(setup)
	if err != nil {
		return Result{}, err
	}
	sched, err := r.scheduler(strategy)
	if err != nil {
		return Result{}, err
	}
	rec := &recorder{clock: r.clk, detections: map[int64][]Detection{}, tracked: func() int { n, _ := r.idx.Len(); return n }}
	if setup.Fresh {
		rec.snapshotN = setup.Conversations
	}
	rec.end = r.start.Add(setup.Active + setup.Cooldown)
	step, err := pipeline.New(pipeline.Config{Partoo: r.client, Index: func() *state.Index { return r.idx },
		Committer: committer{r.clk, setup.CommitLatency}, Scheduler: sched, Clock: r.clk, Hooks: []pipeline.Hook{rec}})
	if err != nil {
		return Result{}, err
	}
	pk := &picks{n: map[schedule.Reason]int{}}
	runner, err := pipeline.NewRunner(pipeline.RunnerConfig{Step: step, Scheduler: sched, Budget: r.client.Budget(),
		Clock: r.clk, Go: r.clk.Go, MaxInFlight: setup.MaxInFlight, Hooks: []pipeline.Hook{pk}})
	if err != nil {
		return Result{}, err
	}
	requests, err := r.drive(ctx, runner)
	if err != nil {
		return Result{}, err
	}
	if err := r.reconcile(ctx, step); err != nil {
		return Result{}, err
	}
	return r.result(strategy, requests, rec, pk), nil
}

// run is one run's simulated organisation, API client and state.
type run struct {
	setup                         Setup
	start, windowStart, windowEnd time.Time
	end                           time.Time
	clk                           *clock.Event
	sim                           *partoosim.Sim
	gen                           *partoosim.Generator
	baseline                      int64 // the changes of the history, before the run
	client                        *partoo.Client
	idx                           *state.Index
}

// newRun populates the simulated organisation and, unless setup.Fresh, tracks every
// conversation as if the connector had been running.
func newRun(setup Setup) (*run, error) {
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	r := &run{setup: setup, start: start, windowStart: start.Add(setup.Warmup), windowEnd: start.Add(setup.Active), clk: clock.NewEvent(start)}
	r.end = r.windowEnd.Add(setup.Cooldown)
	r.sim = partoosim.New(partoosim.Config{APIKey: "bench", RequestsPerMinute: setup.Budget, Clock: r.clk, Order: setup.Order,
		Seed: setup.Seed, Faults: partoosim.Faults{Latency: setup.Latency, LatencyP99: setup.LatencyP99}})
	r.gen = partoosim.NewGenerator(r.sim, setup.Activity, setup.Seed)
	r.gen.Populate(setup.Conversations, setup.MessagesPerConv, 30*24*time.Hour)
	r.baseline = int64(len(r.sim.Changes(0)))
	client, err := partoo.New(partoo.Config{APIURL: "http://partoo-sim/v2", APIKey: secret.New("bench"),
		RequestsPerMinute: setup.Budget, BudgetReserve: setup.Reserve, Clock: r.clk,
		HTTPClient: &http.Client{Transport: r.sim.Transport()}})
	if err != nil {
		return nil, err
	}
	r.client = client
	r.idx = state.NewIndex()
	if !setup.Fresh {
		for _, id := range r.sim.ConversationIDs() {
			r.idx.Put(diff.Diff(nil, id, r.sim.Messages(id), diff.Complete, start, diff.Options{}).Next)
		}
	}
	return r, nil
}

// scheduler returns the strategy's scheduler.
func (r *run) scheduler(strategy string) (schedule.Scheduler, error) {
	switch strategy {
	case Naive:
		return schedule.NewSweep(schedule.SweepConfig{Partoo: r.client, Clock: r.clk, Known: r.idx.IDs}), nil
	case Scheduler, Webhooks:
		smart := schedule.NewSmart(schedule.Config{Partoo: r.client, Clock: r.clk, Go: r.clk.Go, State: r.idx.Get, Known: r.idx.IDs})
		if strategy == Webhooks {
			r.sim.OnChange(func(c partoosim.Change) { smart.Hint(c.ConversationID) })
		}
		return smart, nil
	case Oracle:
		o := &oracle{clock: r.clk, wake: clock.NewWake(), queued: map[int64]bool{}}
		r.sim.OnChange(o.changed)
		return o, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", strategy)
}

// drive runs the runner, the organisation's activity and the measurement window until the
// end, and returns the API requests made in the window.
func (r *run) drive(ctx context.Context, runner *pipeline.Runner) (int64, error) {
	var reqStart, reqEnd int64
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 3)
	// The three actors start at one instant (Start), whatever this goroutine's speed.
	r.clk.Start(func() { done <- runner.Run(rctx) }, func() { // the organisation's activity, at its own times
		for {
			next := r.gen.NextEvent()
			d := time.Second
			if !next.IsZero() {
				d = next.Sub(r.clk.Now())
			}
			if clock.Sleep(rctx, r.clk, d) != nil {
				done <- nil
				return
			}
			r.gen.Tick()
		}
	}, func() { // the measurement window, then the end
		_ = clock.Sleep(rctx, r.clk, r.windowStart.Sub(r.clk.Now()))
		reqStart = r.sim.Counters().Total
		_ = clock.Sleep(rctx, r.clk, r.windowEnd.Sub(r.clk.Now()))
		reqEnd = r.sim.Counters().Total
		_ = clock.Sleep(rctx, r.clk, r.end.Sub(r.clk.Now()))
		stop()
		done <- nil
	})
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			return 0, err
		}
	}
	return reqEnd - reqStart, nil
}

// reconcile walks every conversation once more, with no activity: the final reconciliation.
func (r *run) reconcile(ctx context.Context, step *pipeline.Step) error {
	final := make(chan error, 1)
	r.clk.Go(func() {
		for _, id := range r.sim.ConversationIDs() {
			if err := step.Walk(ctx, id); err != nil {
				final <- err
				return
			}
		}
		final <- nil
	})
	return <-final
}

// result scores the run.
func (r *run) result(strategy string, requests int64, rec *recorder, pk *picks) Result {
	setup := r.setup
	window := r.windowEnd.Sub(r.windowStart)
	res := Result{Strategy: strategy, Setup: setup,
		Requests: requests, Throttled: r.sim.Counters().Throttled,
		Utilisation:     float64(requests) / window.Minutes() / setup.Rate(),
		SnapshotBound:   time.Duration(float64(setup.Conversations) / setup.Rate() * float64(time.Minute)),
		ReconcilePeriod: time.Duration(float64(len(r.sim.ConversationIDs())) / (0.2 * setup.Rate()) * float64(time.Minute))}
	res.Picks, res.InFlightLimit, res.Endpoints = pk.n, pk.limit, map[string]int64{}
	for ep, byStatus := range r.sim.Counters().ByEndpoint {
		for _, n := range byStatus {
			res.Endpoints[ep] += n
		}
	}
	if !rec.snapshot.IsZero() {
		res.Snapshot = rec.snapshot.Sub(r.start)
	}
	var snapshotAt time.Time
	if setup.Fresh {
		snapshotAt = rec.snapshot
		if snapshotAt.IsZero() {
			snapshotAt = r.end
		}
	}
	res.Score = NewScore(r.sim.Changes(r.baseline), rec.detections, r.windowStart, r.windowEnd, func(c partoosim.Change, lag time.Duration) {
		if c.Type == partoosim.ChangeCreated && c.Time.Before(snapshotAt) {
			res.LiveDuringSnapshot = append(res.LiveDuringSnapshot, lag)
		}
	})
	sort.Slice(res.LiveDuringSnapshot, func(i, j int) bool { return res.LiveDuringSnapshot[i] < res.LiveDuringSnapshot[j] })
	return res
}
