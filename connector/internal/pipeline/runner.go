package pipeline

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Step      *Step              // required
	Scheduler schedule.Scheduler // required: the Step's
	Budget    *budget.Budget     // required: the rate and latency the in-flight limit follows
	Clock     clock.Clock        // [the wall clock]
	// Go starts the runner's goroutines [go f()]. Simulations pass clock.Event's Go.
	Go func(f func())
	// MaxInFlight caps the walks in flight [16]. Background walks (reconciliation) and webhook
	// hints are each held to Limit, about as many as the budget can use — Little's law: in
	// flight ≈ rate × latency, from the observed latency — so that a slow API does not leave
	// the budget unspent, yet neither fills the budget's queue; discovery and the other fresh
	// work may use every slot up to MaxInFlight, and their requests go first at the budget.
	MaxInFlight int
	// Linger is how long the committer waits for more finished walks before it commits a
	// batch [20 ms]; MaxBatch caps a batch's conversations [100].
	Linger   time.Duration
	MaxBatch int
	// BeforeCommit, if set, runs on the committer's goroutine before each batch; an error
	// stops the runner. The service settles Kafka there (a lost topic, an uncertain commit).
	BeforeCommit func(ctx context.Context) error
	// BeforePick, if set, runs on the dispatcher before it asks the scheduler for the next
	// conversation, and may block: the service holds the walks there while Kafka does not
	// answer. An error (its context ending) stops the dispatching.
	BeforePick func(ctx context.Context) error
	// Hooks hear each pick, the walks in flight with the limit, and each batch's size
	// (HookPicked, HookInFlight, HookBatch).
	Hooks []Hook
}

// Runner runs the pipeline concurrently: one dispatcher (the goroutine that calls Run) asks
// the scheduler for conversations and starts a walker for each (Step.Read), never two for one
// conversation; one committer gathers the finished walks and commits them in batches
// (Step.Commit: one transaction for several conversations, then their states recorded). A
// conversation picked while its walk is in flight is walked again once that walk is settled.
// Every wait goes through the clock, so the same code runs in simulated time.
type Runner struct {
	cfg RunnerConfig

	mu       sync.Mutex
	inflight map[int64]flight        // walks in flight
	again    map[int64]schedule.Pick // picked while in flight: walk again once settled
	redo     []schedule.Pick
	ready    []*Prepared // finished walks waiting for the committer
	active   int
	bounded  [2]int // walks in flight of the kinds held to Limit: background, hints
	fatal    error

	dispatchWake *clock.Wake
	commitWake   *clock.Wake
}

// DefaultMaxInFlight is RunnerConfig.MaxInFlight's default, and PARTOO_MAX_IN_FLIGHT's.
const DefaultMaxInFlight = 16

// NewRunner validates cfg and returns a Runner.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Step == nil || cfg.Scheduler == nil || cfg.Budget == nil {
		return nil, errors.New("pipeline: Step, Scheduler and Budget are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Go == nil {
		cfg.Go = func(f func()) { go f() }
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 20 * time.Millisecond
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 100
	}
	return &Runner{cfg: cfg, inflight: map[int64]flight{}, again: map[int64]schedule.Pick{},
		dispatchWake: clock.NewWake(), commitWake: clock.NewWake()}, nil
}

// Limit is the number of walks to keep in flight now: enough requests in flight to use the
// budget's rate at the observed latency (with headroom for budget waits and multi-page
// walks), at least 2, at most MaxInFlight.
func (r *Runner) Limit() int {
	perSecond := r.cfg.Budget.RatePerMinute() / 60
	latency := r.cfg.Budget.Latency().Seconds()
	n := int(math.Ceil(perSecond*(latency+0.25)*1.5)) + 1
	return min(max(n, 2), r.cfg.MaxInFlight)
}

// Run dispatches and commits until ctx ends (nil) or a walk or commit fails in a way that
// must stop the connector (that error). Walks in flight when it stops are abandoned before
// their commit: nothing of them is recorded, and a restart redoes them.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var running atomic.Int64 // goroutines started; polled, not waited on, so a simulated clock can run them
	running.Add(1)
	r.cfg.Go(func() {
		defer running.Add(-1)
		r.commitLoop(ctx, cancel)
	})
	err := r.dispatchLoop(ctx, cancel, &running)
	cancel()
	for running.Load() > 0 {
		_ = clock.Sleep(context.Background(), r.cfg.Clock, time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	return err
}

func (r *Runner) stop(cancel context.CancelFunc, err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
	cancel()
}

// flight is a walk in flight: its pick, and its place at the budget.
type flight struct {
	pick   schedule.Pick
	ticket *budget.Ticket
	// read: the walk has read its conversation and waits for the committer; it no longer
	// counts against Limit (it spends no request), so a slow commit does not starve the reads
	// — the committer's next batch is simply larger.
	read bool
}

// boundedKind says whether a pick is of a kind held to Limit walks in flight, and which:
// background work (0), which would otherwise fill the budget's queue with requests that wait
// for everything else; webhook hints (1), which anyone holding the secret can send in any
// number. The slots above are kept for discovery and the other fresh work.
func boundedKind(p schedule.Pick) (int, bool) {
	switch {
	case p.Background:
		return 0, true
	case p.Reason == schedule.ReasonHint:
		return 1, true
	}
	return 0, false
}

// room reports whether a walk for p may start now (the scheduler asks before it picks).
func (r *Runner) room(p schedule.Pick) bool {
	k, bounded := boundedKind(p)
	if !bounded {
		return true
	}
	r.mu.Lock()
	n := r.bounded[k]
	r.mu.Unlock()
	return n < r.Limit()
}

func (r *Runner) dispatchLoop(ctx context.Context, cancel context.CancelFunc, running *atomic.Int64) error {
	for {
		// A free slot first.
		for {
			if ctx.Err() != nil {
				return nil
			}
			r.mu.Lock()
			active := r.active
			r.mu.Unlock()
			hooks(r.cfg.Hooks).inFlight(active, r.Limit())
			if active < r.cfg.MaxInFlight {
				break
			}
			if err := r.cfg.Clock.Wait(ctx, time.Second, r.dispatchWake); err != nil {
				return nil
			}
		}
		if r.cfg.BeforePick != nil {
			if err := r.cfg.BeforePick(ctx); err != nil {
				return nil
			}
		}
		pick, ok := r.takeRedo()
		if !ok {
			var err error
			pick, err = r.cfg.Scheduler.Next(ctx, r.room)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err // a rejected key
			}
		}
		hooks(r.cfg.Hooks).picked(pick.Reason)
		r.mu.Lock()
		if w, ok := r.inflight[pick.ID]; ok {
			r.pickedInFlight(pick, w.ticket)
			r.mu.Unlock()
			continue
		}
		t := budget.NewTicket(pick.Priority())
		r.inflight[pick.ID] = flight{pick: pick, ticket: t}
		r.active++
		if k, ok := boundedKind(pick); ok {
			r.bounded[k]++
		}
		r.mu.Unlock()
		running.Add(1)
		r.cfg.Go(func() {
			defer running.Add(-1)
			r.walk(ctx, cancel, pick, t)
		})
	}
}

// pickedInFlight handles a pick of a conversation whose walk t is in flight. The walk takes
// the pick's priority if that is more urgent (it may be a background walk still waiting at
// the budget). If the walk has not read anything yet, it will read after whatever made the
// scheduler pick the conversation: nothing more to do. Otherwise the conversation is walked
// again once this walk is settled. Call with mu held.
func (r *Runner) pickedInFlight(pick schedule.Pick, t *budget.Ticket) {
	t.Raise(pick.Priority())
	if !t.Started() {
		return
	}
	if cur, seen := r.again[pick.ID]; !seen || pick.Priority() < cur.Priority() {
		r.again[pick.ID] = pick
	}
}

func (r *Runner) takeRedo() (schedule.Pick, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.redo) == 0 {
		return schedule.Pick{}, false
	}
	p := r.redo[0]
	r.redo = r.redo[1:]
	return p, true
}

// walk reads one conversation, its requests waiting at the budget with t, and hands it to the
// committer.
func (r *Runner) walk(ctx context.Context, cancel context.CancelFunc, pick schedule.Pick, t *budget.Ticket) {
	p, err := r.cfg.Step.Read(ctx, pick.ID, t)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.stop(cancel, err)
		}
		r.settled(pick.ID, true)
	case p == nil: // skipped (404, 403): settled already
		r.settled(pick.ID, true)
	default:
		r.mu.Lock()
		r.ready = append(r.ready, p)
		if f, ok := r.inflight[pick.ID]; ok && !f.read {
			if k, bounded := boundedKind(f.pick); bounded {
				r.bounded[k]--
			}
			f.read = true
			r.inflight[pick.ID] = f
		}
		r.mu.Unlock()
		r.commitWake.Signal()
		r.dispatchWake.Signal()
	}
}

// settled frees a conversation's slot; if it was picked again meanwhile, it is walked again —
// unless its walk failed: then the scheduler's back-off says when it is walked next.
func (r *Runner) settled(id int64, failed bool) {
	r.mu.Lock()
	if f := r.inflight[id]; !f.read {
		if k, ok := boundedKind(f.pick); ok {
			r.bounded[k]--
		}
	}
	delete(r.inflight, id)
	r.active--
	if pick, ok := r.again[id]; ok {
		delete(r.again, id)
		if !failed {
			r.redo = append(r.redo, pick)
		}
	}
	r.mu.Unlock()
	r.dispatchWake.Signal()
}

// commitLoop gathers finished walks and commits them in batches.
func (r *Runner) commitLoop(ctx context.Context, cancel context.CancelFunc) {
	for {
		r.mu.Lock()
		n := len(r.ready)
		r.mu.Unlock()
		if n == 0 {
			if err := r.cfg.Clock.Wait(ctx, time.Hour, r.commitWake); err != nil {
				return
			}
			continue
		}
		// Linger for more, unless the batch is full already.
		if n < r.cfg.MaxBatch {
			if err := clock.Sleep(ctx, r.cfg.Clock, r.cfg.Linger); err != nil {
				return
			}
		}
		if r.cfg.BeforeCommit != nil {
			if err := r.cfg.BeforeCommit(ctx); err != nil {
				if ctx.Err() == nil {
					r.stop(cancel, err)
				}
				return
			}
		}
		r.mu.Lock()
		k := min(len(r.ready), r.cfg.MaxBatch)
		batch := append([]*Prepared(nil), r.ready[:k]...)
		r.ready = r.ready[k:]
		r.mu.Unlock()
		hooks(r.cfg.Hooks).batch(len(batch))
		err := r.cfg.Step.Commit(ctx, batch)
		for _, p := range batch {
			rep := p.Report
			r.settled(rep.ConversationID, !rep.OK || rep.Err != nil || rep.Suspect)
		}
		if err != nil {
			if ctx.Err() == nil {
				r.stop(cancel, err)
			}
			return
		}
	}
}
