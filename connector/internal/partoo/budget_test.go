package partoo_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// TestSharedBudgetBacksOff: another integration of the organisation spends half of the 300
// requests a minute; our client, configured for all 300, must learn from the 429s (lower its
// rate, then probe upwards slowly) instead of hitting the limit again and again.
func TestSharedBudgetBacksOff(t *testing.T) {
	clk := clock.NewEvent(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: testKey, RequestsPerMinute: 300, Clock: clk})
	c := sim.CreateConversation(partoosim.ConversationSpec{})
	_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	ours := newClient(t, "http://sim/v2", func(cfg *partoo.Config) {
		cfg.Clock, cfg.RequestsPerMinute = clk, 300
		cfg.HTTPClient = &http.Client{Transport: sim.Transport()}
		cfg.BackoffBase, cfg.BackoffMax = time.Second, 10*time.Second
	})
	other := &http.Client{Transport: sim.Transport()}
	ctx := context.Background()
	const minutes = 20
	end := clk.Now().Add(minutes * time.Minute)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var ourOK, otherOK, otherThrottled int
	minRate := 300.0
	actors := []func(){func() { // the other integration: 150 requests a minute, come what may
		defer wg.Done()
		for clk.Now().Before(end) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://sim/v2/conversations", nil)
			req.Header.Set("x-APIKey", testKey)
			resp, err := other.Do(req)
			if err == nil {
				mu.Lock()
				if resp.StatusCode == http.StatusOK {
					otherOK++
				} else {
					otherThrottled++
				}
				mu.Unlock()
				resp.Body.Close()
			}
			_ = clock.Sleep(ctx, clk, 400*time.Millisecond)
		}
	}}
	for g := 0; g < 4; g++ {
		actors = append(actors, func() {
			defer wg.Done()
			for clk.Now().Before(end) {
				_, err := ours.ListMessages(ctx, c.ID, 0, "")
				mu.Lock()
				if err == nil {
					ourOK++
				}
				minRate = min(minRate, ours.Budget().RatePerMinute())
				mu.Unlock()
			}
		})
	}
	wg.Add(len(actors))
	clk.Start(actors...) // together: the result does not depend on this goroutine's speed
	wg.Wait()
	st := ours.Budget().Stats()
	t.Logf("ours: %d ok (%.0f/min), %d 429s, lowest rate %.0f/min; other: %d ok, %d 429s",
		ourOK, float64(ourOK)/minutes, st.RateLimited, minRate, otherOK, otherThrottled)
	if minRate >= 300 {
		t.Fatal("the rate never went down")
	}
	// A client that ignores the 429s would collect one every few seconds (hundreds); one that
	// backs off multiplicatively and probes additively collects a few per probe cycle.
	if st.RateLimited > 5*minutes {
		t.Fatalf("%d 429s in %d minutes: the client keeps hitting the limit", st.RateLimited, minutes)
	}
	// A good neighbour leaves the other integration its share: few of its requests refused.
	if share := float64(otherThrottled) / float64(otherOK+otherThrottled); share > 0.1 {
		t.Fatalf("%.0f %% of the other integration's requests got 429: we crowd it out", share*100)
	}
	if perMin := float64(ourOK) / minutes; perMin < 90 {
		t.Fatalf("%.0f requests a minute: the client starved itself", perMin)
	}
}

// recorder is an Observer that keeps what it hears.
type recorder struct {
	mu       sync.Mutex
	attempts []partoo.Attempt
	skipped  []partoo.SkippedItem
}

func (r *recorder) OnAttempt(a partoo.Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}
func (r *recorder) OnSkipped(s partoo.SkippedItem) {
	r.mu.Lock()
	r.skipped = append(r.skipped, s)
	r.mu.Unlock()
}
func (r *recorder) OnRateLimited(time.Duration)  {}
func (r *recorder) OnBudgetWaited(time.Duration) {}

// TestEveryAttemptIsObservedAndLogged: an HTML page with status 200 is an error (never a
// success) that is retried; a page with a bad item succeeds and reports the item; at debug
// level each attempt is one log line without the key.
func TestEveryAttemptIsObservedAndLogged(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>Please sign in</body></html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"messages": [{"id": 1, "date": "never"}, {"id": 2, "date": "2023-01-31 16:22:17+00:00"}], "next_cursor": null}`))
	}))
	defer srv.Close()
	rec := &recorder{}
	var skips []partoo.SkippedItem
	var logs bytes.Buffer
	cl := newClient(t, srv.URL, func(cfg *partoo.Config) {
		// A hook may hear only part of what happens: the client calls what it implements.
		cfg.Hooks = []partoo.Hook{rec, onlySkips{&skips}, "not a hook"}
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	walk, err := cl.Messages(context.Background(), 9)
	if err != nil {
		t.Fatal(err)
	}
	if len(walk.Messages) != 1 || len(walk.Skipped) != 1 || walk.Skipped[0].ID != 1 || walk.Skipped[0].Reason != partoo.SkipBadDate {
		t.Fatalf("walk = %+v", walk)
	}
	if len(rec.attempts) != 2 {
		t.Fatalf("attempts = %+v", rec.attempts)
	}
	if len(skips) != 1 || skips[0].ID != 1 {
		t.Fatalf("a hook of skipped items only heard %+v", skips)
	}
	first, second := rec.attempts[0], rec.attempts[1]
	if first.Status != 200 || partoo.ErrorKind(first.Err) != partoo.KindNonJSON || !first.Retrying || first.Number != 1 {
		t.Fatalf("first attempt = %+v", first)
	}
	if second.Err != nil || second.Number != 2 || second.Bytes == 0 || !strings.Contains(second.Path, "conversation_id=9") {
		t.Fatalf("second attempt = %+v", second)
	}
	if len(rec.skipped) != 1 {
		t.Fatalf("skipped = %+v", rec.skipped)
	}
	out := logs.String()
	if strings.Count(out, "partoo request") != 2 || !strings.Contains(out, "error_kind=non_json") || !strings.Contains(out, "status=200") {
		t.Fatalf("debug log:\n%s", out)
	}
	if strings.Contains(out, testKey) {
		t.Fatal("the key leaked into the log")
	}
}

// TestTimeoutIsItsOwnKind: a server that accepts and never answers gives a timeout error
// after RequestTimeout, retried.
func TestTimeoutIsItsOwnKind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	rec := &recorder{}
	cl := newClient(t, srv.URL, func(cfg *partoo.Config) {
		cfg.RequestTimeout, cfg.RequestAttempts, cfg.Hooks = 100*time.Millisecond, 2, []partoo.Hook{rec}
	})
	_, err := cl.ListConversations(context.Background(), partoo.ListConversationsParams{})
	if partoo.ErrorKind(err) != partoo.KindTimeout || !strings.Contains(err.Error(), "no answer within 100ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v (kind %s)", err, partoo.ErrorKind(err))
	}
	if len(rec.attempts) != 2 || !rec.attempts[0].Retrying || rec.attempts[1].Retrying {
		t.Fatalf("attempts = %+v", rec.attempts)
	}
	// A listing that asks for one attempt gets one.
	rec.attempts = nil
	_, _ = cl.ListConversations(context.Background(), partoo.ListConversationsParams{MaxAttempts: 1})
	if len(rec.attempts) != 1 {
		t.Fatalf("attempts = %d, want 1", len(rec.attempts))
	}
}

// onlySkips hears skipped items and nothing else.
type onlySkips struct{ got *[]partoo.SkippedItem }

func (o onlySkips) OnSkipped(s partoo.SkippedItem) { *o.got = append(*o.got, s) }
