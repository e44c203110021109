package connectorcli

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnectionsAreCapped: beyond the cap, a connection waits until one closes.
func TestConnectionsAreCapped(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitListener(raw, 2, 0)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted beyond the cap of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(time.Minute): // "at all", on a busy machine
		t.Fatal("the third connection was not accepted after one closed")
	}
	second.Close()
}

// TestHTTPServerBoundsEveryPhase: an idle or slow client cannot hold a connection for ever.
func TestHTTPServerBoundsEveryPhase(t *testing.T) {
	s := newHTTPServer(nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("unbounded server: %+v", s)
	}
}

// TestProbesSurviveAConnectionFlood: 3,000 idle connections, or 300 idle keep-alive ones, fill
// the usual connection slots; /healthz still answers within 1 s (on a probe-only connection),
// and a webhook gets 503 (Partoo retries) instead of waiting.
func TestProbesSurviveAConnectionFlood(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/webhooks/partoo", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "taken") })
	srv := newHTTPServer(mux)
	go func() { _ = srv.Serve(limitListener(raw, maxConnections, maxProbeConnections)) }()
	defer srv.Close()
	addr := raw.Addr().String()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	flood := func(n int, keepAlive bool) []net.Conn {
		conns := make([]net.Conn, 0, n)
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			if keepAlive {
				fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
				if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
					t.Fatalf("keep-alive connection %d: %v", i, err)
				}
			}
			conns = append(conns, c)
		}
		return conns
	}
	for _, tc := range []struct {
		n         int
		keepAlive bool
	}{{3000, false}, {300, true}} {
		conns := flood(tc.n, tc.keepAlive)
		for i := 0; i < 5; i++ {
			start := time.Now()
			resp, err := client.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("%d idle connections (keep-alive %v): /healthz: %v", tc.n, tc.keepAlive, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || time.Since(start) > time.Second {
				t.Fatalf("%d idle connections: /healthz %d in %v", tc.n, resp.StatusCode, time.Since(start))
			}
		}
		resp, err := client.Post("http://"+addr+"/webhooks/partoo", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%d idle connections: a webhook got %d, want 503 while the usual slots are full", tc.n, resp.StatusCode)
		}
		for _, c := range conns {
			c.Close()
		}
	}
}
