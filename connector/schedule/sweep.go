package schedule

import (
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/clock"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/ratelog"
)

// SweepConfig configures a Sweep.
type SweepConfig struct {
	Partoo *partoo.Client // required
	// ConversationIDs, when set, is the fixed list to walk (PARTOO_CONVERSATION_IDS); else
	// every conversation /conversations lists, plus every tracked one.
	ConversationIDs []int64
	BusinessIDs     []string
	// Interval is the least time between the starts of two sweeps [0: at once; the budget
	// paces the requests].
	Interval time.Duration
	Clock    clock.Clock    // [wall clock]
	Known    func() []int64 // tracked conversations, walked even if no longer listed
	Log      *ratelog.Logger
}

// Sweep walks every conversation in turn, forever: the fixed list if one is given, else every
// conversation /conversations lists plus every conversation already tracked. It takes no
// hints. Next and Walked are called by one goroutine; Hint and Status by any.
type Sweep struct {
	cfg        SweepConfig
	queue      []int64
	sweepStart time.Time

	mu     sync.Mutex
	status Status
}

// NewSweep returns a Sweep.
func NewSweep(cfg SweepConfig) *Sweep {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Known == nil {
		cfg.Known = func() []int64 { return nil }
	}
	return &Sweep{cfg: cfg}
}

// Hint implements Scheduler: a sweep takes no hints.
func (s *Sweep) Hint(int64) HintResult { return HintIgnored }

// Walked implements Scheduler: a sweep learns nothing from walks.
func (s *Sweep) Walked(int64, *diff.State, Outcome) {}

// Status reports the sweep's progress (a sweep is a pass) and its listing failures. It is
// safe to call from any goroutine.
func (s *Sweep) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Next returns the next conversation of the current sweep, starting a new sweep when the
// current one is done.
func (s *Sweep) Next(ctx context.Context, room func(Pick) bool) (Pick, error) {
	// Every pick of a sweep is background work: wait for room.
	for !room(Pick{Reason: ReasonReconcile, Background: true}) {
		if err := clock.Sleep(ctx, s.cfg.Clock, 100*time.Millisecond); err != nil {
			return Pick{}, err
		}
	}
	for len(s.queue) == 0 {
		if s.cfg.Interval > 0 && !s.sweepStart.IsZero() {
			if wait := s.sweepStart.Add(s.cfg.Interval).Sub(s.cfg.Clock.Now()); wait > 0 {
				if err := clock.Sleep(ctx, s.cfg.Clock, wait); err != nil {
					return Pick{}, err
				}
			}
		}
		s.sweepStart = s.cfg.Clock.Now()
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
	id := s.queue[0]
	s.queue = s.queue[1:]
	s.mu.Lock()
	s.status.Pass.Done++
	if len(s.queue) == 0 {
		s.status.Pass.Phase, s.status.Pass.Finished = PhaseIdle, s.cfg.Clock.Now()
	}
	s.mu.Unlock()
	return Pick{ID: id, Reason: ReasonReconcile, Background: true}, nil
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
