package schedule

import (
	"context"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
)

// discover spends one /conversations request and marks what changed as urgent.
//
// In recency mode it reads page 1, and goes on to the next page only while every
// conversation on the page changed (more activity than one page shows). In fallback mode it
// reads the next page of a full walk of the listing, paced by FallbackPageInterval.
func (s *Scheduler) discover(ctx context.Context) error {
	cursor := ""
	if !s.recency {
		cursor = s.fallbackCur
	}
	for {
		page, err := s.cfg.Partoo.ListConversations(ctx, partoo.ListConversationsParams{Cursor: cursor, BusinessIDs: s.cfg.BusinessIDs})
		if err != nil {
			if ctx.Err() == nil && !partoo.IsAuth(err) {
				// Try again at the next interval; reconciliation keeps running meanwhile.
				s.nextDiscovery = s.cfg.Clock.Now().Add(s.cfg.DiscoveryInterval)
				return nil
			}
			return err
		}
		s.stats.DiscoveryPages++
		first := cursor == ""
		if first {
			s.checkRecency(page.Conversations)
		}
		changed := s.compare(page.Conversations, first && s.recency)
		next := page.NextCursor
		if s.recency {
			if next != nil && changed == len(page.Conversations) && changed > 0 {
				cursor = *next // everything on this page moved: look further
				continue
			}
			s.fallbackCur = ""
			s.nextDiscovery = s.cfg.Clock.Now().Add(s.cfg.DiscoveryInterval)
			return nil
		}
		// Fallback: one page per step, paced; a complete pass restarts from page 1.
		if next == nil {
			s.fallbackCur = ""
		} else {
			s.fallbackCur = *next
		}
		s.nextDiscovery = s.cfg.Clock.Now().Add(s.cfg.FallbackPageInterval)
		return nil
	}
}

// compare marks conversations whose listing shows a change since we last knew them and
// returns how many. With ranks (page 1 in recency order) a conversation that moved ahead of
// one it was behind, or entered page 1, had activity even if its last message looks the same.
func (s *Scheduler) compare(convs []partoo.Conversation, ranks bool) int {
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
		if c.LastMessage != nil {
			lm := lmSig{id: c.LastMessage.ID, status: c.LastMessage.Status, deleted: c.LastMessage.IsDeleted}
			known, ok := s.sig[c.ID]
			if !ok {
				// Never listed or walked: compare with the recorded state.
				st := s.cfg.State(c.ID)
				if st == nil {
					isChanged = true // never walked: its snapshot walk
				} else if j := st.Find(lm.id); j < 0 {
					isChanged = isChanged || c.LastMessage.SenderType.Known()
				} else {
					m := st.Messages[j]
					isChanged = isChanged || st.StatusOf(m) != lm.status || m.Deleted() != lm.deleted
				}
			} else if known != lm {
				isChanged = true
			}
			s.sig[c.ID] = lm
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

// checkRecency decides from page 1 whether the listing is ordered by recent activity: the
// last messages' dates must descend down the page, give or take RecencyTolerance, for at least
// RecencyThreshold of adjacent pairs. In id order they are as likely to rise as to fall.
func (s *Scheduler) checkRecency(convs []partoo.Conversation) {
	pairs, desc := 0, 0
	var prev *partoo.Message
	for i := range convs {
		lm := convs[i].LastMessage
		if lm == nil {
			continue
		}
		if prev != nil {
			pairs++
			// A status change or deletion moves a conversation up without changing its last
			// message's date, so allow some disorder: never more than RecencyTolerance.
			if !lm.Date.After(prev.Date.Add(s.cfg.RecencyTolerance)) {
				desc++
			}
		}
		prev = lm
	}
	if pairs < 5 {
		return // too little evidence: keep the current mode
	}
	ordered := float64(desc)/float64(pairs) >= s.cfg.RecencyThreshold
	if ordered != s.recency || !s.recencyKnown {
		s.recency, s.recencyKnown = ordered, true
		s.rank = map[int64]int{}
		s.fallbackCur = ""
	}
}
