package engine_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/status"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/httpapi"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

func TestHTTPEndpoints(t *testing.T) {
	e := newEnv(t)
	c := e.sim.CreateConversation(partoosim.ConversationSpec{})
	_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	opt := e.options()
	m := metrics.New(metrics.Gauges{})
	opt.Metrics = m

	conn, err := engine.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.Handler(conn, httpapi.Config{Metrics: m}))
	defer srv.Close()
	if code, _ := httpGet(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before the restore: %d, want 503", code)
	}
	if code, _ := httpGet(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}

	r := &running{c: conn, done: make(chan error, 1)}
	ctx, cancel := kafkaCtxCancel(t)
	r.cancel = cancel
	go func() { r.done <- conn.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) == 1 })
	r.waitWalks(t, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := httpGet(t, srv.URL+"/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body := httpGet(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`partoo_connector_events_total{organization="",type="MessageCreated"} 1`,
		`partoo_connector_transactions_total{organization="",outcome="committed"} 1`,
		`partoo_connector_api_requests_total{endpoint="/messages",organization="",result="ok",status="200"}`,
		`partoo_connector_api_rate_limited_total{organization=""} 0`,
		`partoo_connector_ready{organization=""} 1`,
		`partoo_connector_walk_duration_seconds_count{organization="",result="complete"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "conversation_id") {
		t.Error("metrics must not be labelled by conversation")
	}
	code, body = httpGet(t, srv.URL+"/status")
	var st status.Report
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("/status: %d %v %s", code, err, body)
	}
	if st.Status != "ok" || !st.Ready || st.ConversationsTracked != 1 || st.LastWalk == nil || st.API.RatePerMinute <= 0 {
		t.Fatalf("/status = %s", body)
	}
}
