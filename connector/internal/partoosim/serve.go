package partoosim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// How the simulator serves HTTP: authentication, the rate limit, latency and faults around
// every endpoint, and the answers' encoding.

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
		// The answer's Date is Partoo's clock (net/http would otherwise stamp the host's).
		rec.Header().Set("Date", s.clock.Now().UTC().Format(http.TimeFormat))
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
