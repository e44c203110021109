// Package freshness measures how fast a scheduling strategy turns Partoo changes into events
// under the 300 requests/minute budget. It runs the shipped pipeline — a scheduler
// (connector/schedule), the walk step (connector/pipeline: the real Partoo client with its
// budget, retries and decoding, the diff, the Avro encoding) — against the simulator, in
// simulated time: a virtual clock that jumps from one simulator event to the next, so hours of
// activity take seconds. Kafka is replaced by a committer that commits at once: an event counts
// as detected when its (instant) commit ends (a real transaction adds ~10 ms).
package freshness

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/clock"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/publish"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
	"github.com/partoo-connector/partoo-connector/connector/secret"
	"github.com/partoo-connector/partoo-connector/connector/state"
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
	Activity        partoosim.Activity // live activity [1 message/s, transitions 1–30 s, rare deletions]
	Budget          int                // requests per minute [300]
	Warmup          time.Duration      // changes before this are not measured [5 min]
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
	if s.Activity.DeleteRatio == 0 {
		s.Activity.DeleteRatio = 0.02
	}
	if s.Budget == 0 {
		s.Budget = 300
	}
	if s.Warmup == 0 {
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

// Result of one run.
type Result struct {
	Strategy  string
	Order     partoosim.Order
	Lags      map[diff.EventType][]time.Duration // per detected change, sorted
	Changes   int                                // ground-truth changes in the window
	Detected  int
	Coalesced int   // superseded before any walk could see them (unobservable by polling)
	Missed    int   // neither detected nor coalesced after the final reconciliation: must be 0
	Requests  int64 // API requests during the window
	Throttled int64 // 429s over the whole run: must be 0
}

// RequestsPerChange is the window's requests per detected change.
func (r Result) RequestsPerChange() float64 {
	if r.Detected == 0 {
		return 0
	}
	return float64(r.Requests) / float64(r.Detected)
}

// Percentile returns the p-th percentile (0..1) of a type's lags, or of all with t == 0.
func (r Result) Percentile(t diff.EventType, p float64) time.Duration {
	var xs []time.Duration
	if t == 0 {
		for _, l := range r.Lags {
			xs = append(xs, l...)
		}
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	} else {
		xs = r.Lags[t]
	}
	if len(xs) == 0 {
		return -1
	}
	i := int(p * float64(len(xs)-1))
	return xs[i]
}

// simClock is virtual time for one goroutine: Wait jumps to each generator event on the way,
// so the simulator's changes happen at their own times, and returns early when a change
// signalled its wake (a webhook hint, the oracle's queue).
type simClock struct {
	mu  sync.Mutex
	now time.Time
	gen *partoosim.Generator
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

func (c *simClock) Wait(ctx context.Context, d time.Duration, wake *clock.Wake) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wake.Signaled() {
		return nil
	}
	target := c.Now().Add(d)
	for c.gen != nil {
		next := c.gen.NextEvent()
		if next.IsZero() || next.After(target) {
			break
		}
		c.set(next)
		c.gen.Tick()
		if wake.Signaled() {
			return nil
		}
	}
	c.set(target)
	if c.gen != nil {
		c.gen.Tick()
	}
	return nil
}

// instant commits at once: the harness measures detection, not Kafka.
type instant struct{}

func (instant) Publish(context.Context, []publish.Change) error { return nil }

// recorder hears the committed events of every walk.
type recorder struct {
	clock      *simClock
	detections map[int64][]detection
}

func (r *recorder) Walked(rep pipeline.Report) {
	now := r.clock.Now()
	for _, e := range rep.Events {
		st := e.Status
		if e.Type == diff.MessageCreated {
			st = e.Message.Status
		}
		r.detections[e.MessageID] = append(r.detections[e.MessageID], detection{typ: e.Type, status: st, at: now})
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

func (o *oracle) Next(ctx context.Context) (int64, error) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			id := o.queue[0]
			o.queue = o.queue[1:]
			delete(o.queued, id)
			o.mu.Unlock()
			return id, nil
		}
		o.mu.Unlock()
		if err := o.clock.Wait(ctx, time.Hour, o.wake); err != nil {
			return 0, err
		}
	}
}

func (o *oracle) Walked(int64, *diff.State, schedule.Outcome) {}
func (o *oracle) Hint(int64) schedule.HintResult              { return schedule.HintIgnored }
func (o *oracle) Status() schedule.Status                     { return schedule.Status{} }

type detection struct {
	typ    diff.EventType
	status partoo.Status
	at     time.Time
}

// Run runs one strategy on a fresh simulated organisation.
func Run(ctx context.Context, setup Setup, strategy string) (Result, error) {
	setup.defaults()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	clk := &simClock{now: start}
	sim := partoosim.New(partoosim.Config{APIKey: "bench", RequestsPerMinute: setup.Budget, Clock: clk, Order: setup.Order, Seed: setup.Seed})
	gen := partoosim.NewGenerator(sim, setup.Activity, setup.Seed)
	gen.Populate(setup.Conversations, setup.MessagesPerConv, 30*24*time.Hour)
	baseline := int64(len(sim.Changes(0)))
	gen.Tick()
	clk.gen = gen

	client, err := partoo.New(partoo.Config{APIURL: "http://partoo-sim/v2", APIKey: secret.New("bench"),
		RequestsPerMinute: setup.Budget, Clock: clk, HTTPClient: &http.Client{Transport: sim.Transport()}})
	if err != nil {
		return Result{}, err
	}

	// The connector's state, as if it had been running: every conversation tracked.
	idx := state.NewIndex()
	for _, id := range sim.ConversationIDs() {
		idx.Put(diff.Diff(nil, id, sim.Messages(id), diff.Complete, start, diff.Options{}).Next)
	}

	var sched schedule.Scheduler
	switch strategy {
	case Naive:
		sched = schedule.NewSweep(schedule.SweepConfig{Partoo: client, Clock: clk, Known: idx.IDs})
	case Scheduler, Webhooks:
		smart := schedule.NewSmart(schedule.Config{Partoo: client, Clock: clk, State: idx.Get, Known: idx.IDs})
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
	rec := &recorder{clock: clk, detections: map[int64][]detection{}}
	step, err := pipeline.New(pipeline.Config{Partoo: client, Index: func() *state.Index { return idx }, Committer: instant{},
		Scheduler: sched, Clock: clk, Hooks: rec})
	if err != nil {
		return Result{}, err
	}
	walk := func(id int64) error { return step.Walk(ctx, id) }
	detections := rec.detections

	windowStart, windowEnd := start.Add(setup.Warmup), start.Add(setup.Active)
	end := windowEnd.Add(setup.Cooldown)
	var reqStart, reqEnd int64 = -1, -1
	for clk.Now().Before(end) {
		now := clk.Now()
		if reqStart < 0 && !now.Before(windowStart) {
			reqStart = sim.Counters().Total
		}
		if reqEnd < 0 && !now.Before(windowEnd) {
			reqEnd = sim.Counters().Total
		}
		id, err := sched.Next(ctx)
		if err != nil {
			return Result{}, err
		}
		if err := walk(id); err != nil {
			return Result{}, err
		}
	}
	if reqEnd < 0 {
		reqEnd = sim.Counters().Total
	}
	// Final reconciliation: every conversation once more, no activity.
	clk.gen = nil
	for _, id := range sim.ConversationIDs() {
		if err := walk(id); err != nil {
			return Result{}, err
		}
	}

	res := Result{Strategy: strategy, Order: setup.Order, Lags: map[diff.EventType][]time.Duration{},
		Requests: reqEnd - reqStart, Throttled: sim.Counters().Throttled}
	changes := sim.Changes(baseline)
	// Per message, the times of its status changes, to tell coalesced ones.
	statusTimes := map[int64][]time.Time{}
	for _, c := range changes {
		if c.Type == partoosim.ChangeStatusChanged {
			statusTimes[c.MessageID] = append(statusTimes[c.MessageID], c.Time)
		}
	}
	for _, c := range changes {
		if c.Time.Before(windowStart) || !c.Time.Before(windowEnd) || !c.SenderType.Known() || c.Type == partoosim.ChangeVanished {
			continue
		}
		res.Changes++
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
			if d.typ != typ || d.at.Before(c.Time) {
				continue
			}
			if typ == diff.StatusChanged && (d.status != c.Status || (!superseded.IsZero() && !d.at.Before(superseded))) {
				continue
			}
			res.Lags[typ] = append(res.Lags[typ], d.at.Sub(c.Time))
			found = true
			break
		}
		switch {
		case found:
			res.Detected++
		case typ == diff.StatusChanged && !superseded.IsZero():
			res.Coalesced++
		case typ == diff.StatusChanged && firstSeenAfter(detections[c.MessageID], c.Time):
			res.Coalesced++ // the message was first seen already in this status
		case typ == diff.StatusChanged && seenBefore(detections[c.MessageID], c.Time) == c.Status:
			res.Coalesced++ // it came back to the status last seen (A → B → A between two walks)
		default:
			res.Missed++
		}
	}
	for _, l := range res.Lags {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return res, nil
}

// seenBefore returns the message's last observed status before t.
func seenBefore(ds []detection, t time.Time) partoo.Status {
	var st partoo.Status
	for _, d := range ds {
		if d.at.Before(t) && d.typ != diff.MessageDeleted {
			st = d.status
		}
	}
	return st
}

// firstSeenAfter: the message's MessageCreated was emitted after t.
func firstSeenAfter(ds []detection, t time.Time) bool {
	for _, d := range ds {
		if d.typ == diff.MessageCreated {
			return !d.at.Before(t)
		}
	}
	return false
}
