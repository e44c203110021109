package connector

import (
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/ratelog"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
)

// Scheduler decides which conversation to walk next. Next blocks until there is one or ctx
// ends.
type Scheduler interface {
	Next(ctx context.Context) (int64, error)
}

// SweepScheduler walks every conversation in turn, forever: the fixed list if one is given,
// else every conversation /conversations lists plus every conversation already tracked.
type SweepScheduler struct {
	Partoo          *partoo.Client
	ConversationIDs []int64
	BusinessIDs     []string
	Interval        time.Duration // least time between the starts of two sweeps
	Clock           partoo.Clock
	Known           func() []int64 // tracked conversations, walked even if no longer listed
	Log             *ratelog.Logger

	queue      []int64
	sweepStart time.Time

	mu     sync.Mutex
	status schedule.Status
}

// Status reports the sweep's progress (a sweep is a pass) and its listing failures. It is
// safe to call from any goroutine.
func (s *SweepScheduler) Status() schedule.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Next returns the next conversation of the current sweep, starting a new sweep when the
// current one is done.
func (s *SweepScheduler) Next(ctx context.Context) (int64, error) {
	for len(s.queue) == 0 {
		if s.Interval > 0 && !s.sweepStart.IsZero() {
			if wait := s.sweepStart.Add(s.Interval).Sub(s.Clock.Now()); wait > 0 {
				if err := s.Clock.Sleep(ctx, wait); err != nil {
					return 0, err
				}
			}
		}
		s.sweepStart = s.Clock.Now()
		ids, err := s.discover(ctx)
		if err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.status.Pass = schedule.Pass{Phase: schedule.PhaseReconcile, Number: s.status.Pass.Number + 1, Started: s.sweepStart, Total: len(ids)}
		s.mu.Unlock()
		if len(ids) == 0 {
			// Nothing to walk yet: wait a little before asking again.
			if err := s.Clock.Sleep(ctx, 5*time.Second); err != nil {
				return 0, err
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
		s.status.Pass.Phase, s.status.Pass.Finished = schedule.PhaseIdle, s.Clock.Now()
	}
	s.mu.Unlock()
	return id, nil
}

func (s *SweepScheduler) discover(ctx context.Context) ([]int64, error) {
	if len(s.ConversationIDs) > 0 {
		return append([]int64(nil), s.ConversationIDs...), nil
	}
	seen := map[int64]bool{}
	var ids []int64
	err := s.Partoo.WalkConversations(ctx, partoo.ListConversationsParams{BusinessIDs: s.BusinessIDs, MaxAttempts: 2}, func(p *partoo.ConversationPage) error {
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
		s.Log.Warn("sweep:"+partoo.ErrorKind(err), "the sweep could not read the conversation listing; sweeping the conversations the state knows",
			"err", err, "error_kind", partoo.ErrorKind(err))
	} else if err != nil {
		s.mu.Unlock()
		return nil, err
	} else {
		s.status.DiscoveryFailures, s.status.LastDiscovery = 0, s.Clock.Now()
		s.mu.Unlock()
	}
	if s.Known != nil {
		for _, id := range s.Known() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}
