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
	// HintChecking: the conversation is new to the state and PARTOO_BUSINESS_IDS is set: its
	// business is asked of Partoo (GET /conversations/{id}) before any walk.
	HintChecking HintResult = "checking"
	// HintOutside: Partoo said the conversation belongs to a business outside
	// PARTOO_BUSINESS_IDS (remembered for Config.OutsideFor).
	HintOutside HintResult = "outside"
)

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed). It
// never blocks. Hints are bounded: repeated ones count once, at most MaxHints wait, one for a
// conversation that answered 404 or 403 in the last GoneFor is refused, and hints take at
// most HintShare of the budget's rate ahead of other work (see Next). It is safe to call from
// any goroutine.
//
// A hint is never proof of scope. With Config.BusinessIDs set, a conversation the state does
// not know, and the business-filtered listing has not shown, is walked only once Partoo says
// it belongs to one of those businesses: its hint waits for a GET /conversations/{id}
// (HintChecking; the checks share the hints' budget), and a conversation of another business
// takes no walk and, for OutsideFor, no hint (HintOutside), whatever the webhook claimed.
func (s *Smart) Hint(id int64) HintResult {
	now := s.cfg.Clock.Now()
	check := len(s.cfg.BusinessIDs) > 0 && s.cfg.State(id) == nil
	if check {
		// A conversation the business-filtered listing has shown is in scope already.
		s.mu.Lock()
		_, listed := s.partner[id]
		s.mu.Unlock()
		check = !listed
	}
	s.hintMu.Lock()
	var r HintResult
	switch {
	case s.hinted[id] || s.checkSet[id]:
		r = HintDuplicate
	case now.Before(s.goneUntil[id]):
		r = HintGone
	case now.Before(s.outside[id]):
		r = HintOutside
	case len(s.hints)+len(s.toCheck) >= s.cfg.MaxHints:
		r = HintDropped
	case check && !s.inScope[id]:
		s.checkSet[id] = true
		s.toCheck = append(s.toCheck, id)
		r = HintChecking
	default:
		s.hinted[id] = true
		s.hints = append(s.hints, id)
		r = HintAccepted
	}
	s.hintMu.Unlock()
	if r == HintAccepted || r == HintChecking {
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
	if !s.hintToken(now, force) {
		return 0, false
	}
	id := s.hints[0]
	s.hints = s.hints[1:]
	delete(s.hinted, id)
	if len(s.goneUntil) > 1000 { // forget expired entries now and then
		maps.DeleteFunc(s.goneUntil, func(_ int64, until time.Time) bool { return now.After(until) })
	}
	return id, true
}

// hintToken takes a token of the hints' share, or reports there is none now; force takes it
// whatever the share. The share is a token bucket at HintShare of the budget's current rate,
// burst 10. Call with hintMu held.
func (s *Smart) hintToken(now time.Time, force bool) bool {
	perSecond := s.cfg.HintShare * s.cfg.Partoo.Budget().RatePerMinute() / 60
	if !s.hintFilled.IsZero() {
		s.hintTokens = min(10, s.hintTokens+now.Sub(s.hintFilled).Seconds()*perSecond)
	} else {
		s.hintTokens = 10
	}
	s.hintFilled = now
	if s.hintTokens < 1 && !force {
		return false
	}
	s.hintTokens = max(s.hintTokens-1, 0)
	return true
}

// hintWait is how long until the hints' share has a token again. Call with hintMu held.
func (s *Smart) hintWait() time.Duration {
	perSecond := s.cfg.HintShare * s.cfg.Partoo.Budget().RatePerMinute() / 60
	if perSecond <= 0 {
		return time.Second
	}
	return time.Duration((1 - s.hintTokens) / perSecond * float64(time.Second))
}
