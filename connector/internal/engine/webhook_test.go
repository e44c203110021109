package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/httpapi"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
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
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{}, 9)
	gen.Populate(60, 3, time.Hour)
	want := e.publishable()
	// Snapshot quickly with a generous budget, then restart on a tight one.
	r := e.start(e.options())
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	r.stop(t)
	before := e.readEvents(t)

	opt := e.options()
	cl, err := partoo.New(partoo.Config{APIURL: e.url, APIKey: secret.New("k"), RequestsPerMinute: 30})
	if err != nil {
		t.Fatal(err)
	}
	opt.PartooClient = cl
	opt.Schedule = schedule.Config{DiscoveryInterval: time.Hour, InstagramChecks: []time.Duration{}}
	r = e.start(opt)
	wh := httpapi.WebhookConfig{AuthHeader: "X-Auth-Token", Secret: secret.New("hook-secret"), MaxBodyBytes: 4096}
	srv := httptest.NewServer(httpapi.Handler(r.c, httpapi.Config{Webhook: wh}))
	defer srv.Close()
	url := srv.URL + httpapi.WebhookPath
	for r.c.Readiness() != nil {
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
	m, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: target, Content: "fast"})
	sent := time.Now()
	if code := post(t, url, "X-Auth-Token", "hook-secret", body(target)); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	evs := e.waitEvents(t, "the hinted change", func(evs []event) bool { return len(evs) > len(before) })
	took := time.Since(sent)
	t.Logf("webhook to committed event: %v (a sweep at 30 requests/min would take ~%v)", took.Round(time.Millisecond), time.Duration(len(ids))*2*time.Second)
	// A bound for "the hint was followed at all" on a busy machine, far below what finding it
	// without the hint would take here (discovery is off; reconciliation at 30 requests/min).
	if took > time.Minute {
		t.Fatalf("took %v", took)
	}
	got := since(before, evs)
	if len(got) != 1 || got[0].msgID() != m.ID || got[0].Type != "MessageCreated" {
		t.Fatalf("after the webhooks: %v (a forged webhook must emit nothing)", summary(got))
	}
}

// TestWebhooksRespectTheBusinessFilter: with PARTOO_BUSINESS_IDS set, a webhook for a
// conversation of another business is filtered and nothing of it is published.
func TestWebhooksRespectTheBusinessFilter(t *testing.T) {
	e := newEnv(t)
	mine := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 1})
	other := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 2})
	for _, c := range []int64{mine.ID, other.ID} {
		_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: c})
	}
	r, srv, m := startForBusinessOne(t, e)
	for i := 0; i < 23; i++ {
		_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: other.ID})
		with := fmt.Sprintf(`{"type":"message_created","payload":{"conversation":{"id":%d,"business":{"id":2}}}}`, other.ID)
		without := fmt.Sprintf(`{"type":"message_created","payload":{"message":{"conversation_id":%d}}}`, other.ID)
		for _, b := range []string{with, without} {
			if code := post(t, srv.URL+httpapi.WebhookPath, "X-Auth-Token", "s", b); code != http.StatusOK {
				t.Fatalf("webhook: %d", code)
			}
		}
	}
	r.waitWalks(t, 3) // a few passes over business 1's conversation (one every 2 s): time for any hint
	for _, ev := range e.readEvents(t) {
		if ev.Key == fmt.Sprint(other.ID) {
			t.Fatalf("published %s for conversation %d of business 2, outside PARTOO_BUSINESS_IDS", ev.Type, other.ID)
		}
	}
	if v := counterValue(t, m, "partoo_connector_webhooks_total", "filtered"); v != 46 {
		t.Fatalf("%v webhooks counted as filtered, want 46", v)
	}
}

// TestWebhookBurstDoesNotStarveTheScheduler: 1,200 webhooks for conversations that do not
// exist (each answers 404) on a tight budget: hints take at most their share, the queue is
// capped, and a change that only discovery can see is still published within seconds.
func TestWebhookBurstDoesNotStarveTheScheduler(t *testing.T) {
	e := newEnv(t)
	populate(e, 10)
	r := e.start(e.options())
	before := e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
	r.stop(t)

	m := metrics.New(metrics.Gauges{})
	opt := e.options()
	opt.Metrics = m
	opt.Partoo.RequestsPerMinute = 120
	r = e.start(opt)
	srv := httptest.NewServer(httpapi.Handler(r.c, httpapi.Config{Metrics: m, Webhook: httpapi.WebhookConfig{AuthHeader: "X-Auth-Token", Secret: secret.New("s")}}))
	defer srv.Close()
	for r.c.Readiness() != nil {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 1200; i++ {
		b := fmt.Sprintf(`{"type":"message_created","payload":{"conversation":{"id":%d}}}`, 900_000+i)
		if code := post(t, srv.URL+httpapi.WebhookPath, "X-Auth-Token", "s", b); code != http.StatusOK {
			t.Fatalf("webhook %d: %d", i, code)
		}
	}
	// A change nobody announced: discovery must still find it.
	target := e.sim.ConversationIDs()[4]
	msg, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: target})
	added := time.Now()
	evs := e.waitEvents(t, "the unannounced change", func(evs []event) bool { return len(evs) > len(before) })
	took := time.Since(added)
	got := since(before, evs)
	if len(got) != 1 || got[0].msgID() != msg.ID {
		t.Fatalf("new events %v", summary(got))
	}
	t.Logf("a change only discovery could see was published %v after it happened, with 1,200 webhooks queued", took.Round(time.Millisecond))
	if took > 90*time.Second { // generous on a busy machine: starved, it would wait for the whole queue
		t.Fatalf("took %v: the hints starved the scheduler", took)
	}
	// The queue holds 1,000; a few were walked while the burst was being posted.
	if v := counterValue(t, m, "partoo_connector_webhooks_total", "dropped"); v < 150 || v > 200 {
		t.Fatalf("%v webhooks dropped, want about the 200 beyond the cap of 1,000", v)
	}
}

// TestWebhookCannotWidenTheScope: with PARTOO_BUSINESS_IDS=1, a webhook that claims business
// 1 for a conversation of business 3 is a hint, not proof: the connector asks Partoo the
// conversation's business before any walk, publishes nothing of it, ever, and reconciliation
// never walks it (it never enters the state); later webhooks for it are refused without asking
// again. (Before, the claim was trusted: its 23 messages were published and reconciliation kept
// walking it.)
func TestWebhookCannotWidenTheScope(t *testing.T) {
	e := newEnv(t)
	mine := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 1})
	_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: mine.ID})
	r, srv, m := startForBusinessOne(t, e)
	other := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 3})
	for i := 0; i < 23; i++ {
		_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: other.ID})
	}
	claim := fmt.Sprintf(`{"type":"message_created","payload":{"conversation":{"id":%d,"business":{"id":1}}}}`, other.ID)
	if code := post(t, srv.URL+httpapi.WebhookPath, "X-Auth-Token", "s", claim); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	checks := func() int64 { return e.sim.Counters().ByEndpoint["/v2/conversations/{id}"][200] }
	for deadline := time.Now().Add(30 * time.Second); checks() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the conversation's business was not asked of Partoo within 30 s")
		}
	}
	// Reconciliation passes and discoveries go on (one every 2 s): give them a few.
	r.waitWalks(t, 3)
	for i := 0; i < 3; i++ {
		if code := post(t, srv.URL+httpapi.WebhookPath, "X-Auth-Token", "s", claim); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
	}
	r.waitWalks(t, 2)
	for _, ev := range e.readEvents(t) {
		if ev.Key == fmt.Sprint(other.ID) {
			t.Fatalf("published %s for conversation %d of business 3 on a webhook's claim of business 1", ev.Type, other.ID)
		}
	}
	if r.c.Index().Get(other.ID) != nil {
		t.Fatal("the conversation of business 3 entered the state: reconciliation would walk it for good")
	}
	if n := checks(); n != 1 {
		t.Fatalf("%d GET /conversations/{id}, want 1", n)
	}
	if c, o := counterValue(t, m, "partoo_connector_webhooks_total", "checking"), counterValue(t, m, "partoo_connector_webhooks_total", "outside"); c != 1 || o != 3 {
		t.Fatalf("webhooks counted checking %v, outside %v; want 1 and 3", c, o)
	}
}

// startForBusinessOne starts the connector limited to business 1 with the webhook receiver
// (secret "s" in X-Auth-Token), and waits for business 1's one-message snapshot.
func startForBusinessOne(t *testing.T, e *env) (*running, *httptest.Server, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(metrics.Gauges{})
	opt := e.options()
	opt.BusinessIDs, opt.Metrics = []string{"1"}, m
	r := e.start(opt)
	srv := httptest.NewServer(httpapi.Handler(r.c, httpapi.Config{Metrics: m, Webhook: httpapi.WebhookConfig{AuthHeader: "X-Auth-Token", Secret: secret.New("s")}}))
	t.Cleanup(srv.Close)
	e.waitEvents(t, "business 1's snapshot", func(evs []event) bool { return len(evs) == 1 })
	return r, srv, m
}
