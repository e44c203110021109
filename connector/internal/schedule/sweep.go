package schedule

import (
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/ratelog"
)

// SweepConfig configures a Sweep.
type SweepConfig struct {
	Partoo *partoo.Client // required
	// ConversationIDs, when set, is the fixed list to walk (PARTOO_CONVERSATION_IDS); else
	// every conversation /conversations lists, plus every tracked one.
	ConversationIDs []int64
	BusinessIDs     []string
	// Interval is the least time between the starts of two sweeps [DefaultSweepInterval]: a
	// short list (a fixed PARTOO_CONVERSATION_IDS of one or two) is walked once per interval,
	// and the scheduler waits in between instead of handing the same conversations out again
	// and again; a long one is paced by the budget, and the interval does not bind.
	Interval time.Duration
	// RetryMin and RetryMax bound the delay before a conversation whose walk failed is walked
	// again; it doubles with each failure in a row [10 s, 10 min]. Sweeps skip it meanwhile.
	RetryMin, RetryMax time.Duration
	Clock              clock.Clock    // [wall clock]
	Known              func() []int64 // tracked conversations, walked even if no longer listed
	Log                *ratelog.Logger
}

// DefaultSweepInterval is the least time between the starts of two sweeps
// (SweepConfig.Interval): the cadence at which the smart scheduler's discovery reads page 1.
const DefaultSweepInterval = 2 * time.Second

// Sweep walks every conversation in turn, forever: the fixed list if one is given, else every
// conversation /conversations lists plus every conversation already tracked. A sweep begins
// at most once per Interval, so a short list costs a few walks every interval and no CPU in
// between. A conversation whose walk failed is left out of the sweeps and walked again after
// its delay (RetryMin doubling to RetryMax). It takes no hints. Next is called by one
// goroutine, Walked by one; Hint and Status by any.
type Sweep struct {
	cfg        SweepConfig
	queue      []int64
	sweepStart time.Time

	mu      sync.Mutex // guards what follows
	status  Status
	retry   retries
	pending map[int64]bool // failed, waiting for their delay to run out
}

// NewSweep returns a Sweep.
func NewSweep(cfg SweepConfig) *Sweep {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Known == nil {
		cfg.Known = func() []int64 { return nil }
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultSweepInterval
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 10 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 10 * time.Minute
	}
	return &Sweep{cfg: cfg, retry: newRetries(cfg.RetryMin, cfg.RetryMax), pending: map[int64]bool{}}
}

// Hint implements Scheduler: a sweep takes no hints.
func (s *Sweep) Hint(int64) HintResult { return HintIgnored }

// Walked implements Scheduler: a failed walk holds the conversation back for its retry
// delay; any other outcome clears it.
func (s *Sweep) Walked(id int64, _ *diff.State, o Outcome) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Failed {
		s.retry.failed(id, now)
		s.pending[id] = true
		return
	}
	s.retry.succeeded(id)
	delete(s.pending, id)
}

// Status reports the sweep's progress (a sweep is a pass) and its listing failures. It is
// safe to call from any goroutine.
func (s *Sweep) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Next returns a conversation whose retry delay has run out, else the next conversation of
// the current sweep, starting a new sweep when the current one is done and Interval has
// passed since it began. It waits (on the clock, using no CPU) while there is nothing to hand
// out.
func (s *Sweep) Next(ctx context.Context, room func(Pick) bool) (Pick, error) {
	for {
		// Every pick of a sweep is background work: wait for room.
		for !room(Pick{Reason: ReasonReconcile, Background: true}) {
			if err := clock.Sleep(ctx, s.cfg.Clock, 100*time.Millisecond); err != nil {
				return Pick{}, err
			}
		}
		if err := ctx.Err(); err != nil {
			return Pick{}, err
		}
		now := s.cfg.Clock.Now()
		if p, ok := s.take(now); ok {
			return p, nil
		}
		// Nothing to hand out before the next sweep or the next retry.
		wake := s.sweepStart.Add(s.cfg.Interval)
		s.mu.Lock()
		if t := s.retry.next(now); !t.IsZero() && t.Before(wake) {
			wake = t
		}
		s.mu.Unlock()
		if d := wake.Sub(now); d > 0 && !s.sweepStart.IsZero() {
			if err := clock.Sleep(ctx, s.cfg.Clock, d); err != nil {
				return Pick{}, err
			}
			continue
		}
		s.sweepStart = now
		ids, err := s.discover(ctx)
		if err != nil {
			return Pick{}, err
		}
		s.mu.Lock()
		s.status.Pass = Pass{Phase: PhaseReconcile, Number: s.status.Pass.Number + 1, Started: s.sweepStart, Total: len(ids)}
		s.mu.Unlock()
		if len(ids) == 0 {
			// Nothing to walk yet: wait a little before asking again.
			if err := clock.Sleep(ctx, s.cfg.Clock, 5*time.Second); err != nil {
				return Pick{}, err
			}
			continue
		}
		s.queue = ids
	}
}

// take returns a held conversation whose delay has run out, or the current sweep's next
// conversation that is not held back, if any.
func (s *Sweep) take(now time.Time) (Pick, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.pending {
		if !s.retry.held(id, now) {
			delete(s.pending, id)
			return Pick{ID: id, Reason: ReasonRetry, Background: true}, true
		}
	}
	for len(s.queue) > 0 {
		id := s.queue[0]
		s.queue = s.queue[1:]
		s.status.Pass.Done++
		if len(s.queue) == 0 {
			s.status.Pass.Phase, s.status.Pass.Finished = PhaseIdle, now
		}
		if s.retry.held(id, now) {
			continue // its retry walks it when the delay runs out
		}
		return Pick{ID: id, Reason: ReasonReconcile, Background: true}, true
	}
	return Pick{}, false
}

func (s *Sweep) discover(ctx context.Context) ([]int64, error) {
	if len(s.cfg.ConversationIDs) > 0 {
		return append([]int64(nil), s.cfg.ConversationIDs...), nil
	}
	seen := map[int64]bool{}
	var ids []int64
	err := s.cfg.Partoo.WalkConversations(ctx, partoo.ListConversationsParams{BusinessIDs: s.cfg.BusinessIDs, MaxAttempts: 2}, func(p *partoo.ConversationPage) error {
		for _, c := range p.Conversations {
			if !seen[c.ID] {
				seen[c.ID] = true
				ids = append(ids, c.ID)
			}
		}
		return nil
	})
	s.mu.Lock()
	if err != nil && ctx.Err() == nil && !partoo.IsAuth(err) {
		// The listing failed: sweep what the state knows, and say so.
		s.status.DiscoveryFailures++
		s.status.LastDiscoveryError = err.Error()
		s.mu.Unlock()
		s.cfg.Log.Warn("sweep:"+partoo.ErrorKind(err), "the sweep could not read the conversation listing; sweeping the conversations the state knows",
			"err", err, "error_kind", partoo.ErrorKind(err))
	} else if err != nil {
		s.mu.Unlock()
		return nil, err
	} else {
		s.status.DiscoveryFailures, s.status.LastDiscovery = 0, s.cfg.Clock.Now()
		s.mu.Unlock()
	}
	if s.cfg.Known != nil {
		for _, id := range s.cfg.Known() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
