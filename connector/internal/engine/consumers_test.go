package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry/registrytest"
)

// truth is what a consumer of the events topic should conclude: the current status of every
// message (its status_raw, or DELETED), and the MessageCreated count per conversation.
type truth struct {
	Status  map[string]string `json:"status"`
	Created map[string]int    `json:"created_per_conversation"`
}

// consumerCase is one end-to-end run's topics, with the simulator's ground truth.
type consumerCase struct {
	Brokers            string `json:"brokers"`
	Topic              string `json:"topic"` // the events topic
	Registry           string `json:"registry"`
	MessagesTable      string `json:"messages_table"`
	ConversationsTable string `json:"conversations_table"`
	Truth              truth  `json:"truth"`
	// Messages is the current state of every published message not deleted, by id: what the
	// messages table must give.
	Messages map[string]messageTruth `json:"messages"`
	// Deleted are the ids of messages published and then deleted: absent from the table.
	Deleted []string `json:"deleted"`
	// Conversations are the conversations' context, by id.
	Conversations map[string]conversationTruth `json:"conversations"`
	// CreatedPerBusinessPartner counts MessageCreated events by "<business_id>|<partner>".
	CreatedPerBusinessPartner map[string]int `json:"created_per_business_partner"`
	EventsByType              map[string]int `json:"events_by_type"`
	// Old names the old build whose records the topics hold (connector/internal/oldwriters),
	// "" for a run of today's connector.
	Old string `json:"old"`
	// Skipped are the records of a schema no release wrote that a reader must skip and name
	// ("fingerprint <hex>" or "schema id <n>" → count).
	Skipped map[string]int `json:"skipped"`
	// DeleteReasons are the MessageDeleted events' reasons, by message id.
	DeleteReasons map[string]string `json:"delete_reasons"`
	events        int
	// unique counts the events by type once per event_id, when the topic holds an event twice
	// (two builds wrote the same change: what a reader deduplicating on event_id keeps); nil:
	// EventsByType.
	unique map[string]int
}

// messageTruth is a message's current state, as the simulator holds it.
type messageTruth struct {
	ConversationID   int64  `json:"conversation_id"`
	BusinessID       string `json:"business_id"`
	MessagingPartner string `json:"messaging_partner"`
	DateMicros       int64  `json:"date_micros"`
	Status           string `json:"status"`
	ContentType      string `json:"content_type"`
	SenderType       string `json:"sender_type"`
	SenderLabel      string `json:"sender_label"`
}

// conversationTruth is a conversation's context, as the simulator holds it.
type conversationTruth struct {
	BusinessID       string `json:"business_id"`
	BusinessName     string `json:"business_name"`
	MessagingPartner string `json:"messaging_partner"`
	Status           string `json:"status"`
}

// downstreamRecipes are the engines' recipes (docs/recipes.md) TestDownstreamConsumers runs
// on its cases, each in its own file; casesFile holds the cases as JSON.
var downstreamRecipes = map[string]func(t *testing.T, cases []*consumerCase, casesFile string){}

// TestDownstreamConsumers runs the connector end to end against the simulator, once with
// single-object values and once with the schema registry, then has consumers that share no
// code with it read the topics: Python (confluent-kafka, with AvroDeserializer for the
// registry and fastavro with the fingerprint without) and the Kafka Streams example
// (examples/kafka-streams). Each must reach the simulator's ground truth. `make test` runs it
// on the real broker and registry; elsewhere it skips what the machine lacks.
func TestDownstreamConsumers(t *testing.T) {
	required := kafkatest.RequireReal()
	need := func(what string, ok bool) bool {
		if !ok {
			if required {
				t.Fatalf("KAFKA_REQUIRE_REAL=1 but %s is missing", what)
			}
			t.Skipf("%s is missing", what)
		}
		return ok
	}
	_, errPy := exec.LookPath("python3")
	_, errMvn := exec.LookPath("mvn")
	need("python3", errPy == nil)
	need("mvn", errMvn == nil)
	cluster := kafkatest.New(t)
	need("a real Kafka broker (KAFKA_BROKERS)", cluster.Real())
	regURL := registrytest.URL(t) // skips without a registry unless SCHEMA_REGISTRY_REQUIRE_REAL=1

	cases := []*consumerCase{runForConsumers(t, cluster, ""), runForConsumers(t, cluster, regURL)}
	// The records old builds wrote, which every published reader reads too.
	cases = append(cases, oldConsumerCases(t, cluster, regURL)...)
	casesFile := filepath.Join(t.TempDir(), "cases.json")
	raw, _ := json.Marshal(cases)
	if err := os.WriteFile(casesFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(downstreamRecipes))
	for name := range downstreamRecipes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) { downstreamRecipes[name](t, cases, casesFile) })
	}

	t.Run("python", func(t *testing.T) {
		out, err := exec.Command("../../../examples/python/venv.sh").Output()
		if err != nil {
			t.Fatalf("examples/python/venv.sh: %v", exitDetail(err))
		}
		python := strings.TrimSpace(string(out))
		for _, c := range cases {
			args := []string{"../../../examples/python/consume.py", "--brokers", c.Brokers, "--topic", c.Topic}
			if c.Registry != "" {
				args = append(args, "--registry", c.Registry)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			cmd := exec.CommandContext(ctx, python, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			cancel()
			if err != nil {
				t.Fatalf("consume.py %s: %v: %s", c.Topic, err, tail(stderr.String(), 30))
			}
			var got struct {
				Events  int            `json:"events"`
				ByType  map[string]int `json:"by_type"`
				Skipped map[string]int `json:"skipped"`
				truth
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("consume.py output %q: %v", out, err)
			}
			if got.Events != c.events || !reflect.DeepEqual(got.truth, c.Truth) || !reflect.DeepEqual(got.ByType, c.EventsByType) {
				t.Fatalf("%s (registry %q, old build %q): python decoded %d events (%v; the topic has %d, %v) and concluded %+v, want %+v",
					c.Topic, c.Registry, c.Old, got.Events, got.ByType, c.events, c.EventsByType, got.truth, c.Truth)
			}
			if len(got.Skipped)+len(c.Skipped) > 0 && !reflect.DeepEqual(got.Skipped, c.Skipped) {
				t.Fatalf("%s: python skipped %v, want %v", c.Topic, got.Skipped, c.Skipped)
			}
			for what, n := range c.Skipped {
				if want := fmt.Sprintf("skipped %d records of unknown schema %s", n, what); !strings.Contains(stderr.String(), want) {
					t.Fatalf("%s: consume.py's stderr %q does not say %q", c.Topic, stderr.String(), want)
				}
			}
			t.Logf("python decoded all %d events of %s (%v; old build %q; skipped %v)", got.Events, c.Topic, got.ByType, c.Old, got.Skipped)
		}
		for _, c := range cases {
			backfillReadsEvery(t, python, c)
		}
	})

	t.Run("kafka-streams", func(t *testing.T) {
		file := casesFile
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-f", "../../../examples/kafka-streams/pom.xml", "test", "-Dpartoo.cases="+file)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("mvn test in examples/kafka-streams: %v\n%s", err, tail(out.String(), 60))
		}
		if n := strings.Count(out.String(), "match the ground truth"); n != len(cases) {
			t.Fatalf("the Kafka Streams test checked %d of %d topics:\n%s", n, len(cases), tail(out.String(), 40))
		}
		runDocumentedStreamsCommands(t, cases)
	})
}

// runForConsumers runs the connector against a fresh simulator until it has published a
// snapshot and a round of changes (a status change, a consumer deletion, a vanished message,
// new messages), stops it, and returns the topic with the simulator's ground truth.
func runForConsumers(t *testing.T, cluster *kafkatest.Cluster, regURL string) *consumerCase {
	t.Helper()
	e := newEnvOn(t, cluster)
	populate(e, 8)
	// Odd values every strict reader must take as they are published: dates served as epoch
	// nanoseconds, custom_channel objects, and below a conversation of odd messages.
	e.sim.SetVariant(partoosim.Variant{NanosecondDateRatio: 0.5, CustomChannelObject: true})
	addOddMessages(t, e)
	opt := e.options()
	opt.Scheduler = engine.SchedulerSweep
	opt.SchemaRegistry = registry.Config{URL: regURL}
	r := e.start(opt)
	want := e.publishable()
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })

	ids := e.sim.ConversationIDs()
	vanished := map[int64]int64{} // message → conversation
	firstKnown := func(conv int64, deleted bool) (model.Message, bool) {
		for _, m := range e.sim.Messages(conv) {
			if m.SenderType.Known() && m.IsDeleted == deleted {
				return m, true
			}
		}
		return model.Message{}, false
	}
	if m, ok := firstKnown(ids[0], false); ok {
		next := model.StatusFailed
		if m.Status == next {
			next = model.StatusSuccess
		}
		if err := e.sim.SetStatus(m.ID, next); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok := firstKnown(ids[1], false); ok {
		if err := e.sim.DeleteMessage(m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if m, ok := firstKnown(ids[2], false); ok {
		if err := e.sim.VanishMessage(m.ID); err != nil {
			t.Fatal(err)
		}
		vanished[m.ID] = ids[2]
	}
	if _, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[3], SenderType: "Consumer", Content: "new"}); err != nil {
		t.Fatal(err)
	}
	sent, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[3], SenderType: "User", Status: "Sending", Content: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	r.waitWalks(t, int64(len(ids)))
	if err := e.sim.SetStatus(sent.ID, model.StatusSuccess); err != nil {
		t.Fatal(err)
	}
	// A change only the conversations listing shows: the conversations table follows it.
	if err := e.sim.CloseConversation(ids[4]); err != nil {
		t.Fatal(err)
	}

	var tr truth
	tr.Status, tr.Created = map[string]string{}, map[string]int{}
	for _, conv := range e.sim.ConversationIDs() {
		for _, m := range e.sim.Messages(conv) {
			if !m.SenderType.Known() {
				continue
			}
			tr.Created[strconv.FormatInt(conv, 10)]++
			tr.Status[strconv.FormatInt(m.ID, 10)] = string(m.Status)
			if m.IsDeleted {
				tr.Status[strconv.FormatInt(m.ID, 10)] = "DELETED"
			}
		}
	}
	for id, conv := range vanished {
		tr.Created[strconv.FormatInt(conv, 10)]++
		tr.Status[strconv.FormatInt(id, 10)] = "DELETED"
	}
	evs := e.waitEvents(t, "the changes", func(evs []event) bool { return reflect.DeepEqual(consumerView(evs), tr) })
	c := &consumerCase{Brokers: strings.Join(cluster.Brokers, ","), Topic: e.topics.Events, Registry: regURL, Truth: tr, events: len(evs),
		MessagesTable: e.topics.MessagesTable.Name, ConversationsTable: e.topics.ConversationsTable.Name}
	tablesTruth(e, c, vanished)
	c.DeleteReasons = map[string]string{}
	for _, ev := range evs {
		if ev.Type == "MessageDeleted" {
			c.DeleteReasons[strconv.FormatInt(ev.msgID(), 10)] = ev.Body["reason_raw"].(string)
		}
	}
	checkContext(t, c, evs)
	e.waitTables(t, regURL, c)
	r.stop(t)
	return c
}

// addOddMessages adds a conversation of messages with odd values: text in many scripts,
// control and zero-width characters, NUL, emoji, empty strings, values Partoo may add
// (content_type, sender label, status), a 1.5 MB content (published cut to fit and flagged),
// and dates at the edges of what is believed.
func addOddMessages(t *testing.T, e *env) {
	t.Helper()
	c := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: "Telegram"})
	empty, odd := "", "u-\u00e9\u0000\U0001F600"
	now := time.Now().UTC()
	specs := []partoosim.MessageSpec{
		{Content: "Grüße, привет, مرحبا, こんにちは, 👍🏽 e\u0301 \u200b\u202e", SenderType: "Consumer"},
		{Content: "nul \u0000, bell \u0007, tab \t, newline \n, quote \", back \\ slash", SenderType: "User", UserID: &odd},
		{Content: "", SenderType: "User", UserID: &empty, Status: "Queued", ContentType: "Carousel"},
		{Content: strings.Repeat("\u00e9\u20ac\U0001F600a", 1_500_000/10), SenderType: "Consumer", ContentType: "Document"},
		{Content: "dated 2000-01-01", SenderType: "Metadata", Date: time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{Content: "dated in an hour", SenderType: "Consumer", Date: now.Add(time.Hour)},
	}
	for _, s := range specs {
		s.ConversationID = c.ID
		if _, err := e.sim.AddMessage(s); err != nil {
			t.Fatal(err)
		}
	}
}

// consumerView is what the consumers compute, from the connector's own decoding: the test's
// oracle that the run is complete before the independent consumers read it.
func consumerView(evs []event) truth {
	v := truth{Status: map[string]string{}, Created: map[string]int{}}
	for _, ev := range evs {
		id := strconv.FormatInt(ev.msgID(), 10)
		switch ev.Type {
		case "MessageCreated":
			v.Created[ev.Key]++
			m := ev.Body["message"].(map[string]any)
			v.Status[id] = m["status_raw"].(string)
			if m["is_deleted"] == true {
				v.Status[id] = "DELETED"
			}
		case "StatusChanged":
			if v.Status[id] != "DELETED" {
				v.Status[id] = ev.Body["status_raw"].(string)
			}
		case "MessageDeleted":
			v.Status[id] = "DELETED"
		}
	}
	return v
}

// exitDetail adds a failed command's stderr to its error.
func exitDetail(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return err.Error() + ": " + tail(string(ee.Stderr), 30)
	}
	return err.Error()
}
