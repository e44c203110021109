package connector

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
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
	BusinessIDs     []int64
	Interval        time.Duration // least time between the starts of two sweeps
	Clock           partoo.Clock
	Known           func() []int64 // tracked conversations, walked even if no longer listed

	queue      []int64
	sweepStart time.Time
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
		if len(ids) == 0 {
			// Nothing to walk yet: wait a little before asking again.
			if err := s.Clock.Sleep(ctx, time.Second); err != nil {
				return 0, err
			}
			continue
		}
		s.queue = ids
	}
	id := s.queue[0]
	s.queue = s.queue[1:]
	return id, nil
}

func (s *SweepScheduler) discover(ctx context.Context) ([]int64, error) {
	if len(s.ConversationIDs) > 0 {
		return append([]int64(nil), s.ConversationIDs...), nil
	}
	seen := map[int64]bool{}
	var ids []int64
	err := s.Partoo.WalkConversations(ctx, partoo.ListConversationsParams{BusinessIDs: s.BusinessIDs}, func(p *partoo.ConversationPage) error {
		for _, c := range p.Conversations {
			if !seen[c.ID] {
				seen[c.ID] = true
				ids = append(ids, c.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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
