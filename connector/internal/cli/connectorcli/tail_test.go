package connectorcli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestRunWithoutKeyExits2: one line naming the variable, status 2.
func TestRunWithoutKeyExits2(t *testing.T) {
	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	var out, errs bytes.Buffer
	if rc := run([]string{"run"}, &out, &errs); rc != 2 {
		t.Fatalf("rc = %d, want 2", rc)
	}
	msg := strings.TrimSpace(errs.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "PARTOO_API_KEY") {
		t.Fatalf("stderr %q: want one line naming PARTOO_API_KEY", msg)
	}
}

// TestTailPrintsEvents: `tail --from-beginning` prints what the connector committed.
func TestTailPrintsEvents(t *testing.T) {
	cluster := kafkatest.New(t)
	topic := kafkatest.Topic(t)
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	c := sim.CreateConversation(partoosim.ConversationSpec{})
	for i := 0; i < 3; i++ {
		_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	}
	conn, err := engine.New(engine.Options{Partoo: partoo.Config{APIURL: simtest.Serve(t, sim), APIKey: secret.New("k"), RequestsPerMinute: 600_000}, Kafka: []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)},
		Topics: state.Topics{Events: topic, State: topic + ".state", EventsPartitions: 2, StatePartitions: 2,
			MessagesTable: state.TableTopic{Name: topic + ".table", Partitions: 2}}, TransactionalID: topic,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for conn.Walks() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	t.Setenv("KAFKA_EVENTS_TOPIC", topic)
	var out, errs bytes.Buffer
	if rc := run([]string{"tail", "--from-beginning", "--max", "3", "--timeout", "20s"}, &out, &errs); rc != 0 {
		t.Fatalf("tail: rc %d: %s", rc, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), out.String())
	}
	for _, l := range lines {
		var ev eventLine
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		body := ev.Event.(map[string]any)
		if ev.Type != "MessageCreated" || ev.Key != "1" || body["conversation_id"] != float64(1) || ev.Headers["ce_id"] != body["event_id"] {
			t.Fatalf("line %s", l)
		}
	}
	// The messages table topic reads too: one row a message, with its context.
	out.Reset()
	if rc := run([]string{"tail", "--topic", topic + ".table", "--from-beginning", "--max", "3", "--timeout", "20s", "--format", "text"}, &out, &errs); rc != 0 {
		t.Fatalf("tail of the table: rc %d: %s", rc, errs.String())
	}
	if rows := strings.Split(strings.TrimSpace(out.String()), "\n"); len(rows) != 3 || !strings.Contains(rows[0], "MessageRow") ||
		!strings.Contains(rows[0], "Whatsapp/1") || strings.Contains(out.String(), "undecodable") {
		t.Fatalf("table rows: %q", out.String())
	}
	// With nothing new, --timeout ends it.
	out.Reset()
	start := time.Now()
	if rc := run([]string{"tail", "--timeout", "1s"}, &out, &errs); rc != 0 || out.Len() != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("idle tail: rc %d, %q after %v", rc, out.String(), time.Since(start))
	}
}

// TestTailFailsFast: an unreachable broker or a missing topic ends tail with one line and
// status 1 within 10 s.
func TestTailFailsFast(t *testing.T) {
	cluster := kafkatest.New(t) // before KAFKA_BROKERS is set to a dead address
	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	var out, errs bytes.Buffer
	start := time.Now()
	rc := run([]string{"tail", "--from-beginning"}, &out, &errs)
	if rc != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("unreachable broker: rc %d after %v", rc, time.Since(start))
	}
	if msg := strings.TrimSpace(errs.String()); strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "Kafka at 127.0.0.1:1") {
		t.Fatalf("stderr %q", msg)
	}

	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	errs.Reset()
	start = time.Now()
	rc = run([]string{"tail", "--topic", kafkatest.Topic(t) + ".missing"}, &out, &errs)
	if rc != 1 || time.Since(start) > 10*time.Second || !strings.Contains(errs.String(), "does not exist") {
		t.Fatalf("missing topic: rc %d after %v: %q", rc, time.Since(start), errs.String())
	}
	if rc := run([]string{"tail", "extra"}, &out, &errs); rc != 2 {
		t.Fatalf("an unexpected argument: rc %d", rc)
	}
}

// TestTailUntilEnd: while the connector keeps publishing, `tail --from-beginning --until-end`
// prints what was there at start and exits; --conversation-id filters; --format text is one
// readable line an event.
func TestTailUntilEnd(t *testing.T) {
	cluster := kafkatest.New(t)
	topic := kafkatest.Topic(t)
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	var convs []int64
	for i := 0; i < 3; i++ {
		c := sim.CreateConversation(partoosim.ConversationSpec{})
		convs = append(convs, c.ID)
		for j := 0; j < 3; j++ {
			_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, SenderType: "Consumer", Content: "hello there"})
		}
	}
	conn, err := engine.New(engine.Options{Partoo: partoo.Config{APIURL: simtest.Serve(t, sim), APIKey: secret.New("k"), RequestsPerMinute: 600_000}, Kafka: []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)},
		Topics: state.Topics{Events: topic, State: topic + ".state", EventsPartitions: 2, StatePartitions: 2}, TransactionalID: topic,
		Scheduler: engine.SchedulerSweep, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for conn.Walks() < 6 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The simulator keeps producing while tail reads.
	stopProducing := make(chan struct{})
	defer close(stopProducing)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			case <-time.After(20 * time.Millisecond):
				_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: convs[i%len(convs)], SenderType: "Consumer", Content: "more"})
			}
		}
	}()

	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	t.Setenv("KAFKA_EVENTS_TOPIC", topic)
	var out, errs bytes.Buffer
	start := time.Now()
	if rc := run([]string{"tail", "--from-beginning", "--until-end"}, &out, &errs); rc != 0 {
		t.Fatalf("until-end: rc %d: %s", rc, errs.String())
	}
	all := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(all) < 9 {
		t.Fatalf("until-end printed %d events after %v, want at least the 9 of the snapshot", len(all), time.Since(start))
	}

	out.Reset()
	want := strconv.FormatInt(convs[1], 10)
	if rc := run([]string{"tail", "--from-beginning", "--until-end", "--format", "text", "--conversation-id", want}, &out, &errs); rc != 0 {
		t.Fatalf("text: rc %d: %s", rc, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d lines for conversation %s: %q", len(lines), want, out.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, " MessageCreated ") || !strings.Contains(l, "conv="+want+" ") || strings.HasPrefix(l, "{") {
			t.Fatalf("text line %q", l)
		}
	}
	if !strings.Contains(out.String(), `"hello there"`) {
		t.Fatalf("the content is missing from %q", out.String())
	}

	// --timeout counts from the last event printed: other conversations' events, which keep
	// arriving, do not keep it waiting.
	out.Reset()
	start = time.Now()
	if rc := run([]string{"tail", "--conversation-id", "999999", "--timeout", "2s"}, &out, &errs); rc != 0 {
		t.Fatalf("timeout: rc %d: %s", rc, errs.String())
	}
	if took := time.Since(start); took > time.Minute || out.Len() != 0 {
		t.Fatalf("tail --timeout 2s under --conversation-id took %v and printed %q", took, out.String())
	}
}

func TestTextLine(t *testing.T) {
	sc := eventLine{Type: "StatusChanged", Event: map[string]any{"detected_at": "2026-11-24T09:15:11.118204Z",
		"conversation_id": int64(48213), "message_id": int64(918273), "previous_status_raw": "Sending", "status_raw": "Success"}}
	if got, want := textLine(sc), "2026-11-24T09:15:11Z StatusChanged  conv=48213 msg=918273 Sending→Success"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	mc := eventLine{Type: "MessageCreated", Event: map[string]any{"detected_at": "2026-11-24T09:15:05.118204Z", "snapshot": true,
		"conversation_id": int64(1), "message_id": int64(2), "message": map[string]any{"sender_type_raw": "User", "status_raw": "Sending",
			"content": "Your order\nis ready for pickup, and it is a very long message that goes on and on"}}}
	got := textLine(mc)
	if !strings.HasPrefix(got, `2026-11-24T09:15:05Z MessageCreated conv=1 msg=2 snapshot User Sending "Your order is ready`) ||
		!strings.HasSuffix(got, `…"`) || strings.Contains(got, "\n") {
		t.Fatalf("got %q", got)
	}
	var buf bytes.Buffer
	if isTerminal(&buf) {
		t.Fatal("a buffer is not a terminal")
	}
}
