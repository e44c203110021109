package engine_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestEndToEnd: simulator → connector → events topic, every event type, decoded back.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	ig := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerInstagram})
	wa := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerWhatsapp})
	uid := "user-9"
	m1, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ig.ID, SenderType: "Consumer", Content: "hello"})
	m2, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ig.ID, SenderType: "User", Status: "Sending", Content: "hi!", UserID: &uid})
	m3, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: wa.ID, SenderType: "Consumer", ContentType: "Carousel"})
	_, _ = e.sim.AddMessage(partoosim.MessageSpec{ConversationID: wa.ID, SenderType: "Bot"}) // ignored

	m := metrics.New(metrics.Gauges{})
	opt := e.options()
	opt.Metrics = m
	r := e.start(opt)
	evs := e.waitEvents(t, "3 snapshot events", func(evs []event) bool { return len(evs) >= 3 })
	for _, ev := range evs {
		if ev.Type != "MessageCreated" || ev.Body["snapshot"] != true {
			t.Fatalf("first walk must give snapshot MessageCreated only: %v", summary(evs))
		}
	}
	created := map[int64]event{}
	for _, ev := range evs {
		created[ev.msgID()] = ev
	}
	msg := created[m2.ID].Body["message"].(map[string]any)
	if msg["status"] != "Sending" || msg["user_id"] != "user-9" || msg["content"] != "hi!" || msg["sender_type"] != "User" ||
		msg["date"] != m2.Date.UTC().Format("2006-01-02T15:04:05.000000Z07:00") || created[m2.ID].Key != strconv.FormatInt(ig.ID, 10) {
		t.Fatalf("MessageCreated payload %v", created[m2.ID].Body)
	}
	if c := created[m3.ID].Body["message"].(map[string]any); c["content_type"] != "Unknown" || c["content_type_raw"] != "Carousel" {
		t.Fatalf("unknown content type: %v", c)
	}

	// Changes: a status, a consumer deletion, a new message; then a message vanishes.
	if err := e.sim.SetStatus(m2.ID, "Success"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteMessage(m1.ID); err != nil {
		t.Fatal(err)
	}
	r.waitPastWatch(t, e.sim) // m4 must be dated after the watch began, beyond the clock's doubt
	m4, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: wa.ID, SenderType: "Metadata"})
	evs = e.waitEvents(t, "status, deletion and new message", func(evs []event) bool { return len(evs) >= 6 })
	if err := e.sim.VanishMessage(m3.ID); err != nil {
		t.Fatal(err)
	}
	evs = e.waitEvents(t, "the vanished deletion", func(evs []event) bool { return len(evs) >= 7 })
	r.waitWalks(t, 6) // a few more sweeps: nothing else may appear
	evs = e.readEvents(t)
	if len(evs) != 7 {
		t.Fatalf("want exactly 7 events, got %v", summary(evs))
	}
	byType := map[string][]event{}
	for _, ev := range evs {
		byType[ev.Type] = append(byType[ev.Type], ev)
	}
	sc := byType["StatusChanged"]
	if len(sc) != 1 || sc[0].msgID() != m2.ID || sc[0].Body["previous_status"] != "Sending" || sc[0].Body["status"] != "Success" {
		t.Fatalf("StatusChanged %v", sc)
	}
	del := byType["MessageDeleted"]
	if len(del) != 2 {
		t.Fatalf("MessageDeleted %v", summary(evs))
	}
	for _, d := range del {
		switch d.msgID() {
		case m1.ID:
			if d.Body["reason"] != "ConsumerDeleted" || d.Body["message"].(map[string]any)["is_deleted"] != true {
				t.Fatalf("consumer deletion %v", d.Body)
			}
		case m3.ID:
			if d.Body["reason"] != "Vanished" || d.Body["message"].(map[string]any)["content_type_raw"] != "Carousel" {
				t.Fatalf("vanished %v", d.Body)
			}
		default:
			t.Fatalf("unexpected deletion %v", d.Body)
		}
	}
	var late event
	for _, ev := range byType["MessageCreated"] {
		if ev.msgID() == m4.ID {
			late = ev
		}
	}
	if late.Body == nil || late.Body["snapshot"] != false {
		t.Fatalf("the later message must be a non-snapshot MessageCreated: %v", summary(evs))
	}
	if counterValue(t, m, "partoo_connector_messages_ignored_total", "") == 0 {
		t.Error("the Bot message must be counted as ignored")
	}
	for _, ev := range evs {
		if ev.Headers["ce_id"] != ev.Body["event_id"] || ev.Headers["ce_specversion"] != "1.0" || ev.Headers["content-type"] != "application/avro" {
			t.Fatalf("headers %v", ev.Headers)
		}
	}
}

// TestRestartWithNoChangeEmitsNothing, then deleting the state topic re-snapshots everything.
func TestRestartAndStateLoss(t *testing.T) {
	e := newEnv(t)
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{DeleteRatio: 0.5}, 3)
	gen.Populate(8, 6, time.Hour)
	want := e.publishable()
	r := e.start(e.options())
	evs := e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	r.waitWalks(t, 16)
	r.stop(t)
	before := e.readEvents(t)
	if count(before, "MessageCreated") != want {
		t.Fatalf("%d MessageCreated, want %d", count(before, "MessageCreated"), want)
	}

	r = e.start(e.options())
	r.waitWalks(t, 24) // three sweeps
	r.stop(t)
	if after := e.readEvents(t); len(after) != len(before) {
		t.Fatalf("a restart with no change emitted %d events", len(after)-len(before))
	}

	// Losing the state topic: every message comes again as a snapshot MessageCreated.
	adm := e.cluster.Admin(t)
	if _, err := adm.DeleteTopics(kafkaCtx(t), e.topics.State); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	r = e.start(e.options())
	evs = e.waitEvents(t, "the second snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= 2*want })
	r.waitWalks(t, 16)
	evs = e.readEvents(t)
	resnap := since(before, evs)
	if count(resnap, "MessageCreated") != want {
		t.Fatalf("after losing the state: %d MessageCreated, want %d", count(resnap, "MessageCreated"), want)
	}
	for _, ev := range resnap {
		if ev.Type == "MessageCreated" && ev.Body["snapshot"] != true {
			t.Fatalf("re-emitted messages must be snapshots: %v", ev.Body)
		}
	}
}

func TestStateTopicWithoutCompactionIsRefused(t *testing.T) {
	e := newEnv(t)
	adm := e.cluster.Admin(t)
	if _, err := adm.CreateTopic(kafkaCtx(t), 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, e.topics.State); err != nil {
		t.Fatal(err)
	}
	c, err := engine.New(e.options())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(kafkaCtx(t))
	if !errors.Is(err, state.ErrStateTopicNotCompacted) {
		t.Fatalf("Run = %v, want ErrStateTopicNotCompacted", err)
	}
	t.Logf("error shown to the user: %v", err)
}

func TestWrongAPIKeyStopsTheConnector(t *testing.T) {
	e := newEnv(t)
	e.sim.CreateConversation(partoosim.ConversationSpec{})
	opt := e.options()
	cl, _ := partoo.New(partoo.Config{APIURL: e.url, APIKey: secret.New("wrong")})
	opt.PartooClient = cl
	c, _ := engine.New(opt)
	err := c.Run(kafkaCtx(t))
	if !errors.Is(err, partoo.ErrUnauthorized) {
		t.Fatalf("Run = %v, want ErrUnauthorized", err)
	}
	// Noticed before Kafka was touched: no topic was created.
	md, err := e.cluster.Admin(t).ListTopics(kafkaCtx(t), e.topics.Events, e.topics.State)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{e.topics.Events, e.topics.State} {
		if td, ok := md[name]; ok && td.Err == nil {
			t.Errorf("topic %s was created before the key was checked", name)
		}
	}
}
