package partoo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// countingServer serves GET /v2/conversations, answering as business__in says (ok, 500,
// 429, 404, html: a 200 that is not JSON), and counts the connections clients open to it.
func countingServer(t *testing.T) (url string, newConns *atomic.Int64) {
	t.Helper()
	newConns = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("business__in") {
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error": "backend"}`)
		case "429":
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error": "slow down"}`)
		case "404":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error": {"json": "Resource not found"}}`)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>Sign in to the captive portal</body></html>")
		default:
			fmt.Fprint(w, `{"conversations": [{"id": 1, "business": {"id": "b"}, "messaging_partner": "SMS"}], "count": 1, "next_cursor": null}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/v2", newConns
}

// TestSharedTransportReusesConnections: several organisations' clients share one transport
// and send requests many at a time, in rounds, some answered with errors (5xx, 429, 404, a
// 200 that is not JSON): the connections opened are about as many as the requests in flight
// at once, not as many as the requests. Go's default transport (2 idle connections per host)
// opens a new connection for most of them.
func TestSharedTransportReusesConnections(t *testing.T) {
	const orgs, perOrg, rounds = 4, 8, 20
	modes := []string{"ok", "ok", "ok", "500", "ok", "429", "404", "html"}
	for _, tc := range []struct {
		name      string
		transport func() (http.RoundTripper, error)
		most      int64 // new connections at most
	}{
		{"shared NewTransport", func() (http.RoundTripper, error) {
			return partoo.NewTransport(partoo.TransportConfig{MaxInFlight: orgs * perOrg})
		}, 2 * orgs * perOrg},
		{"default transport of each client", func() (http.RoundTripper, error) { return nil, nil }, 2 * orgs * perOrg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, newConns := countingServer(t)
			tr, err := tc.transport()
			if err != nil {
				t.Fatal(err)
			}
			clients := make([]*partoo.Client, orgs)
			for i := range clients {
				b, err := budget.New(budget.Config{RequestsPerMinute: 6_000_000, Burst: 1_000})
				if err != nil {
					t.Fatal(err)
				}
				clients[i], err = partoo.New(partoo.Config{APIURL: url, APIKey: secret.New(testKey), Budget: b, Transport: tr,
					RequestAttempts: 1, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
			}
			requests := 0
			for round := 0; round < rounds; round++ {
				var wg sync.WaitGroup
				for _, c := range clients {
					for j := 0; j < perOrg; j++ {
						requests++
						wg.Go(func() {
							mode := modes[(round+j)%len(modes)]
							_, err := c.ListConversations(context.Background(), partoo.ListConversationsParams{BusinessIDs: []string{mode}})
							var ae *partoo.APIError
							var de *partoo.DecodeError
							if (mode == "ok") != (err == nil) || (err != nil && !errors.As(err, &ae) && !errors.As(err, &de)) {
								t.Errorf("mode %s: err %v", mode, err)
							}
						})
					}
				}
				wg.Wait()
			}
			n := newConns.Load()
			t.Logf("%d requests, %d at once, %d new connections", requests, orgs*perOrg, n)
			if n > tc.most {
				t.Errorf("%d new connections for %d requests, %d at once: want at most %d", n, requests, orgs*perOrg, tc.most)
			}
		})
	}
}

// TestTransportSettings: NewTransport sizes its pool for the requests in flight plus the
// margin, refuses settings out of range, and New refuses a Transport beside an HTTPClient.
func TestTransportSettings(t *testing.T) {
	tr, err := partoo.NewTransport(partoo.TransportConfig{MaxInFlight: 1600})
	if err != nil {
		t.Fatal(err)
	}
	if tr.MaxIdleConnsPerHost != 2000 || tr.MaxIdleConns != 2000 || tr.MaxConnsPerHost != 0 || tr.IdleConnTimeout < 90*time.Second ||
		!tr.ForceAttemptHTTP2 || tr.Proxy == nil || tr.TLSClientConfig.ClientSessionCache == nil || tr.DisableKeepAlives {
		t.Errorf("transport for 1600 in flight: %+v", tr)
	}
	if tr, _ := partoo.NewTransport(partoo.TransportConfig{}); tr.MaxIdleConnsPerHost != 24 {
		t.Errorf("default transport keeps %d idle connections, want 16+8", tr.MaxIdleConnsPerHost)
	}
	for _, bad := range []partoo.TransportConfig{{MaxInFlight: -1}, {IdleConnTimeout: 30 * time.Second}, {DialTimeout: -time.Second}} {
		if _, err := partoo.NewTransport(bad); err == nil {
			t.Errorf("NewTransport(%+v) accepted", bad)
		}
	}
	_, err = partoo.New(partoo.Config{APIKey: secret.New(testKey), Transport: tr, HTTPClient: &http.Client{}})
	if err == nil {
		t.Error("New accepted both Transport and HTTPClient")
	}
}
