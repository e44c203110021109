package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

// tablesTruth fills in a case's ground truth of the table topics and of the events' context,
// from the simulator (vanished: the messages it no longer serves, deleted).
func tablesTruth(e *env, c *consumerCase, vanished map[int64]int64) {
	c.Messages, c.Conversations = map[string]messageTruth{}, map[string]conversationTruth{}
	c.CreatedPerBusinessPartner = map[string]int{}
	c.EventsByType = map[string]int{}
	for _, conv := range e.sim.ConversationIDs() {
		sc, _ := e.sim.ConversationOf(conv)
		business := strconv.FormatInt(sc.BusinessID, 10)
		c.Conversations[strconv.FormatInt(conv, 10)] = conversationTruth{BusinessID: business,
			BusinessName: partoosim.BusinessName(sc.BusinessID), MessagingPartner: string(sc.Partner), Status: sc.Status}
		for _, m := range e.sim.Messages(conv) {
			if !m.SenderType.Known() {
				continue
			}
			c.CreatedPerBusinessPartner[business+"|"+string(sc.Partner)]++
			id := strconv.FormatInt(m.ID, 10)
			if m.IsDeleted {
				c.Deleted = append(c.Deleted, id)
				continue
			}
			c.Messages[id] = messageTruth{ConversationID: conv, BusinessID: business, MessagingPartner: string(sc.Partner),
				DateMicros: m.Date.UnixMicro(), Status: string(m.Status), ContentType: string(m.ContentType),
				SenderType: string(m.SenderType), SenderLabel: m.SenderLabel}
		}
	}
	for id, conv := range vanished {
		sc, _ := e.sim.ConversationOf(conv)
		c.CreatedPerBusinessPartner[strconv.FormatInt(sc.BusinessID, 10)+"|"+string(sc.Partner)]++
		c.Deleted = append(c.Deleted, strconv.FormatInt(id, 10))
	}
}

// checkContext checks that every event carries its conversation's business and channel, and
// counts the events by type.
func checkContext(t *testing.T, c *consumerCase, evs []event) {
	t.Helper()
	for _, ev := range evs {
		c.EventsByType[ev.Type]++
		want := c.Conversations[ev.Key]
		if ev.Body["business_id"] != want.BusinessID || ev.Body["messaging_partner_raw"] != want.MessagingPartner ||
			ev.Body["event_type"] != ev.Type {
			t.Fatalf("%s of conversation %s carries business %v, channel %v, type %v; want %q, %q, %s",
				ev.Type, ev.Key, ev.Body["business_id"], ev.Body["messaging_partner_raw"], ev.Body["event_type"],
				want.BusinessID, want.MessagingPartner, ev.Type)
		}
	}
}

// waitTables waits until the table topics show the case's ground truth: every message's row
// (none for a deleted one) and every conversation's status.
func (e *env) waitTables(t *testing.T, regURL string, c *consumerCase) {
	t.Helper()
	codec, err := tables.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if regURL != "" {
		useRegistryIDs(t, regURL, codec, c)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		problem := e.tablesProblem(t, codec, c)
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the table topics do not reach the ground truth: %s", problem)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// tablesProblem compares the table topics, read to their committed end, with the case's
// ground truth; "" when they agree.
func (e *env) tablesProblem(t *testing.T, codec *tables.Codec, c *consumerCase) string {
	rows := e.readTable(t, codec, c.MessagesTable)
	for id, want := range c.Messages {
		got, ok := rows[id]
		switch {
		case !ok || got == nil:
			return fmt.Sprintf("message %s has no row", id)
		case got["status"] != want.Status || got["business_id"] != want.BusinessID || got["messaging_partner"] != want.MessagingPartner ||
			got["date"].(time.Time).UnixMicro() != want.DateMicros || got["date_ms"].(time.Time).UnixMilli() != want.DateMicros/1000 ||
			got["content_type"] != want.ContentType || got["sender_type"] != want.SenderType || got["conversation_id"] != want.ConversationID:
			return fmt.Sprintf("message %s: row %v, want %+v", id, got, want)
		}
	}
	for _, id := range c.Deleted {
		if row, ok := rows[id]; !ok || row != nil {
			return fmt.Sprintf("deleted message %s: its last record is %v, want a tombstone", id, row)
		}
	}
	if live := countLive(rows); live != len(c.Messages) {
		return fmt.Sprintf("%d live rows, want %d", live, len(c.Messages))
	}
	convs := e.readTable(t, codec, c.ConversationsTable)
	for id, want := range c.Conversations {
		got := convs[id]
		if got == nil || got["status"] != want.Status || got["business_id"] != want.BusinessID ||
			got["business_name"] != want.BusinessName || got["messaging_partner"] != want.MessagingPartner || got["consumer_name"] != nil {
			return fmt.Sprintf("conversation %s: row %v, want %+v (and no consumer name)", id, got, want)
		}
	}
	return ""
}

func countLive(rows map[string]map[string]any) int {
	n := 0
	for _, r := range rows {
		if r != nil {
			n++
		}
	}
	return n
}

// readTable reads a table topic with read_committed and returns the last value of each key,
// decoded and unwrapped (nil for a tombstone).
func (e *env) readTable(t *testing.T, codec *tables.Codec, topic string) map[string]map[string]any {
	t.Helper()
	recs, err := e.cluster.ReadCommitted(kafkatest.Context(t, 60*time.Second), t, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, r := range recs {
		if r.Value == nil {
			out[string(r.Key)] = nil
			continue
		}
		_, n, err := codec.Decode(r.Value)
		if err != nil {
			t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
		}
		row := map[string]any{}
		for k, v := range n {
			if u, ok := v.(map[string]any); ok { // a union's branch
				for _, inner := range u {
					v = inner
				}
			}
			row[k] = v
		}
		out[string(r.Key)] = row
	}
	return out
}

// useRegistryIDs gives codec the registry's ids of the table schemas of the case's topics.
func useRegistryIDs(t *testing.T, regURL string, codec *tables.Codec, c *consumerCase) {
	t.Helper()
	reg, err := registry.New(registry.Config{URL: regURL})
	if err != nil {
		t.Fatal(err)
	}
	var ids [2]uint32
	for i, s := range []struct{ topic, name string }{
		{c.MessagesTable, codec.MessageSchema().FullName}, {c.ConversationsTable, codec.ConversationSchema().FullName}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ss, err := reg.Client().SchemaByVersion(ctx, reg.Subject(s.topic, s.name), -1)
		cancel()
		if err != nil {
			t.Fatalf("the registry's %s: %v", reg.Subject(s.topic, s.name), err)
		}
		ids[i] = uint32(ss.ID)
	}
	codec.UseSchemaIDs(ids[0], ids[1])
}

// TestTableTopicsAndContext runs the connector end to end (snapshot, a status change, a
// consumer deletion, a vanished message, new messages, a conversation closed) and checks
// that every event carries its conversation's business and channel, and that the messages
// and conversations tables reach the simulator's ground truth: a row per live message, a
// tombstone per deleted one, each conversation's current status, no personal data.
func TestTableTopicsAndContext(t *testing.T) {
	t.Parallel()
	c := runForConsumers(t, kafkatest.New(t), "")
	if len(c.Deleted) < 2 || len(c.Messages) == 0 || c.EventsByType["StatusChanged"] == 0 {
		t.Fatalf("the run did not exercise the tables: %d live, %d deleted, %v", len(c.Messages), len(c.Deleted), c.EventsByType)
	}
}

// An upgrade from a release without tables: the state records every message, the messages
// table is new and empty. The connector fills it from its walks — every current message gets
// its row — and publishes no event for it.
func TestEmptyMessagesTableIsFilledWithoutEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	populate(e, 6)
	want := e.publishable()
	opt := e.options()
	opt.Scheduler = engine.SchedulerSweep
	table := opt.Topics.MessagesTable
	opt.Topics.MessagesTable = state.TableTopic{} // the release before: no messages table
	r := e.start(opt)
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	r.stop(t)
	before := e.readEvents(t)
	for _, m := range e.sim.Messages(e.sim.ConversationIDs()[0]) {
		if m.SenderType.Known() && !m.IsDeleted {
			if err := e.sim.DeleteMessage(m.ID); err != nil { // a change while it was stopped
				t.Fatal(err)
			}
			break
		}
	}

	opt.Topics.MessagesTable = table
	r = e.start(opt)
	r.waitWalks(t, int64(len(e.sim.ConversationIDs())))
	c := &consumerCase{MessagesTable: table.Name, ConversationsTable: e.topics.ConversationsTable.Name}
	tablesTruth(e, c, nil)
	e.waitTables(t, "", c)
	r.stop(t)
	after := e.readEvents(t)
	if len(after) != len(before)+1 || count(after, "MessageDeleted") != count(before, "MessageDeleted")+1 {
		t.Fatalf("the fill published events: %d before, %d after (want one MessageDeleted more)", len(before), len(after))
	}
}
