package schedule

import (
	"maps"
	"time"
)

// HintResult says what became of a hint.
type HintResult string

// Hint results (the label values of the webhook metric).
const (
	HintAccepted  HintResult = "accepted"  // queued for a walk
	HintDuplicate HintResult = "duplicate" // already queued: counted once
	HintDropped   HintResult = "dropped"   // the queue is full (Config.MaxHints)
	HintGone      HintResult = "gone"      // the conversation answered 404/403 recently
	HintIgnored   HintResult = "ignored"   // the scheduler takes no hints (Sweep)
)

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed). It
// never blocks. Hints are bounded: repeated ones count once, at most MaxHints wait, one for a
// conversation that answered 404 or 403 in the last GoneFor is refused, and hints take at
// most HintShare of the budget's rate ahead of other work (see Next). It is safe to call from
// any goroutine.
func (s *Smart) Hint(id int64) HintResult {
	now := s.cfg.Clock.Now()
	s.hintMu.Lock()
	var r HintResult
	switch {
	case s.hinted[id]:
		r = HintDuplicate
	case now.Before(s.goneUntil[id]):
		r = HintGone
	case len(s.hints) >= s.cfg.MaxHints:
		r = HintDropped
	default:
		s.hinted[id] = true
		s.hints = append(s.hints, id)
		r = HintAccepted
	}
	s.hintMu.Unlock()
	if r == HintAccepted {
		s.wake.Signal()
	}
	return r
}

// popHint returns the oldest hint if its share of the budget allows one now, or whatever the
// share when force is set (nothing else wants the pick).
func (s *Smart) popHint(force bool) (int64, bool) {
	now := s.cfg.Clock.Now()
	s.hintMu.Lock()
	defer s.hintMu.Unlock()
	if len(s.hints) == 0 {
		return 0, false
	}
	// The share is a token bucket at HintShare of the budget's current rate, burst 10.
	perSecond := s.cfg.HintShare * s.cfg.Partoo.Budget().RatePerMinute() / 60
	if !s.hintFilled.IsZero() {
		s.hintTokens = min(10, s.hintTokens+now.Sub(s.hintFilled).Seconds()*perSecond)
	} else {
		s.hintTokens = 10
	}
	s.hintFilled = now
	if s.hintTokens < 1 && !force {
		return 0, false
	}
	s.hintTokens = max(s.hintTokens-1, 0)
	id := s.hints[0]
	s.hints = s.hints[1:]
	delete(s.hinted, id)
	if len(s.goneUntil) > 1000 { // forget expired entries now and then
		maps.DeleteFunc(s.goneUntil, func(_ int64, until time.Time) bool { return now.After(until) })
	}
	return id, true
}
