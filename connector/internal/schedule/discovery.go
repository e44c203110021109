package schedule

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// startDiscovery starts a discovery on its own goroutine when one is due and none runs. Call
// with mu held.
func (s *Smart) startDiscovery(ctx context.Context, now time.Time) {
	if s.discovering || now.Before(s.nextDiscovery) {
		return
	}
	s.discovering = true
	cursor, perPage := "", 0
	if !s.recency {
		cursor = s.fallbackCur
	} else if s.recencyKnown {
		perPage = s.cfg.DiscoveryPerPage
	}
	s.cfg.Go(func() { s.discover(ctx, cursor, perPage) })
}

// discover spends a /conversations request and marks what changed as urgent.
//
// In recency mode it reads page 1 (of DiscoveryPerPage conversations), and goes on to the next page only while every
// conversation on the page changed (more activity than one page shows). In fallback mode it
// reads the next page of a full walk of the listing, paced by FallbackPageInterval.
func (s *Smart) discover(ctx context.Context, cursor string, perPage int) {
	defer func() {
		s.mu.Lock()
		s.discovering = false
		s.mu.Unlock()
		s.wake.Signal()
	}()
	for {
		// The cadence runs from start to start, so that a slow API does not stretch it.
		began := s.cfg.Clock.Now()
		// One attempt: a failed discovery is retried at the next interval, not now.
		page, err := s.cfg.Partoo.ListConversations(ctx, partoo.ListConversationsParams{
			Cursor: cursor, BusinessIDs: s.cfg.BusinessIDs, MaxAttempts: 1, PerPage: perPage})
		now := s.cfg.Clock.Now()
		if err != nil {
			if ctx.Err() == nil {
				s.discoveryFailed(now, err)
			}
			return
		}
		s.discoveryAnswered(now, page.Conversations)
		next, more := s.discovered(page, cursor, began, now)
		if !more {
			return
		}
		s.wake.Signal()
		cursor = next
	}
}

// discoveryFailed notes a failed discovery: a refused key stops the scheduler; anything else
// is tried again at the next interval, and reconciliation keeps walking meanwhile.
func (s *Smart) discoveryFailed(now time.Time, err error) {
	if partoo.IsAuth(err) {
		s.setFatal(err)
		return
	}
	s.mu.Lock()
	s.nextDiscovery = now.Add(s.discoveryInterval())
	s.mu.Unlock()
	var n int
	s.setStatus(func(st *Status) {
		st.DiscoveryFailures++
		st.LastDiscoveryError = err.Error()
		n = st.DiscoveryFailures
	})
	s.cfg.Log.Warn("discovery:"+partoo.ErrorKind(err), "discovery failed; trying again at the next interval",
		"err", err, "error_kind", partoo.ErrorKind(err), "failures_in_a_row", n)
}

// discoveryAnswered notes a discovery that worked (and says so after a run of failures).
func (s *Smart) discoveryAnswered(now time.Time, convs []model.Conversation) {
	var recovered int
	s.setStatus(func(st *Status) {
		recovered = st.DiscoveryFailures
		st.DiscoveryFailures, st.LastDiscovery = 0, now
		st.ListingWithoutLastMessage = withoutLastMessage(convs)
	})
	if recovered >= 3 {
		s.cfg.Log.Warn("discovery:recovered", "discovery works again", "after_failures", recovered)
	}
}

// discovered marks what a page of the listing (read at cursor) shows changed and sets the
// next discovery; more says to read the next page at once (in recency order, when everything
// on the page moved).
func (s *Smart) discovered(page *partoo.ConversationPage, cursor string, began, now time.Time) (next string, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.DiscoveryPages++
	first := cursor == ""
	if first {
		s.checkRecency(page.Conversations)
	}
	changed := s.compare(page.Conversations, first && s.recency)
	if first && page.NextCursor == nil {
		// The whole listing on one page: a reconciliation pass starting now can take it
		// instead of reading it again.
		s.whole = s.whole[:0]
		for _, c := range page.Conversations {
			s.whole = append(s.whole, c.ID)
		}
		s.wholeAt = now
	}
	if s.recency {
		if page.NextCursor != nil && changed == len(page.Conversations) && changed > 0 {
			return *page.NextCursor, true // everything on this page moved: look further
		}
		s.fallbackCur = ""
		if changed > 0 {
			s.quietDiscoveries = 0
		} else {
			s.quietDiscoveries++
		}
		s.nextDiscovery = began.Add(s.discoveryInterval())
		return "", false
	}
	// Fallback: one page per step, paced; a complete pass restarts from page 1, at most
	// once per DiscoveryInterval: a listing of one page (a small organisation, whose order
	// page 1 is too short to tell) costs what discovery in recency order costs.
	if first {
		s.fallbackStarted = began
	}
	s.nextDiscovery = now.Add(s.cfg.FallbackPageInterval)
	if page.NextCursor == nil {
		s.fallbackCur = ""
		s.nextDiscovery = later(s.nextDiscovery, s.fallbackStarted.Add(s.cfg.DiscoveryInterval))
	} else {
		s.fallbackCur = *page.NextCursor
	}
	return "", false
}

// compare marks conversations whose listing shows a change since we last knew them and
// returns how many. Call with mu held. A listed last message that differs from the one listed before is a change
// when the state does not already reflect it (a webhook, a Sending re-walk or a failed walk's
// retry may have seen it first). With ranks (page 1 in recency order) a conversation that
// moved ahead of one it was behind, or entered page 1, had activity even if its last message
// looks the same.
func (s *Smart) compare(convs []model.Conversation, ranks bool) int {
	changed := 0
	moved := make([]bool, len(convs))
	if ranks && len(s.rank) > 0 {
		// Untouched conversations keep their relative order; anything ranked behind a
		// conversation that now follows it moved up.
		suffixMin := int(^uint(0) >> 1)
		for i := len(convs) - 1; i >= 0; i-- {
			r, ok := s.rank[convs[i].ID]
			if !ok {
				moved[i] = true
				continue
			}
			if r > suffixMin {
				moved[i] = true
			}
			suffixMin = min(suffixMin, r)
		}
	}
	for i, c := range convs {
		s.partner[c.ID] = c.MessagingPartner
		isChanged := moved[i]
		if lm := c.LastMessage; lm != nil {
			sig := lmSig{id: lm.ID, status: lm.Status, deleted: lm.IsDeleted}
			if known, ok := s.sig[c.ID]; !ok || known != sig {
				// A new last message explains a move up the list: if the state has it
				// already (a webhook's walk, a Sending re-walk), there is nothing to walk.
				isChanged = s.news(c.ID, lm)
			}
			s.sig[c.ID] = sig
		}
		if isChanged {
			changed++
			s.markUrgent(c.ID)
		}
	}
	if ranks {
		s.rank = make(map[int64]int, len(convs))
		for i, c := range convs {
			s.rank[c.ID] = i
		}
	}
	return changed
}

// news reports whether a listed last message tells something the recorded state does not. A
// conversation never walked is news when its last message is live (LiveWindow, on Partoo's
// clock); older ones are the reconciliation's snapshot walks.
func (s *Smart) news(id int64, lm *model.Message) bool {
	st := s.cfg.State(id)
	if st == nil {
		return !lm.Date.Before(s.partooTime(s.started).Add(-s.cfg.LiveWindow))
	}
	j := st.Find(lm.ID)
	if j < 0 {
		// New to us, unless it is one the diff ignores (an unknown sender_type).
		return lm.SenderType.Known()
	}
	m := st.Messages[j]
	return st.StatusOf(m) != lm.Status || (lm.IsDeleted && !m.Deleted())
}

func withoutLastMessage(convs []model.Conversation) bool {
	for _, c := range convs {
		if c.LastMessage != nil {
			return false
		}
	}
	return len(convs) > 0
}

// Recency is the evidence page 1 of the listing gives about its order.
type Recency struct {
	Pairs      int // adjacent pairs of listed conversations that both have a last message
	Descending int // of those, the pairs whose dates descend, within the tolerance
	WithLast   int // conversations listed with a last message
}

// RecencyOf reads page 1 of the listing: in recency order the last messages' dates descend
// down the page, give or take tolerance (a status change or deletion moves a conversation up
// without changing its last message's date); in id order they are as likely to rise as to fall.
func RecencyOf(convs []model.Conversation, tolerance time.Duration) Recency {
	var r Recency
	var prev *model.Message
	for i := range convs {
		lm := convs[i].LastMessage
		if lm == nil {
			continue
		}
		r.WithLast++
		if prev != nil {
			r.Pairs++
			if !lm.Date.After(prev.Date.Add(tolerance)) {
				r.Descending++
			}
		}
		prev = lm
	}
	return r
}

// Ordered reports whether at least threshold of the pairs descend.
func (r Recency) Ordered(threshold float64) bool {
	return r.Pairs > 0 && float64(r.Descending)/float64(r.Pairs) >= threshold
}

// Default recency settings (Config.RecencyTolerance and Config.RecencyThreshold).
const (
	DefaultRecencyTolerance = 5 * time.Minute
	DefaultRecencyThreshold = 0.9
)

// checkRecency decides from page 1 whether the listing is ordered by recent activity: for at
// least RecencyThreshold of adjacent pairs the dates descend (RecencyOf).
func (s *Smart) checkRecency(convs []model.Conversation) {
	ev := RecencyOf(convs, s.cfg.RecencyTolerance)
	var ordered bool
	order := "recent"
	switch {
	case ev.WithLast == 0 && len(convs) >= 5:
		// No last_message at all: the order cannot be checked, and reading every page would
		// learn nothing more. Page 1 is watched for rank moves (activity, if the listing is by
		// recency; nothing, harmlessly, if not); reconciliation finds the rest.
		ordered, order = true, "unknown (no last_message)"
		if !s.warnedNoLM {
			s.warnedNoLM = true
			s.cfg.Log.Warn("discovery:no_last_message", "the conversation listing carries no last_message: "+
				"changes are found by rank moves on page 1 and by reconciliation only (slower); webhooks help")
		}
	case ev.Pairs < 5:
		return // too little evidence: keep the current mode
	default:
		ordered = ev.Ordered(s.cfg.RecencyThreshold)
		if !ordered {
			order = "other"
		}
	}
	if ordered != s.recency || !s.recencyKnown {
		s.recency, s.recencyKnown = ordered, true
		s.rank = map[int64]int{}
		s.fallbackCur = ""
	}
	s.setStatus(func(st *Status) { st.ListingOrder = order })
}

// partooTime is what Partoo's clock read at local time t, as the client estimates it from the
// Date headers (partoo.ServerClock): a Partoo date is never compared with the local clock.
func (s *Smart) partooTime(t time.Time) time.Time {
	if s.cfg.Partoo == nil {
		return t
	}
	return s.cfg.Partoo.Server().At(t)
}
