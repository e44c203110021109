package partoo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

const testKey = "k3y-s3cr3t-value"

func newClient(t *testing.T, baseURL string, mod func(*partoo.Config)) *partoo.Client {
	t.Helper()
	cfg := partoo.Config{
		APIURL:      baseURL,
		APIKey:      secret.New(testKey),
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		// Tests that are not about the budget must not wait for it.
		RequestsPerMinute: 600_000,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := partoo.New(cfg)
	if err != nil {
		t.Fatalf("partoo.New: %v", err)
	}
	return c
}

func newSim(t *testing.T, cfg partoosim.Config) (*partoosim.Sim, string) {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = -1
	}
	s := partoosim.New(cfg)
	return s, simtest.Serve(t, s)
}

func TestWalkSameMessagesWhateverThePageSize(t *testing.T) {
	sim, url := newSim(t, partoosim.Config{})
	c := sim.CreateConversation(partoosim.ConversationSpec{})
	for i := 0; i < 250; i++ {
		if _, err := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, Content: fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	want := sim.Messages(c.ID)
	for _, per := range []int{1, 7, 100} {
		t.Run(fmt.Sprint("per_page=", per), func(t *testing.T) {
			cl := newClient(t, url, func(cfg *partoo.Config) { cfg.PerPage = per })
			pages := 0
			var got []model.Message
			err := cl.WalkMessages(context.Background(), c.ID, func(p *partoo.MessagePage) error {
				pages++
				if len(p.Messages) > per {
					t.Errorf("page of %d messages with per_page %d", len(p.Messages), per)
				}
				got = append(got, p.Messages...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if wantPages := (250 + per - 1) / per; pages != wantPages {
				t.Errorf("pages = %d, want %d", pages, wantPages)
			}
			if len(got) != len(want) {
				t.Fatalf("walked %d messages, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || got[i].Content != want[i].Content || !got[i].Date.Equal(want[i].Date.Time) {
					t.Fatalf("message %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestAuthFailuresAreTypedAndNotRetried(t *testing.T) {
	sim, url := newSim(t, partoosim.Config{})
	sim.CreateConversation(partoosim.ConversationSpec{})
	cl := newClient(t, url, func(cfg *partoo.Config) { cfg.APIKey = secret.New("wrong-" + testKey) })
	_, err := cl.ListMessages(context.Background(), 1, 0, "")
	if !errors.Is(err, partoo.ErrUnauthorized) || !partoo.IsAuth(err) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Fatalf("error message leaks the key: %v", err)
	}
	if !strings.Contains(err.Error(), "API key was rejected") {
		t.Errorf("error should say the key was rejected: %v", err)
	}
	if n := sim.Counters().ByEndpoint["/v2/messages"][401]; n != 1 {
		t.Errorf("401 answered %d times, want 1 (no retry)", n)
	}

	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error": {"authorization": "Operation not allowed"}}`))
	}))
	defer forbidden.Close()
	_, err = newClient(t, forbidden.URL, nil).ListConversations(context.Background(), partoo.ListConversationsParams{})
	if !errors.Is(err, partoo.ErrForbidden) || partoo.IsRetryable(err) {
		t.Fatalf("err = %v, want non-retryable ErrForbidden", err)
	}
	if !strings.Contains(err.Error(), "lacks the right") {
		t.Errorf("error should say the key lacks the right: %v", err)
	}
}

func TestGoneConversationAndBadRequestsAreNotRetried(t *testing.T) {
	sim, url := newSim(t, partoosim.Config{})
	cl := newClient(t, url, nil)
	_, err := cl.GetConversation(context.Background(), 999)
	if !errors.Is(err, partoo.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	_, err = cl.ListMessages(context.Background(), 999, 0, "")
	if !errors.Is(err, partoo.ErrNotFound) {
		t.Fatalf("messages of unknown conversation: err = %v, want ErrNotFound", err)
	}
	_, err = cl.ListMessages(context.Background(), 1, 101, "")
	var ae *partoo.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("per_page 101: err = %v, want a 400 APIError", err)
	}
	c := sim.Counters()
	if c.ByEndpoint["/v2/messages"][400] != 1 || c.ByEndpoint["/v2/conversations/{id}"][404] != 1 {
		t.Errorf("counters %v: each error must be answered once, not retried", c.ByEndpoint)
	}
}

func TestRetryAfterPausesTheWholeClient(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim, url := newSim(t, partoosim.Config{RequestsPerMinute: 3, Clock: clock})
	sim.CreateConversation(partoosim.ConversationSpec{})
	// The client believes it may send 1000/min: only the server's 429 can slow it down.
	cl := newClient(t, url, func(cfg *partoo.Config) {
		cfg.Clock = clock
		cfg.RequestsPerMinute = 1000
		cfg.MaxRetryTime = 10 * time.Minute
	})
	start := clock.Now()
	for i := 0; i < 4; i++ {
		if _, err := cl.ListMessages(context.Background(), 1, 0, ""); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	cnt := sim.Counters()
	if cnt.Throttled != 1 {
		t.Fatalf("throttled %d times, want exactly 1 (the client must wait Retry-After, not hammer)", cnt.Throttled)
	}
	// The 4th request hit the limit at ~start and could only pass 60 s later.
	if waited := clock.Now().Sub(start); waited < time.Minute {
		t.Fatalf("virtual time advanced %v, want ≥ 60s (Retry-After)", waited)
	}
	if !cl.Budget().PausedUntil().After(start) {
		t.Fatal("a 429 must pause the shared budget")
	}
	// Every later request, from any caller, waits for the pause.
	b, _ := budget.New(budget.Config{RequestsPerMinute: 1000, Clock: clock})
	b.Pause(clock.Now().Add(30 * time.Second))
	before := clock.Now()
	if err := b.Wait(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if d := clock.Now().Sub(before); d < 30*time.Second {
		t.Fatalf("Wait returned after %v of a 30s pause", d)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	sim, _ := newSim(t, partoosim.Config{})
	sim.CreateConversation(partoosim.ConversationSpec{})
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3: // a truncated body
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"messages": [{"id": 1,`))
		default:
			r.URL.Path = "/v2" + r.URL.Path
			r.Header.Set("x-APIKey", testKey)
			sim.Handler().ServeHTTP(w, r)
		}
	}))
	defer flaky.Close()
	cl := newClient(t, flaky.URL, nil)
	if _, err := cl.ListMessages(context.Background(), 1, 0, ""); err != nil {
		t.Fatalf("after two 5xx and a truncated body the 4th attempt should succeed: %v", err)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}

	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer always.Close()
	cl = newClient(t, always.URL, func(cfg *partoo.Config) { cfg.RequestAttempts = 3 })
	_, err := cl.ListMessages(context.Background(), 1, 0, "")
	var ae *partoo.APIError
	if !errors.As(err, &ae) || ae.Status != 500 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("err = %v, want a 500 after 3 attempts", err)
	}
}

func TestBadBodiesGiveClearErrors(t *testing.T) {
	cases := []struct {
		name, ctype, body, want string
	}{
		{"html", "text/html", "<html>proxy error</html>", `not JSON (Content-Type text/html); body starts "<html>proxy error</html>"`},
		{"html without content type", "", "<!DOCTYPE html><html>502</html>", `not JSON; body starts "<!DOCTYPE html>`},
		{"malformed", "application/json", `{"messages": [}`, "unusable JSON body: invalid character"},
		{"truncated", "application/json", `{"messages": [{"id": 1, "date": "2023-01-31 16:22`, "unusable JSON body: unexpected end"},
		{"wrong shape", "application/json", `{"data": []}`, `no "messages" array`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cl := newClient(t, srv.URL, func(cfg *partoo.Config) { cfg.RequestAttempts = 2 })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := cl.Messages(ctx, 1)
			var de *partoo.DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "200 answer") {
				t.Fatalf("err = %v, want a DecodeError mentioning %q", err, tc.want)
			}
			if kind := partoo.ErrorKind(err); (kind == partoo.KindNonJSON) != strings.HasPrefix(tc.name, "html") {
				t.Fatalf("kind %s", kind)
			}
		})
	}
}

func TestCursorLoopAndPageLimit(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		i := n.Add(1)
		next := fmt.Sprint(i)
		switch r.URL.Query().Get("conversation_id") {
		case "1":
			next = "same" // a loop: the second page points at itself
		case "3":
			// A server that ignores the cursor: the same message, a new cursor each time.
			fmt.Fprintf(w, `{"messages": [{"id": 1, "conversation_id": 3, "date": "2023-01-31 16:22:17.327878+00:00"}], "count": 1, "next_cursor": %q}`, next)
			return
		case "4":
			// count 150 at 100 per page: 2 pages, and slack for 2 more; then the walk is cut.
			fmt.Fprintf(w, `{"messages": [{"id": %d, "conversation_id": 4, "date": "2023-01-31 16:22:17.327878+00:00"}], "count": 150, "next_cursor": %q}`, i, next)
			return
		}
		// No count: only Config.MaxPages bounds the walk.
		fmt.Fprintf(w, `{"messages": [{"id": %d, "conversation_id": 1, "date": "2023-01-31 16:22:17.327878+00:00"}], "next_cursor": %q}`, i, next)
	}))
	defer srv.Close()
	cl := newClient(t, srv.URL, func(cfg *partoo.Config) { cfg.MaxPages = 50 })
	if _, err := cl.Messages(context.Background(), 1); !errors.Is(err, partoo.ErrCursorLoop) {
		t.Fatalf("err = %v, want ErrCursorLoop", err)
	}
	n.Store(0)
	if _, err := cl.Messages(context.Background(), 2); !errors.Is(err, partoo.ErrTooManyPages) {
		t.Fatalf("err = %v, want ErrTooManyPages", err)
	}
	if got := n.Load(); got != 50 {
		t.Fatalf("%d pages fetched, want the limit of 50", got)
	}
	n.Store(0)
	w, err := cl.Messages(context.Background(), 3)
	if !errors.Is(err, partoo.ErrNoProgress) || partoo.ErrorKind(err) != partoo.KindPagination || !strings.Contains(err.Error(), "conversation 3") {
		t.Fatalf("err = %v, want ErrNoProgress naming the conversation", err)
	}
	if got := n.Load(); got != 2 || len(w.Messages) != 2 || w.Distinct != 1 {
		t.Fatalf("%d pages fetched, walk %+v: want the walk to stop at the first page with nothing new", got, w)
	}
	n.Store(0)
	if _, err := cl.Messages(context.Background(), 4); !errors.Is(err, partoo.ErrTooManyPages) || !strings.Contains(err.Error(), "count 150") {
		t.Fatalf("err = %v, want ErrTooManyPages from the count", err)
	}
	if got := n.Load(); got != 4 {
		t.Fatalf("%d pages fetched, want 4 (2 for count 150, 2 of slack)", got)
	}
}

func TestShortWalk(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("cursor") == "" {
			_, _ = w.Write([]byte(`{"messages": [{"id": 1, "conversation_id": 5, "date": "2023-01-31 16:22:17+00:00"}, {"id": "bad"}], "count": 3, "next_cursor": "p2"}`))
			return
		}
		_, _ = w.Write([]byte(`{"messages": [], "count": 3, "next_cursor": null}`))
	}))
	defer srv.Close()
	cl := newClient(t, srv.URL, nil)
	w, err := cl.Messages(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if !w.HasCount || w.Count != 3 || w.Distinct != 2 || !w.Short() {
		t.Fatalf("walk %+v: want 2 distinct of count 3, short", w)
	}
}

func TestUnknownEnumValuesAreKept(t *testing.T) {
	sim, url := newSim(t, partoosim.Config{})
	c := sim.CreateConversation(partoosim.ConversationSpec{Partner: "Telegram"})
	if _, err := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, SenderType: "Bot", ContentType: "Carousel", Status: "Queued"}); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, url, nil)
	walk, err := cl.Messages(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := walk.Messages[0]
	if m.SenderType != "Bot" || m.ContentType != "Carousel" || m.Status != "Queued" {
		t.Fatalf("raw values not kept: %+v", m)
	}
	if m.SenderType.Known() || m.ContentType.Known() || m.Status.Known() {
		t.Fatal("unknown values must report Known() == false")
	}
	page, err := cl.ListConversations(context.Background(), partoo.ListConversationsParams{})
	if err != nil {
		t.Fatal(err)
	}
	if p := page.Conversations[0].MessagingPartner; p != "Telegram" || p.Known() {
		t.Fatalf("messaging_partner = %q (known %v), want raw Telegram", p, p.Known())
	}
}

func TestContextCancellationStopsWaiting(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	cl := newClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.ListMessages(ctx, 1, 0, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if d := time.Since(start); d > 30*time.Second { // not waiting for the server's answer at all
		t.Fatalf("returned %v after the deadline", d)
	}
}

// TestBudgetHoldsUnderFiftyGoroutines hammers one client from 50 goroutines for three
// (virtual) minutes against a simulator limiting at the same 300/min: the simulator must
// never answer 429, no 60 s window may hold more than 300 requests, and the budget must be
// used (not starved). Time is a clock.Event, so the result does not depend on how busy the
// machine is. With jittered latency (the simulator counts a request when it arrives) the
// budget's margin must grow with the observed latencies.
func TestBudgetHoldsUnderFiftyGoroutines(t *testing.T) {
	for _, tc := range []struct {
		name        string
		latency     time.Duration
		p99         time.Duration
		minRequests int64
		minutes     int
	}{
		{"no latency", 0, 0, 860, 3}, // 3 min at 300 per 61 s is 885
		{"log-normal latency 300ms p99 3s", 300 * time.Millisecond, 3 * time.Second, 860, 3},
		// Each request's margin follows its own latency: at 1 s and 2 s median (p99 3×) the
		// budget still delivers at least 97 % of 300/min (2,910 in 10 minutes).
		{"log-normal latency 1s p99 3s", time.Second, 3 * time.Second, 2910, 10},
		{"log-normal latency 2s p99 6s", 2 * time.Second, 6 * time.Second, 2910, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clock.NewEvent(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			sim := partoosim.New(partoosim.Config{APIKey: testKey, RequestsPerMinute: 300, Clock: clock, Seed: 3,
				Faults: partoosim.Faults{Latency: tc.latency, LatencyP99: tc.p99}})
			c := sim.CreateConversation(partoosim.ConversationSpec{})
			_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
			cl := newClient(t, "http://sim/v2", func(cfg *partoo.Config) {
				cfg.Clock = clock
				cfg.RequestsPerMinute = 300
				cfg.HTTPClient = &http.Client{Transport: sim.Transport()}
			})

			end := clock.Now().Add(time.Duration(tc.minutes) * time.Minute)
			ctx := context.Background()
			var wg sync.WaitGroup
			var errs atomic.Int64
			var clients []func()
			for g := 0; g < 50; g++ {
				clients = append(clients, func() {
					defer wg.Done()
					for clock.Now().Before(end) {
						if _, err := cl.ListMessages(ctx, c.ID, 0, ""); err != nil {
							errs.Add(1)
						}
					}
				})
			}
			wg.Add(len(clients))
			clock.Start(clients...) // together: the result does not depend on this goroutine's speed
			wg.Wait()
			cnt := sim.Counters()
			t.Logf("requests=%d max_per_window=%d throttled=%d budget=%+v", cnt.Total, cnt.MaxPerWindow, cnt.Throttled, cl.Budget().Stats())
			if cnt.Throttled != 0 {
				t.Fatalf("the simulator answered 429 %d times", cnt.Throttled)
			}
			if cnt.MaxPerWindow > 300 {
				t.Fatalf("%d requests in one 60 s window, budget is 300", cnt.MaxPerWindow)
			}
			if errs.Load() != 0 {
				t.Fatalf("%d requests failed", errs.Load())
			}
			if cnt.Total < tc.minRequests {
				t.Fatalf("only %d requests in %d minutes, want at least %d: the budget is not being used", cnt.Total, tc.minutes, tc.minRequests)
			}
		})
	}
}

// TestWithTicketBindsTheWalksPlace: the requests of a Client bound to a ticket wait at the
// budget with it, so the ticket tells once one has started; the Client it came from keeps
// giving each request a place of its own.
func TestWithTicketBindsTheWalksPlace(t *testing.T) {
	sim, url := newSim(t, partoosim.Config{})
	c := sim.CreateConversation(partoosim.ConversationSpec{})
	_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	cl := newClient(t, url, nil)
	tk := budget.NewTicket(budget.PriorityLow)
	if _, err := cl.Messages(context.Background(), c.ID); err != nil || tk.Started() {
		t.Fatalf("a request of the unbound client: err %v, ticket started %v", err, tk.Started())
	}
	walk, err := cl.WithTicket(tk).Messages(context.Background(), c.ID)
	if err != nil || len(walk.Messages) != 1 {
		t.Fatalf("walk = %+v, %v", walk, err)
	}
	if !tk.Started() {
		t.Fatal("the bound client's requests did not wait with its ticket")
	}
	if cl.WithTicket(tk).Budget() != cl.Budget() {
		t.Fatal("a bound client must spend the same budget")
	}
}
