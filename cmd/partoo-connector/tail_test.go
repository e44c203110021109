package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector"
	"github.com/partoo-connector/partoo-connector/connector/config"
	"github.com/partoo-connector/partoo-connector/connector/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/secret"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

func clearEnv(t *testing.T) {
	for _, v := range config.Vars() {
		t.Setenv(v.Name, "")
	}
}

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
	conn, err := connector.New(connector.Options{Partoo: partoo.Config{APIURL: simtest.Serve(t, sim), APIKey: secret.New("k"), RequestsPerMinute: 600_000}, Kafka: []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)},
		Topics: state.Topics{Events: topic, State: topic + ".state", EventsPartitions: 2, StatePartitions: 2}, TransactionalID: topic,
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
	// With nothing new, --timeout ends it.
	out.Reset()
	start := time.Now()
	if rc := run([]string{"tail", "--timeout", "1s"}, &out, &errs); rc != 0 || out.Len() != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("idle tail: rc %d, %q after %v", rc, out.String(), time.Since(start))
	}
}
