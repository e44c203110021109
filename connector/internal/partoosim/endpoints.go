package partoosim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// The endpoints of the API: /messages, /conversations and /conversations/{id}.

func (s *Sim) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := perPage(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "json", map[string]string{"per_page": err.Error()})
		return
	}
	cid, err := strconv.ParseInt(q.Get("conversation_id"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "json", map[string]string{"conversation_id": "Missing data for required field."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	newest := s.cfg.Variant.NewestFirst
	kind := "m"
	if newest {
		kind = "n"
	}
	// Keyset cursors: "after message id N" (oldest first) or "before N" (newest first), so
	// they stay valid while messages arrive.
	var key int64
	hasCursor, ignored := false, false
	if cur := q.Get("cursor"); cur != "" {
		var c int64
		if c, key, err = decodeCursor(kind, cur); err != nil || c != cid {
			writeErr(w, http.StatusBadRequest, "json", map[string]string{"cursor": "Invalid cursor."})
			return
		}
		hasCursor = true
		if v := s.cfg.Variant.CursorIgnoredRatio; v > 0 && s.rnd.Float64() < v && s.mayGlitch(cid) {
			hasCursor, ignored = false, true // the first page again
		}
	}
	c, ok := s.convs[cid]
	if !ok {
		writeErr(w, http.StatusNotFound, "json", "Resource not found")
		return
	}
	var sel []*storedMessage
	if !newest {
		i := 0
		if hasCursor {
			i = sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].ID > key })
		}
		sel = c.msgs[i:min(i+n, len(c.msgs))]
	} else {
		end := len(c.msgs)
		if hasCursor {
			end = sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].ID >= key })
		}
		for i := end - 1; i >= 0 && len(sel) < n; i-- {
			sel = append(sel, c.msgs[i])
		}
	}
	served := sel
	if v := s.cfg.Variant.ShortPageRatio; v > 0 && len(sel) >= 2 && s.rnd.Float64() < v && s.mayGlitch(cid) {
		served = sel[:len(sel)-1] // a short page: the cursor still moves past the item left out
	}
	items := make([]any, len(served))
	for i, m := range served {
		items[i] = s.renderMessage(m)
	}
	next := ""
	if len(sel) > 0 {
		lastID := sel[len(sel)-1].ID
		more := (!newest && lastID < c.msgs[len(c.msgs)-1].ID) || (newest && lastID > c.msgs[0].ID)
		if more {
			next = encodeCursor(kind, cid, lastID)
			if ignored {
				next = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d:%d:%d", kind, cid, lastID, s.rnd.Int64())))
			}
		}
	}
	writeJSON(w, http.StatusOK, s.page("messages", items, len(c.msgs), next))
}

// spell makes a glitch last Variant.GlitchFor for its conversation: it returns the glitch a
// request of conversation cid suffers, given the one just drawn ("" for none). Call with mu
// held.
func (s *Sim) spell(cid, drawn string) string {
	id, _ := strconv.ParseInt(cid, 10, 64)
	d := s.cfg.Variant.GlitchFor
	if d <= 0 {
		if drawn != "" && !s.mayGlitch(id) {
			return ""
		}
		return drawn
	}
	now := s.clock.Now()
	if g, ok := s.glitches[id]; ok && now.Before(g.until) {
		return g.kind
	}
	if drawn != "" && !s.mayGlitch(id) {
		return ""
	}
	if drawn != "" {
		if s.glitches == nil {
			s.glitches = map[int64]glitchSpell{}
		}
		s.glitches[id] = glitchSpell{kind: drawn, until: now.Add(d)}
	}
	return drawn
}

// mayGlitch reports whether conversation id may suffer one more glitch, and counts it. Call
// with mu held.
func (s *Sim) mayGlitch(id int64) bool {
	limit := s.cfg.Variant.GlitchesPerConversation
	if limit <= 0 {
		return true
	}
	if s.glitched == nil {
		s.glitched = map[int64]int{}
	}
	if s.glitched[id] >= limit {
		return false
	}
	s.glitched[id]++
	return true
}

// glitchPage answers GET /messages with a 200 that is not the conversation: an empty page
// with the true count and no next cursor, or a null list with an error.
func (s *Sim) glitchPage(w http.ResponseWriter, r *http.Request, kind string) {
	cid, _ := strconv.ParseInt(r.URL.Query().Get("conversation_id"), 10, 64)
	s.mu.Lock()
	n := 0
	if c, ok := s.convs[cid]; ok {
		n = len(c.msgs)
	}
	s.mu.Unlock()
	if kind == "null" {
		writeJSON(w, http.StatusOK, object{{"messages", nil}, {"error", "backend timeout"}, {"count", n}, {"next_cursor", nil}})
		return
	}
	writeJSON(w, http.StatusOK, object{{"messages", []any{}}, {"count", n}, {"next_cursor", nil}})
}

func (s *Sim) getConversation(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if err != nil || !ok {
		writeErr(w, http.StatusNotFound, "json", "Resource not found")
		return
	}
	writeJSON(w, http.StatusOK, s.renderConversation(c))
}

func (s *Sim) listConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := perPage(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "json", map[string]string{"per_page": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var businesses map[string]bool
	if v := q.Get("business__in"); v != "" {
		businesses = map[string]bool{}
		for _, p := range strings.Split(v, ",") {
			businesses[strings.TrimSpace(p)] = true
		}
	}
	order := s.cfg.Order
	var ka, kb int64 // keyset: (activity µs, id) for recent, (id) for id order
	hasCursor := false
	if cur := q.Get("cursor"); cur != "" {
		if ka, kb, err = decodeCursor("c"+string(order), cur); err != nil {
			writeErr(w, http.StatusBadRequest, "json", map[string]string{"cursor": "Invalid cursor."})
			return
		}
		hasCursor = true
	}
	all := make([]*conv, 0, len(s.convs))
	for _, c := range s.convs {
		if businesses == nil || businesses[s.cfg.Variant.businessKey(c.BusinessID)] {
			all = append(all, c)
		}
	}
	key := func(c *conv) (int64, int64) {
		if order == OrderID {
			return c.ID, 0
		}
		return c.activity.UnixMicro(), c.ID
	}
	// before reports whether a comes before b in the listing.
	before := func(a1, a2, b1, b2 int64) bool {
		if order == OrderID {
			return a1 < b1
		}
		return a1 > b1 || (a1 == b1 && a2 > b2)
	}
	sort.Slice(all, func(i, j int) bool {
		a1, a2 := key(all[i])
		b1, b2 := key(all[j])
		return before(a1, a2, b1, b2)
	})
	start := 0
	if hasCursor {
		start = sort.Search(len(all), func(i int) bool {
			a1, a2 := key(all[i])
			return before(ka, kb, a1, a2)
		})
	}
	end := min(start+n, len(all))
	items := make([]any, 0, end-start)
	for _, c := range all[start:end] {
		items = append(items, s.renderConversation(c))
	}
	next := ""
	if end < len(all) {
		a1, a2 := key(all[end-1])
		next = encodeCursor("c"+string(order), a1, a2)
	}
	writeJSON(w, http.StatusOK, s.page("conversations", items, len(all), next))
}
