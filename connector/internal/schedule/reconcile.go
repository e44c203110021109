package schedule

import (
	"context"
	"slices"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// reconPass is the reconciliation in progress: every conversation the state knows, in id
// order, then the ones the listing shows that the state does not know (during a first
// snapshot, all of them, in the listing's order). The first pass after a start takes the
// unknown ones first and the known ones after: a snapshot a restart cut short goes on with
// the conversations not yet in the state. The listing is read a page at a time on a
// goroutine of its own, ahead of the picks (Config.Prefetch). Guarded by Smart.mu.
type reconPass struct {
	active    bool
	snapshot  bool    // the first pass over an organisation the state did not know (or not all of it)
	tail      []int64 // the first pass after a start: the known conversations, walked after the listing's unknown ones
	ids       []int64
	pos       int
	seen      map[int64]bool
	cursor    string
	listed    bool // the listing is read (or failed) and the tracked conversations added
	fetching  bool
	pages     int // listing pages asked for
	started   time.Time
	picked    int
	nextStart time.Time // no pass begins before (the period, or a pause after an empty pass)
}

func (p *reconPass) available() bool { return p.active && p.pos < len(p.ids) }

// take returns the pass's next conversation. Call with mu held.
func (p *reconPass) take(s *Smart) int64 {
	id := p.ids[p.pos]
	p.pos++
	p.picked++
	now := s.cfg.Clock.Now()
	last := p.listed && p.pos >= len(p.ids)
	s.setPass(func(st *Pass) {
		st.Done++
		st.Total = max(st.Total, st.Done)
		if last {
			st.Phase, st.Finished = PhaseIdle, now
		}
	})
	if last {
		s.endPass()
	}
	return id
}

// reconcileMaintain starts a pass when one may begin, and keeps the listing read ahead of the
// picks. Call with mu held.
func (s *Smart) reconcileMaintain(ctx context.Context, now time.Time) {
	p := &s.pass
	if p.active && p.listed && p.pos >= len(p.ids) {
		s.endPass()
	}
	if !p.active {
		if now.Before(p.nextStart) {
			return
		}
		s.stats.ReconcileCycles++
		known := s.cfg.Known()
		slices.Sort(known)
		phase := PhaseReconcile
		if s.stats.ReconcileCycles == 1 && len(known) == 0 {
			phase = PhaseSnapshot
		}
		*p = reconPass{active: true, snapshot: phase == PhaseSnapshot, seen: map[int64]bool{}, started: now}
		for _, id := range known {
			p.seen[id] = true
		}
		if s.stats.ReconcileCycles == 1 {
			// After a start, the conversations the listing shows that the state does not know
			// come first: if a restart cut the first snapshot short, it goes on where it was
			// (fetchListing then calls the pass the snapshot); the known ones follow.
			p.tail = known
		} else {
			// The conversations the state knows, in id order: the same order every pass, so
			// that no conversation goes longer than one pass between two reconciliation
			// walks. The listing adds the ones the state does not know.
			p.ids = known
		}
		n := s.stats.ReconcileCycles
		total := len(known)
		s.setPass(func(st *Pass) { *st = Pass{Phase: phase, Number: n, Started: now, Total: total} })
	}
	// A small organisation's listing fits on page 1, which discovery reads every interval:
	// a pass takes the last reading (at most two intervals old) rather than read it again.
	if !p.listed && !p.fetching && p.pages == 0 && !s.wholeAt.IsZero() && now.Sub(s.wholeAt) <= 2*s.cfg.DiscoveryInterval {
		for _, id := range s.whole {
			if !p.seen[id] {
				p.seen[id] = true
				p.ids = append(p.ids, id)
			}
		}
		total := len(p.seen)
		s.setPass(func(st *Pass) { st.Total = max(st.Total, total) })
		s.continuesSnapshot(len(s.whole))
		s.addKnown()
	}
	// The listing is read a page ahead of the walks it brings, and at least a page per
	// Prefetch walks.
	if !p.listed && !p.fetching && (len(p.ids)-p.pos < s.cfg.Prefetch || p.pos >= p.pages*s.cfg.Prefetch) {
		p.pages++
		p.fetching = true
		cursor := p.cursor
		s.cfg.Go(func() { s.fetchListing(ctx, cursor) })
	}
}

// endPass closes the pass and says when the next may begin. Call with mu held.
func (s *Smart) endPass() {
	p := &s.pass
	if !p.active {
		return
	}
	// A small organisation's pass ends within moments: the next waits at least
	// DiscoveryInterval, so that its walks and listing are not repeated in a loop (an empty or
	// failing listing neither).
	next := later(p.started.Add(s.cfg.ReconcilePeriod), p.started.Add(s.cfg.DiscoveryInterval))
	p.active, p.nextStart = false, next
	s.setPass(func(st *Pass) {
		st.Phase = PhaseIdle
		if st.Finished.IsZero() {
			st.Finished = s.cfg.Clock.Now()
		}
		if s.cfg.ReconcilePeriod > 0 {
			st.NextStart = next
		}
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fetchListing reads one page of the listing for the pass (on its own goroutine) and queues
// its conversations. It goes at the priority of Sending re-walks, ahead of background work:
// it costs one request per page of conversations, and at saturation the guaranteed share
// of reconciliation needs it. When the listing fails, the pass goes on with the tracked
// conversations it has not covered yet.
func (s *Smart) fetchListing(ctx context.Context, cursor string) {
	page, err := s.cfg.Partoo.WithPriority(PrioritySending).ListConversations(ctx, partoo.ListConversationsParams{
		Cursor: cursor, BusinessIDs: s.cfg.BusinessIDs, MaxAttempts: 2})
	defer s.wake.Signal()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.pass
	p.fetching = false
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if partoo.IsAuth(err) {
			if s.fatal == nil {
				s.fatal = err
			}
			return
		}
		s.cfg.Log.Warn("reconcile:"+partoo.ErrorKind(err),
			"reconciliation could not read the conversation listing; walking the conversations the state knows instead",
			"err", err, "error_kind", partoo.ErrorKind(err))
		s.addKnown()
		return
	}
	s.stats.DiscoveryPages++
	s.compare(page.Conversations, false)
	if p.pages == 1 {
		s.continuesSnapshot(page.Count)
	}
	for _, c := range page.Conversations {
		if !p.seen[c.ID] {
			p.seen[c.ID] = true
			p.ids = append(p.ids, c.ID)
		}
	}
	total := max(page.Count, len(p.seen))
	s.setPass(func(st *Pass) { st.Total = max(st.Total, total) })
	if page.NextCursor != nil {
		p.cursor = *page.NextCursor
		return
	}
	s.addKnown()
}

// continuesSnapshot makes the first pass after a start the snapshot when the listing counts
// more conversations than the state knows: a restart cut the first snapshot short, and this
// pass goes on with it. Call with mu held, before addKnown.
func (s *Smart) continuesSnapshot(listed int) {
	p := &s.pass
	if len(p.tail) > 0 && listed > len(p.tail) {
		p.snapshot = true
		s.setPass(func(st *Pass) { st.Phase = PhaseSnapshot })
	}
}

// addKnown ends the listing part of a pass: every tracked conversation the pass has not
// covered yet is walked too. Call with mu held.
func (s *Smart) addKnown() {
	p := &s.pass
	p.ids = append(p.ids, p.tail...)
	p.tail = nil
	for _, id := range s.cfg.Known() {
		if !p.seen[id] {
			p.seen[id] = true
			p.ids = append(p.ids, id)
		}
	}
	p.listed = true
	s.setPass(func(st *Pass) { st.Total = max(st.Total, st.Done+len(p.ids)-p.pos) })
}
