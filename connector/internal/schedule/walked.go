package schedule

import (
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Outcome is what the scheduler learns from a walk.
type Outcome struct {
	// Changed: the walk produced events.
	Changed bool
	// Gone: the conversation answered 404 or 403; it takes no hints for Config.GoneFor.
	Gone bool
	// Failed: the walk could not read every page, or its transaction did not commit: the
	// conversation is walked again after a delay that grows while it keeps failing.
	Failed bool
}

// Walked tells the scheduler a conversation was walked and what its state now is (nil if it
// has none).
func (s *Smart) Walked(id int64, st *diff.State, o Outcome) {
	now := s.cfg.Clock.Now()
	if o.Gone {
		s.hintMu.Lock()
		s.goneUntil[id] = now.Add(s.cfg.GoneFor)
		s.hintMu.Unlock()
	}
	s.mu.Lock()
	if o.Failed {
		// Nothing else walks it before the delay runs out (pickLocked): not reconciliation,
		// discovery, a Sending re-walk nor a hint. Its state did not move: whatever was due
		// for it stays due, and the retry's walk does it.
		s.scheduleRetry(id, s.retry.failed(id, now))
		s.mu.Unlock()
		s.wake.Signal()
		return
	}
	s.retry.succeeded(id)
	// Sending: re-walk with a growing delay until every message is terminal. When the only
	// message in Sending is the conversation's last one and the conversation is on page 1 of
	// a recency-ordered listing, discovery sees its status change in the listing's
	// last_message: the re-walk is only a safety net, at the longest delay.
	if st != nil && hasSending(st) {
		b := s.backoff[id]
		_, onPage1 := s.rank[id]
		switch {
		case s.recency && onPage1 && onlyLastSending(st):
			b = s.cfg.SendingMaxBackoff
		case b == 0 || o.Changed:
			b = s.cfg.SendingMinBackoff
		default:
			b = min(b*3/2, s.cfg.SendingMaxBackoff)
		}
		s.backoff[id] = b
		s.schedule(id, now.Add(b), ReasonSending)
	} else {
		delete(s.backoff, id)
	}
	// Deletable channel: check again a few times after activity — live activity, not the
	// history a snapshot walk reads for the first time.
	if s.partner[id] == model.PartnerInstagram && len(s.cfg.InstagramChecks) > 0 {
		if o.Changed && st != nil && s.partooTime(now).Sub(newest(st)) <= s.cfg.InstagramChecks[len(s.cfg.InstagramChecks)-1] {
			s.checks[id] = 0
		}
		if i, ok := s.checks[id]; ok && i < len(s.cfg.InstagramChecks) {
			s.checks[id] = i + 1
			if _, pending := s.queued[id]; !pending {
				s.schedule(id, now.Add(s.cfg.InstagramChecks[i]), ReasonDeletable)
			}
		}
	}
	s.mu.Unlock()
	s.wake.Signal()
}

// newest is the date of the conversation's newest recorded message.
func newest(st *diff.State) time.Time {
	var us int64
	for _, m := range st.Messages {
		us = max(us, m.DateMicros)
	}
	return time.UnixMicro(us)
}

// onlyLastSending reports whether the conversation's newest message is its only one in
// Sending.
func onlyLastSending(st *diff.State) bool {
	n := len(st.Messages)
	if n == 0 || st.Messages[n-1].Status != diff.StatusSending {
		return false
	}
	for _, m := range st.Messages[:n-1] {
		if m.Status == diff.StatusSending {
			return false
		}
	}
	return true
}

func hasSending(st *diff.State) bool {
	for _, m := range st.Messages {
		if m.Status == diff.StatusSending {
			return true
		}
	}
	return false
}
