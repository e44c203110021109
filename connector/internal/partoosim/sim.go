package partoosim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// Order is how GET /conversations orders conversations.
type Order string

// Conversation orders.
const (
	OrderRecent Order = "recent" // most recent activity first (default; our assumption)
	OrderID     Order = "id"     // ascending id
)

// Faults are injected into /v2 answers; all off by default.
type Faults struct {
	ErrorRatio     float64 // share of requests answered 500/502/503
	MalformedRatio float64 // share of 200 answers with a truncated JSON body
	// Latency is the median time a request takes to reach the simulator, which counts it
	// against the rate limit on arrival: with LatencyP99 above it, latencies are log-normal
	// (arrivals bunch up as a real network makes them); else every request takes Latency.
	Latency    time.Duration
	LatencyP99 time.Duration
}

// Config configures a Sim.
type Config struct {
	APIKey            string        // required key; default "test-key"
	RequestsPerMinute int           // rate limit; default 300, negative disables it
	Window            time.Duration // rate limit window; default 60 s
	Order             Order         // default OrderRecent
	Faults            Faults
	Variant           Variant // how the API's answers are shaped (see Variant); zero: the classic shape
	Seed              uint64
	Clock             clock.Clock // default partoo.RealClock
}

// Sim is the simulator. All methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	clock clock.Clock

	mu         sync.Mutex
	convs      map[int64]*conv
	msgs       map[int64]*conv // message id → conversation
	nextConvID int64
	nextMsgID  int64
	changes    []Change
	rnd        *rand.Rand

	// rate limiting and counters
	accepted  []time.Time // accepted request times within the window
	counters  map[string]map[int]int64
	maxInWin  int
	throttled int64
	active    int // requests in progress
	maxActive int
	onChange  func(Change)
	glitches  map[int64]glitchSpell // conversation → a glitch that lasts (Variant.GlitchFor)
	glitched  map[int64]int         // conversation → glitches suffered (Variant.GlitchesPerConversation)
}

// glitchSpell is a glitch one conversation's listing suffers until a time.
type glitchSpell struct {
	kind  string
	until time.Time
}

// New returns an empty simulator.
func New(cfg Config) *Sim {
	if cfg.APIKey == "" {
		cfg.APIKey = "test-key"
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = budget.DefaultRequestsPerMinute
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.Order == "" {
		cfg.Order = OrderRecent
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Sim{cfg: cfg, clock: cfg.Clock}
	s.reset()
	return s
}

func (s *Sim) reset() {
	s.convs = map[int64]*conv{}
	s.msgs = map[int64]*conv{}
	s.nextConvID, s.nextMsgID = 0, 0
	s.changes = nil
	s.rnd = rand.New(rand.NewPCG(s.cfg.Seed, 0x5eed))
	s.accepted = nil
	s.counters = map[string]map[int]int64{}
	s.maxInWin = 0
	s.throttled = 0
}

// Reset empties the organisation, the change log and the counters.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// Clock returns the simulator's clock.
func (s *Sim) Clock() clock.Clock { return s.clock }

// APIKey returns the key the simulator accepts.
func (s *Sim) APIKey() string { return s.cfg.APIKey }

// SetFaults replaces the fault injection settings.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.cfg.Faults = f
	s.mu.Unlock()
}

// SetVariant replaces the shape of the API's answers.
func (s *Sim) SetVariant(v Variant) {
	s.mu.Lock()
	s.cfg.Variant = v
	s.mu.Unlock()
}

// OnChange registers f to be called for every change, with the simulator's lock held: f must
// be quick and must not call the Sim. Used to deliver webhooks in benchmarks.
func (s *Sim) OnChange(f func(Change)) {
	s.mu.Lock()
	s.onChange = f
	s.mu.Unlock()
}

// SetOrder switches the conversation order.
func (s *Sim) SetOrder(o Order) {
	s.mu.Lock()
	s.cfg.Order = o
	s.mu.Unlock()
}

// Counters are request counts for tests and benchmarks.
type Counters struct {
	// ByEndpoint maps an endpoint label ("/v2/messages", …) to counts by HTTP status.
	ByEndpoint map[string]map[int]int64 `json:"by_endpoint"`
	// MaxPerWindow is the largest number of accepted requests seen in any rate-limit window.
	MaxPerWindow int `json:"max_per_window"`
	// Throttled is the number of 429 answers.
	Throttled int64 `json:"throttled"`
	// Total is the number of /v2 requests answered.
	Total int64 `json:"total"`
	// MaxConcurrent is the most /v2 requests ever in progress at once.
	MaxConcurrent int `json:"max_concurrent"`
}

// Counters returns a copy of the request counters.
func (s *Sim) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Counters{ByEndpoint: map[string]map[int]int64{}, MaxPerWindow: s.maxInWin, Throttled: s.throttled, MaxConcurrent: s.maxActive}
	for ep, m := range s.counters {
		out.ByEndpoint[ep] = map[int]int64{}
		for st, n := range m {
			out.ByEndpoint[ep][st] = n
			out.Total += n
		}
	}
	return out
}

// Handler serves /v2 (the API) and /_sim/ (admin).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/conversations", s.api("/v2/conversations", s.listConversations))
	mux.HandleFunc("GET /v2/conversations/{id}", s.api("/v2/conversations/{id}", s.getConversation))
	mux.HandleFunc("GET /v2/messages", s.api("/v2/messages", s.listMessages))
	mux.HandleFunc("/v2/", s.api("other", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "json", "Resource not found")
	}))
	s.adminRoutes(mux)
	return mux
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// api wraps an endpoint with latency, auth, rate limiting, fault injection and counting.
func (s *Sim) api(label string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.count(label, rec.status) }()

		s.mu.Lock()
		s.active++
		s.maxActive = max(s.maxActive, s.active)
		defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
		f, v := s.cfg.Faults, s.cfg.Variant
		roll := func(p float64) bool { return p > 0 && s.rnd.Float64() < p }
		hang := roll(v.HangRatio)
		latency := s.latency(f)
		fail, htmlErr, htmlOK, malformed := roll(f.ErrorRatio), roll(v.HTMLErrorRatio), roll(v.HTMLOKRatio), roll(f.MalformedRatio)
		epoch429 := roll(v.RetryAfterEpochRatio)
		glitch := ""
		if label == "/v2/messages" {
			switch {
			case roll(v.EmptyGlitchRatio):
				glitch = "empty"
			case roll(v.NullMessagesRatio):
				glitch = "null"
			}
			glitch = s.spell(r.URL.Query().Get("conversation_id"), glitch)
		}
		ahead := 1 + s.rnd.IntN(3)
		code := []int{500, 502, 503}[s.rnd.IntN(3)]
		s.mu.Unlock()
		if hang {
			// Accepted, never answered: the client's own timeout is the only way out.
			<-r.Context().Done()
			rec.status = 0
			return
		}
		if latency > 0 {
			if err := clock.Sleep(r.Context(), s.clock, latency); err != nil {
				return
			}
		}
		if r.Header.Get("x-APIKey") != s.cfg.APIKey {
			writeErr(rec, http.StatusUnauthorized, "authentication", "User not authenticated")
			return
		}
		if wait, ok := s.admit(); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			rec.Header().Set("Retry-After", strconv.Itoa(secs))
			writeErr(rec, http.StatusTooManyRequests, "rate_limit", "Too many requests")
			return
		}
		switch {
		case epoch429:
			// Some servers send the time to retry at, as an epoch timestamp.
			rec.Header().Set("Retry-After", strconv.FormatInt(s.clock.Now().Add(time.Duration(ahead)*time.Second).Unix(), 10))
			writeErr(rec, http.StatusTooManyRequests, "rate_limit", "Too many requests")
		case glitch != "":
			s.glitchPage(rec, r, glitch)
		case fail:
			writeErr(rec, code, "server", "Internal error")
		case htmlErr:
			writeHTML(rec, http.StatusBadGateway, "502 Bad Gateway")
		case htmlOK:
			writeHTML(rec, http.StatusOK, "Please sign in")
		case malformed:
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(http.StatusOK)
			_, _ = rec.Write([]byte(`{"messages": [{"id": 1, "conversation_id"`))
		default:
			h(rec, r)
		}
	}
}

// latency draws one request's latency. Call with mu held.
func (s *Sim) latency(f Faults) time.Duration {
	if f.Latency <= 0 || f.LatencyP99 <= f.Latency {
		return f.Latency
	}
	// Log-normal with the given median and 99th percentile (z = 2.326).
	sigma := math.Log(float64(f.LatencyP99)/float64(f.Latency)) / 2.326
	return time.Duration(float64(f.Latency) * math.Exp(sigma*s.rnd.NormFloat64()))
}

func writeHTML(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%s</title></head><body><h1>%s</h1><p>nginx</p></body></html>\n", title, title)
}

// admit applies the sliding-window rate limit; when refused it says how long until a slot.
func (s *Sim) admit() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.RequestsPerMinute < 0 {
		return 0, true
	}
	now := s.clock.Now()
	cut := 0
	for cut < len(s.accepted) && now.Sub(s.accepted[cut]) >= s.cfg.Window {
		cut++
	}
	s.accepted = s.accepted[cut:]
	if len(s.accepted) >= s.cfg.RequestsPerMinute {
		s.throttled++
		return s.accepted[0].Add(s.cfg.Window).Sub(now), false
	}
	s.accepted = append(s.accepted, now)
	if len(s.accepted) > s.maxInWin {
		s.maxInWin = len(s.accepted)
	}
	return 0, true
}

func (s *Sim) count(label string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.counters[label]
	if m == nil {
		m = map[int]int64{}
		s.counters[label] = m
	}
	m[status]++
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	if o, ok := v.(object); ok {
		_ = writeValue(&b, o) // our own objects: no second pass through encoding/json
		b.WriteByte('\n')
	} else {
		_ = json.NewEncoder(&b).Encode(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// writeErr writes Partoo's error shape: {"error": {kind: detail}}.
func writeErr(w http.ResponseWriter, status int, kind string, detail any) {
	writeJSON(w, status, map[string]any{"error": map[string]any{kind: detail}})
}

func perPage(r *http.Request) (int, error) {
	v := r.URL.Query().Get("per_page")
	if v == "" {
		return 30, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("per_page must be an integer between 1 and 100")
	}
	return n, nil
}

// Cursors are opaque to clients: base64 of "kind:key1:key2".
func encodeCursor(kind string, a, b int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d:%d", kind, a, b)))
}

func decodeCursor(kind, cur string) (int64, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid cursor")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) < 3 || parts[0] != kind {
		return 0, 0, fmt.Errorf("invalid cursor")
	}
	a, err1 := strconv.ParseInt(parts[1], 10, 64)
	b, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("invalid cursor")
	}
	return a, b, nil
}

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
