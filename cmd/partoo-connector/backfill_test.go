package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector"
	"github.com/partoo-connector/partoo-connector/connector/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/secret"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

// backfillEnv is a simulator with history and a cluster with fresh topics, and the
// environment of the commands pointed at them.
type backfillEnv struct {
	t       *testing.T
	sim     *partoosim.Sim
	url     string
	cluster *kafkatest.Cluster
	topics  state.Topics
	txn     string
}

func newBackfillEnv(t *testing.T) *backfillEnv {
	cluster := kafkatest.New(t)
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	partoosim.NewGenerator(sim, partoosim.Activity{DeleteRatio: 0.5}, 9).Populate(10, 5, time.Hour)
	base := kafkatest.Topic(t)
	b := &backfillEnv{t: t, sim: sim, url: simtest.Serve(t, sim), cluster: cluster,
		topics: state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 3, StatePartitions: 3}, txn: base + ".txn"}
	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	t.Setenv("KAFKA_EVENTS_TOPIC", b.topics.Events)
	t.Setenv("KAFKA_STATE_TOPIC", b.topics.State)
	t.Setenv("KAFKA_TRANSACTIONAL_ID", b.txn)
	t.Setenv("KAFKA_EVENTS_PARTITIONS", "3")
	t.Setenv("KAFKA_STATE_PARTITIONS", "3")
	return b
}

// runConnector runs the connector in-process until it has done walks more walks than before.
func (b *backfillEnv) runConnector(walks int64) {
	b.t.Helper()
	conn, err := connector.New(connector.Options{Partoo: partoo.Config{APIURL: b.url, APIKey: secret.New("k"), RequestsPerMinute: 600_000},
		Kafka: []kgo.Opt{kgo.SeedBrokers(b.cluster.Brokers...)}, Topics: b.topics, TransactionalID: b.txn,
		Scheduler: connector.SchedulerSweep, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for conn.Walks() < walks && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.t.Fatal(err)
	}
	if conn.Walks() < walks {
		b.t.Fatalf("only %d of %d walks", conn.Walks(), walks)
	}
}

// events counts the events topic's records (read_committed, to its end).
func (b *backfillEnv) events() int {
	b.t.Helper()
	var out, errs bytes.Buffer
	if rc := run([]string{"tail", "--from-beginning", "--until-end"}, &out, &errs); rc != 0 {
		b.t.Fatalf("tail: %d %s", rc, errs.String())
	}
	return strings.Count(out.String(), "\n")
}

// TestRebuildState: after the state topic is lost, rebuild-state rebuilds it from the events,
// and a restart emits nothing new (where deleting the state would re-emit everything).
func TestRebuildState(t *testing.T) {
	b := newBackfillEnv(t)
	b.runConnector(20)
	// Changes the events must carry into the rebuilt state.
	ids := b.sim.ConversationIDs()
	msgs := b.sim.Messages(ids[0])
	_ = b.sim.SetStatus(msgs[0].ID, partoo.StatusFailed)
	_ = b.sim.DeleteMessage(msgs[len(msgs)-1].ID)
	if m := b.sim.Messages(ids[1]); len(m) > 1 {
		_ = b.sim.VanishMessage(m[0].ID)
	}
	b.runConnector(40)
	before := b.events()
	if before == 0 {
		t.Fatal("no events")
	}

	// rebuild-state refuses a state topic that still has records.
	var out, errs bytes.Buffer
	if rc := run([]string{"rebuild-state"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "still holds") {
		t.Fatalf("over a live state topic: rc %d: %s", rc, errs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.cluster.Admin(t).DeleteTopics(ctx, b.topics.State); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		errs.Reset()
		out.Reset()
		rc := run([]string{"rebuild-state"}, &out, &errs)
		if rc == 0 {
			break
		}
		if time.Now().After(deadline) { // the deletion may take a moment to show everywhere
			t.Fatalf("rebuild-state: rc %d: %s", rc, errs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "rebuilt the state of 10 conversations") {
		t.Fatalf("rebuild-state said %q", out.String())
	}
	b.runConnector(30) // three sweeps of the 10 conversations
	if after := b.events(); after != before {
		t.Fatalf("after rebuild-state and a restart: %d events, was %d", after, before)
	}
}
