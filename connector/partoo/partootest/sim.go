package partootest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
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
	ErrorRatio     float64       // share of requests answered 500/502/503
	MalformedRatio float64       // share of 200 answers with a truncated JSON body
	Latency        time.Duration // added before every /v2 answer
}

// Config configures a Sim.
type Config struct {
	APIKey            string        // required key; default "test-key"
	RequestsPerMinute int           // rate limit; default 300, negative disables it
	Window            time.Duration // rate limit window; default 60 s
	Order             Order         // default OrderRecent
	Faults            Faults
	Seed              uint64
	Clock             partoo.Clock // default partoo.RealClock
}

// Sim is the simulator. All methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	clock partoo.Clock

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
	onChange  func(Change)
}

// New returns an empty simulator.
func New(cfg Config) *Sim {
	if cfg.APIKey == "" {
		cfg.APIKey = "test-key"
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = partoo.DefaultRequestsPerMinute
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.Order == "" {
		cfg.Order = OrderRecent
	}
	if cfg.Clock == nil {
		cfg.Clock = partoo.RealClock{}
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
func (s *Sim) Clock() partoo.Clock { return s.clock }

// APIKey returns the key the simulator accepts.
func (s *Sim) APIKey() string { return s.cfg.APIKey }

// SetFaults replaces the fault injection settings.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.cfg.Faults = f
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
}

// Counters returns a copy of the request counters.
func (s *Sim) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Counters{ByEndpoint: map[string]map[int]int64{}, MaxPerWindow: s.maxInWin, Throttled: s.throttled}
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

// Serve starts the simulator on a loopback port for the test and returns its /v2 base URL.
func (s *Sim) Serve(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/v2"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// api wraps an endpoint with auth, rate limiting, fault injection and counting.
func (s *Sim) api(label string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.count(label, rec.status) }()

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
		s.mu.Lock()
		f := s.cfg.Faults
		fail := f.ErrorRatio > 0 && s.rnd.Float64() < f.ErrorRatio
		malformed := f.MalformedRatio > 0 && s.rnd.Float64() < f.MalformedRatio
		codes := []int{500, 502, 503}
		code := codes[s.rnd.IntN(len(codes))]
		s.mu.Unlock()
		if f.Latency > 0 {
			if err := s.clock.Sleep(r.Context(), f.Latency); err != nil {
				return
			}
		}
		if fail {
			writeErr(rec, code, "server", "Internal error")
			return
		}
		if malformed {
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(http.StatusOK)
			_, _ = rec.Write([]byte(`{"messages": [{"id": 1, "conversation_id"`))
			return
		}
		h(rec, r)
	}
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
	if len(parts) != 3 || parts[0] != kind {
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
	var after int64
	if cur := q.Get("cursor"); cur != "" {
		var c int64
		if c, after, err = decodeCursor("m", cur); err != nil || c != cid {
			writeErr(w, http.StatusBadRequest, "json", map[string]string{"cursor": "Invalid cursor."})
			return
		}
	}
	s.mu.Lock()
	c, ok := s.convs[cid]
	if !ok {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "json", "Resource not found")
		return
	}
	i := sort.Search(len(c.msgs), func(i int) bool { return c.msgs[i].ID > after })
	end := min(i+n, len(c.msgs))
	page := partoo.MessagePage{Messages: make([]partoo.Message, 0, end-i), Count: len(c.msgs)}
	for _, m := range c.msgs[i:end] {
		page.Messages = append(page.Messages, *m)
	}
	if end < len(c.msgs) {
		cur := encodeCursor("m", cid, c.msgs[end-1].ID)
		page.NextCursor = &cur
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page)
}

func (s *Sim) getConversation(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	c, ok := s.convs[id]
	var v partoo.Conversation
	if ok {
		v = s.conversationView(c)
	}
	s.mu.Unlock()
	if err != nil || !ok {
		writeErr(w, http.StatusNotFound, "json", "Resource not found")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) listConversations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := perPage(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "json", map[string]string{"per_page": err.Error()})
		return
	}
	var businesses map[int64]bool
	if v := q.Get("business__in"); v != "" {
		businesses = map[int64]bool{}
		for _, p := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				writeErr(w, http.StatusBadRequest, "json", map[string]string{"business__in": "Not a valid list of integers."})
				return
			}
			businesses[id] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
		if businesses == nil || businesses[c.c.Business.ID] {
			all = append(all, c)
		}
	}
	key := func(c *conv) (int64, int64) {
		if order == OrderID {
			return c.c.ID, 0
		}
		return c.activity.UnixMicro(), c.c.ID
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
	page := partoo.ConversationPage{Conversations: make([]partoo.Conversation, 0, end-start), Count: len(all)}
	for _, c := range all[start:end] {
		page.Conversations = append(page.Conversations, s.conversationView(c))
	}
	if end < len(all) {
		a1, a2 := key(all[end-1])
		cur := encodeCursor("c"+string(order), a1, a2)
		page.NextCursor = &cur
	}
	writeJSON(w, http.StatusOK, page)
}
