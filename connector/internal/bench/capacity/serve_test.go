package capacity

import (
	"io"
	"net/http"
	"testing"
)

// TestServeCountsTheConnectionsItAccepts: the simulators' server counts each accepted
// connection once, however many requests it then carries — the figure behind "new API
// connections" of the report.
func TestServeCountsTheConnectionsItAccepts(t *testing.T) {
	sims, _, server, err := serve(Setup{Conversations: 2, Messages: 1, Activity: 0.2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if len(sims) != 2 {
		t.Fatalf("%d simulators, want 2", len(sims))
	}
	get := func(c *http.Client) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+server.Addr+"/v2/conversations", nil)
		req.Header.Set("x-APIKey", "key-001")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	closing := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get(closing)
	get(closing)
	if got := server.conns.Load(); got != 2 {
		t.Errorf("after two requests without keep-alive: %d connections, want 2", got)
	}
	kept := &http.Client{Transport: &http.Transport{}}
	for range 3 {
		get(kept)
	}
	if got := server.conns.Load(); got != 3 {
		t.Errorf("after three more requests on one kept-alive connection: %d connections, want 3", got)
	}
	if got := sims["key-001"].Counters().Total; got != 5 {
		t.Errorf("the simulator of key-001 served %d requests, want 5", got)
	}
}
