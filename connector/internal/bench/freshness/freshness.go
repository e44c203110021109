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
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
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
		s.Budget = 300
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
		s.MaxInFlight = 16
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

// committer stands in for Kafka: a transaction takes its latency.
type committer struct {
	clock   clock.Clock
	latency time.Duration
}

func (c committer) Publish(ctx context.Context, _ []publish.Change) error {
	return clock.Sleep(ctx, c.clock, c.latency)
}

// recorder hears the committed events of every walk.
type recorder struct {
	clock      clock.Clock
	mu         sync.Mutex
	detections map[int64][]Detection
	tracked    func() int
	snapshotN  int       // conversations the snapshot must cover (Fresh)
	snapshot   time.Time // when it did
	end        time.Time // the end of the run (the final reconciliation does not count)
}

func (r *recorder) Walked(rep pipeline.Report) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range rep.Events {
		st := e.Status
		if e.Type == diff.MessageCreated {
			st = e.Message.Status
		}
		r.detections[e.MessageID] = append(r.detections[e.MessageID], Detection{Type: e.Type, Status: st, At: now})
	}
	if r.snapshotN > 0 && r.snapshot.IsZero() && now.Before(r.end) && r.tracked() >= r.snapshotN {
		r.snapshot = now
	}
}

func (r *recorder) Transaction(int, error) {}

// oracle walks exactly the conversation of each change, at the moment of the change.
type oracle struct {
	clock  clock.Clock
	wake   *clock.Wake
	mu     sync.Mutex
	queue  []int64
	queued map[int64]bool
}

func (o *oracle) changed(c partoosim.Change) {
	o.mu.Lock()
	if !o.queued[c.ConversationID] {
		o.queued[c.ConversationID] = true
		o.queue = append(o.queue, c.ConversationID)
	}
	o.mu.Unlock()
	o.wake.Signal()
}

func (o *oracle) Next(ctx context.Context, _ func(schedule.Pick) bool) (schedule.Pick, error) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			id := o.queue[0]
			o.queue = o.queue[1:]
			delete(o.queued, id)
			o.mu.Unlock()
			return schedule.Pick{ID: id, Reason: schedule.ReasonHint}, nil
		}
		o.mu.Unlock()
		if err := o.clock.Wait(ctx, time.Hour, o.wake); err != nil {
			return schedule.Pick{}, err
		}
	}
}

func (o *oracle) Walked(int64, *diff.State, schedule.Outcome) {}
func (o *oracle) Hint(int64) schedule.HintResult              { return schedule.HintIgnored }
func (o *oracle) Status() schedule.Status                     { return schedule.Status{} }

// picks counts the runner's picks.
type picks struct {
	mu    sync.Mutex
	n     map[schedule.Reason]int
	limit int
}

func (p *picks) Picked(r schedule.Reason) { p.mu.Lock(); p.n[r]++; p.mu.Unlock() }
func (p *picks) InFlight(_, limit int)    { p.mu.Lock(); p.limit = limit; p.mu.Unlock() }
func (p *picks) Batch(int)                {}

// Run runs one strategy on a fresh simulated organisation.
func Run(ctx context.Context, setup Setup, strategy string) (Result, error) {
	setup.defaults()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewEvent(start)
	sim := partoosim.New(partoosim.Config{APIKey: "bench", RequestsPerMinute: setup.Budget, Clock: clk, Order: setup.Order,
		Seed: setup.Seed, Faults: partoosim.Faults{Latency: setup.Latency, LatencyP99: setup.LatencyP99}})
	gen := partoosim.NewGenerator(sim, setup.Activity, setup.Seed)
	gen.Populate(setup.Conversations, setup.MessagesPerConv, 30*24*time.Hour)
	baseline := int64(len(sim.Changes(0)))

	client, err := partoo.New(partoo.Config{APIURL: "http://partoo-sim/v2", APIKey: secret.New("bench"),
		RequestsPerMinute: setup.Budget, BudgetReserve: setup.Reserve, Clock: clk,
		HTTPClient: &http.Client{Transport: sim.Transport()}})
	if err != nil {
		return Result{}, err
	}

	idx := state.NewIndex()
	if !setup.Fresh { // as if the connector had been running: every conversation tracked
		for _, id := range sim.ConversationIDs() {
			idx.Put(diff.Diff(nil, id, sim.Messages(id), diff.Complete, start, diff.Options{}).Next)
		}
	}

	var sched schedule.Scheduler
	switch strategy {
	case Naive:
		sched = schedule.NewSweep(schedule.SweepConfig{Partoo: client, Clock: clk, Known: idx.IDs})
	case Scheduler, Webhooks:
		smart := schedule.NewSmart(schedule.Config{Partoo: client, Clock: clk, Go: clk.Go, State: idx.Get, Known: idx.IDs})
		if strategy == Webhooks {
			sim.OnChange(func(c partoosim.Change) { smart.Hint(c.ConversationID) })
		}
		sched = smart
	case Oracle:
		o := &oracle{clock: clk, wake: clock.NewWake(), queued: map[int64]bool{}}
		sim.OnChange(o.changed)
		sched = o
	default:
		return Result{}, fmt.Errorf("unknown strategy %q", strategy)
	}
	rec := &recorder{clock: clk, detections: map[int64][]Detection{}, tracked: func() int { n, _ := idx.Len(); return n }}
	if setup.Fresh {
		rec.snapshotN = setup.Conversations
	}
	rec.end = start.Add(setup.Active + setup.Cooldown)
	step, err := pipeline.New(pipeline.Config{Partoo: client, Index: func() *state.Index { return idx },
		Committer: committer{clk, setup.CommitLatency}, Scheduler: sched, Clock: clk, Hooks: rec})
	if err != nil {
		return Result{}, err
	}
	pk := &picks{n: map[schedule.Reason]int{}}
	runner, err := pipeline.NewRunner(pipeline.RunnerConfig{Step: step, Scheduler: sched, Budget: client.Budget(),
		Clock: clk, Go: clk.Go, MaxInFlight: setup.MaxInFlight, Observe: pk})
	if err != nil {
		return Result{}, err
	}

	windowStart, windowEnd := start.Add(setup.Warmup), start.Add(setup.Active)
	end := windowEnd.Add(setup.Cooldown)
	var reqStart, reqEnd int64
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 3)
	// The three actors start at one instant (Start), whatever this goroutine's speed.
	clk.Start(func() { done <- runner.Run(rctx) }, func() { // the organisation's activity, at its own times
		for {
			next := gen.NextEvent()
			d := time.Second
			if !next.IsZero() {
				d = next.Sub(clk.Now())
			}
			if clock.Sleep(rctx, clk, d) != nil {
				done <- nil
				return
			}
			gen.Tick()
		}
	}, func() { // the measurement window, then the end
		_ = clock.Sleep(rctx, clk, windowStart.Sub(clk.Now()))
		reqStart = sim.Counters().Total
		_ = clock.Sleep(rctx, clk, windowEnd.Sub(clk.Now()))
		reqEnd = sim.Counters().Total
		_ = clock.Sleep(rctx, clk, end.Sub(clk.Now()))
		stop()
		done <- nil
	})
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			return Result{}, err
		}
	}

	// Final reconciliation: every conversation once more, with no activity.
	final := make(chan error, 1)
	clk.Go(func() {
		for _, id := range sim.ConversationIDs() {
			if err := step.Walk(ctx, id); err != nil {
				final <- err
				return
			}
		}
		final <- nil
	})
	if err := <-final; err != nil {
		return Result{}, err
	}

	window := windowEnd.Sub(windowStart)
	res := Result{Strategy: strategy, Setup: setup,
		Requests: reqEnd - reqStart, Throttled: sim.Counters().Throttled,
		Utilisation:     float64(reqEnd-reqStart) / window.Minutes() / setup.Rate(),
		SnapshotBound:   time.Duration(float64(setup.Conversations) / setup.Rate() * float64(time.Minute)),
		ReconcilePeriod: time.Duration(float64(len(sim.ConversationIDs())) / (0.2 * setup.Rate()) * float64(time.Minute))}
	res.Picks, res.InFlightLimit, res.Endpoints = pk.n, pk.limit, map[string]int64{}
	for ep, byStatus := range sim.Counters().ByEndpoint {
		for _, n := range byStatus {
			res.Endpoints[ep] += n
		}
	}
	if !rec.snapshot.IsZero() {
		res.Snapshot = rec.snapshot.Sub(start)
	}
	var snapshotAt time.Time
	if setup.Fresh {
		snapshotAt = rec.snapshot
		if snapshotAt.IsZero() {
			snapshotAt = end
		}
	}
	res.Score = NewScore(sim.Changes(baseline), rec.detections, windowStart, windowEnd, func(c partoosim.Change, lag time.Duration) {
		if c.Type == partoosim.ChangeCreated && c.Time.Before(snapshotAt) {
			res.LiveDuringSnapshot = append(res.LiveDuringSnapshot, lag)
		}
	})
	sort.Slice(res.LiveDuringSnapshot, func(i, j int) bool { return res.LiveDuringSnapshot[i] < res.LiveDuringSnapshot[j] })
	return res, nil
}

// Score is how the detections of a run compare with the ground truth.
type Score struct {
	Lags      map[diff.EventType][]time.Duration // per detected change, sorted
	Changes   int                                // ground-truth changes in the window
	Detected  int
	Coalesced int // superseded before any walk could see them (unobservable by polling)
	Missed    int // neither detected nor coalesced: must be 0
}

// Detection is an event as committed: its type, the status it carries (the message's, for a
// MessageCreated), and when its transaction committed.
type Detection struct {
	Type   diff.EventType
	Status model.Status
	At     time.Time
}

// NewScore matches the simulator's ground-truth changes in [from, to) (of messages with a
// documented sender_type) with the detections, by message id: a change is detected by the
// first event of its type (and status) committed after it, before the message's next status
// change. onDetected, if set, hears each detected change and its lag.
func NewScore(changes []partoosim.Change, detections map[int64][]Detection, from, to time.Time,
	onDetected func(partoosim.Change, time.Duration)) Score {
	sc := Score{Lags: map[diff.EventType][]time.Duration{}}
	// Per message, the times of its status changes, to tell coalesced ones.
	statusTimes := map[int64][]time.Time{}
	for _, c := range changes {
		if c.Type == partoosim.ChangeStatusChanged {
			statusTimes[c.MessageID] = append(statusTimes[c.MessageID], c.Time)
		}
	}
	for _, c := range changes {
		if c.Time.Before(from) || !c.Time.Before(to) || !c.SenderType.Known() || c.Type == partoosim.ChangeVanished {
			continue
		}
		sc.Changes++
		var typ diff.EventType
		switch c.Type {
		case partoosim.ChangeCreated:
			typ = diff.MessageCreated
		case partoosim.ChangeStatusChanged:
			typ = diff.StatusChanged
		case partoosim.ChangeDeleted:
			typ = diff.MessageDeleted
		}
		// The change is superseded at the message's next status change (if any).
		var superseded time.Time
		if typ == diff.StatusChanged {
			for _, t := range statusTimes[c.MessageID] {
				if t.After(c.Time) {
					superseded = t
					break
				}
			}
		}
		found := false
		for _, d := range detections[c.MessageID] {
			if d.Type != typ || d.At.Before(c.Time) {
				continue
			}
			if typ == diff.StatusChanged && (d.Status != c.Status || (!superseded.IsZero() && !d.At.Before(superseded))) {
				continue
			}
			sc.Lags[typ] = append(sc.Lags[typ], d.At.Sub(c.Time))
			if onDetected != nil {
				onDetected(c, d.At.Sub(c.Time))
			}
			found = true
			break
		}
		ds := detections[c.MessageID]
		switch {
		case found:
			sc.Detected++
		case typ == diff.StatusChanged && !superseded.IsZero():
			sc.Coalesced++
		case typ == diff.StatusChanged && firstSeenAfter(ds, c.Time):
			sc.Coalesced++ // the message was first seen already in this status
		case typ == diff.StatusChanged && seenBefore(ds, c.Time) == c.Status:
			sc.Coalesced++ // it came back to the status last seen (A → B → A between two walks)
		default:
			sc.Missed++
		}
	}
	for _, l := range sc.Lags {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return sc
}

// Percentile returns the p-th percentile (0..1) of a type's lags, or of all with t == 0.
func (sc Score) Percentile(t diff.EventType, p float64) time.Duration {
	var xs []time.Duration
	if t == 0 {
		for _, l := range sc.Lags {
			xs = append(xs, l...)
		}
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	} else {
		xs = sc.Lags[t]
	}
	return Percentile(xs, p)
}

// Percentile returns the p-th percentile (0..1) of sorted durations, or -1 if there are none.
func Percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return -1
	}
	return xs[int(p*float64(len(xs)-1))]
}

// seenBefore returns the message's last observed status before t.
func seenBefore(ds []Detection, t time.Time) model.Status {
	var st model.Status
	for _, d := range ds {
		if d.At.Before(t) && d.Type != diff.MessageDeleted {
			st = d.Status
		}
	}
	return st
}

// firstSeenAfter: the message's MessageCreated was emitted after t.
func firstSeenAfter(ds []Detection, t time.Time) bool {
	for _, d := range ds {
		if d.Type == diff.MessageCreated {
			return !d.At.Before(t)
		}
	}
	return false
}
