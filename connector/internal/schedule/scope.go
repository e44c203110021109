package schedule

import (
	"context"
	"errors"
	"slices"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// Scope: with Config.BusinessIDs set, which conversations are ours is Partoo's word, never a
// webhook's. Discovery and reconciliation read the listing filtered by business__in, so what
// they find is in scope; a hint for a conversation the state does not know is checked with
// GET /conversations/{id} first (Hint), on a goroutine of its own, one at a time, within the
// hints' share of the budget.

// startChecks starts the scope checks of hinted conversations when some wait and none run.
func (s *Smart) startChecks(ctx context.Context) {
	s.hintMu.Lock()
	start := len(s.toCheck) > 0 && !s.checking
	s.checking = s.checking || start
	s.hintMu.Unlock()
	if start {
		s.cfg.Go(func() { s.checkScope(ctx) })
	}
}

// checkScope asks Partoo the business of each conversation waiting for a check, one at a
// time, each taking a token of the hints' share, until none waits.
func (s *Smart) checkScope(ctx context.Context) {
	defer s.wake.Signal()
	for {
		now := s.cfg.Clock.Now()
		s.hintMu.Lock()
		if len(s.toCheck) == 0 || ctx.Err() != nil {
			s.checking = false
			s.hintMu.Unlock()
			return
		}
		if !s.hintToken(now, false) {
			d := s.hintWait()
			s.hintMu.Unlock()
			if clock.Sleep(ctx, s.cfg.Clock, d) != nil {
				s.hintMu.Lock()
				s.checking = false
				s.hintMu.Unlock()
				return
			}
			continue
		}
		id := s.toCheck[0]
		s.toCheck = s.toCheck[1:]
		delete(s.checkSet, id)
		s.hintMu.Unlock()
		conv, err := s.cfg.Partoo.WithPriority(budget.PriorityNormal).GetConversation(ctx, id)
		s.scoped(ctx, id, conv, err)
	}
}

// scoped acts on what Partoo said of a hinted conversation: in scope, the hint goes on to a
// walk; outside, it is remembered for OutsideFor; gone (404, 403), it takes no hint for
// GoneFor; on another error the hint is dropped (discovery and reconciliation still cover
// every conversation in scope).
func (s *Smart) scoped(ctx context.Context, id int64, conv *model.Conversation, err error) {
	now := s.cfg.Clock.Now()
	switch {
	case err == nil && slices.Contains(s.cfg.BusinessIDs, conv.BusinessID):
		s.hintMu.Lock()
		if len(s.inScope) >= 10_000 { // a cache: once walked, the state knows it anyway
			clear(s.inScope)
		}
		s.inScope[id] = true
		accepted := !s.hinted[id]
		if accepted {
			s.hinted[id] = true
			s.hints = append(s.hints, id)
		}
		s.hintMu.Unlock()
		if accepted {
			s.wake.Signal()
		}
	case err == nil:
		s.hintMu.Lock()
		if len(s.outside) >= 10_000 {
			clear(s.outside)
		}
		s.outside[id] = now.Add(s.cfg.OutsideFor)
		s.hintMu.Unlock()
		s.cfg.Log.Warn("hint:outside", "a hint named a conversation of a business outside PARTOO_BUSINESS_IDS: not walked",
			"conversation_id", id, "business_id", conv.BusinessID)
	case ctx.Err() != nil:
	case errors.Is(err, partoo.ErrNotFound), errors.Is(err, partoo.ErrForbidden):
		s.hintMu.Lock()
		s.goneUntil[id] = now.Add(s.cfg.GoneFor)
		s.hintMu.Unlock()
	case partoo.IsAuth(err):
		s.setFatal(err)
	default:
		s.cfg.Log.Warn("hint:check:"+partoo.ErrorKind(err), "could not ask Partoo the business of a hinted conversation; the hint is dropped",
			"err", err, "error_kind", partoo.ErrorKind(err))
	}
}
