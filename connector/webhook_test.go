package connector_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoo/partootest"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
)

func post(t *testing.T, url, header, value, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhookHintsMakeChangesFast: with a budget so small that reconciliation would take
// minutes, a webhook gets the change into Kafka within seconds; a forged webhook (nothing
// changed) emits nothing; bad requests are refused.
func TestWebhookHintsMakeChangesFast(t *testing.T) {
	e := newEnv(t)
	gen := partootest.NewGenerator(e.sim, partootest.Activity{}, 9)
	gen.Populate(60, 3, time.Hour)
	want := e.publishable()
	// Snapshot quickly with a generous budget, then restart on a tight one.
	r := e.start(e.options())
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	r.stop(t)
	before := e.readEvents(t)

	opt := e.options()
	cl, err := partoo.New(partoo.Config{BaseURL: e.url, APIKey: partoo.NewSecret("k"), RequestsPerMinute: 30})
	if err != nil {
		t.Fatal(err)
	}
	opt.Partoo = cl
	opt.Schedule = schedule.Config{DiscoveryInterval: time.Hour, DeletableChecks: []time.Duration{}}
	r = e.start(opt)
	wh := connector.WebhookConfig{Header: "X-Auth-Token", Secret: partoo.NewSecret("hook-secret"), MaxBytes: 4096}
	srv := httptest.NewServer(r.c.Handler(wh))
	defer srv.Close()
	url := srv.URL + connector.WebhookPath
	for !r.c.Ready() {
		time.Sleep(20 * time.Millisecond)
	}

	ids := e.sim.ConversationIDs()
	target := ids[len(ids)/2]
	body := func(conv int64) string {
		return fmt.Sprintf(`{"type": "message_created", "payload": {"message": {"id": 1, "conversation_id": %d}, "conversation": {"id": %d}, "org_id": 1}}`, conv, conv)
	}
	// Refusals.
	if code := post(t, url, "", "", body(target)); code != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", code)
	}
	if code := post(t, url, "X-Auth-Token", "hook-secreT", body(target)); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post(t, url, "X-Auth-Token", "hook-secret", `{"type": "message_created", "payload": {`); code != http.StatusBadRequest {
		t.Fatalf("malformed: %d", code)
	}
	if code := post(t, url, "X-Auth-Token", "hook-secret", `{"type":"message_created","pad":"`+strings.Repeat("x", 5000)+`"}`); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d", code)
	}
	if code := post(t, url, "X-Auth-Token", "hook-secret", `{"type": "something_else"}`); code != http.StatusOK {
		t.Fatalf("unknown type: %d", code)
	}
	// A forged webhook for a conversation that did not change: accepted, and nothing emitted.
	if code := post(t, url, "X-Auth-Token", "hook-secret", body(ids[0])); code != http.StatusOK {
		t.Fatalf("forged: %d", code)
	}

	// A real change, announced by a webhook.
	m, _ := e.sim.AddMessage(partootest.MessageSpec{ConversationID: target, Content: "fast"})
	sent := time.Now()
	if code := post(t, url, "X-Auth-Token", "hook-secret", body(target)); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	evs := e.waitEvents(t, "the hinted change", func(evs []event) bool { return len(evs) > len(before) })
	took := time.Since(sent)
	t.Logf("webhook to committed event: %v (a sweep at 30 requests/min would take ~%v)", took.Round(time.Millisecond), time.Duration(len(ids))*2*time.Second)
	if took > 10*time.Second {
		t.Fatalf("took %v", took)
	}
	got := since(before, evs)
	if len(got) != 1 || got[0].msgID() != m.ID || got[0].Type != "MessageCreated" {
		t.Fatalf("after the webhooks: %v (a forged webhook must emit nothing)", summary(got))
	}
}
