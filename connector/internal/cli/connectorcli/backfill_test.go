package connectorcli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
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
	t.Setenv("PARTOO_API_KEY", "k") // rebuild-state names the state's owner by the key
	return b
}

// startConnector runs the connector in-process until the returned stop is called.
func (b *backfillEnv) startConnector(scheduler string) (*engine.Engine, func()) {
	b.t.Helper()
	conn, err := engine.New(engine.Options{Partoo: partoo.Config{APIURL: b.url, APIKey: secret.New("k"), RequestsPerMinute: 600_000},
		Kafka: []kgo.Opt{kgo.SeedBrokers(b.cluster.Brokers...)}, Topics: b.topics, TransactionalID: b.txn,
		Scheduler: scheduler, Logger: testLogger(b.t)})
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	return conn, func() {
		cancel()
		if err := <-done; err != nil {
			b.t.Fatal(err)
		}
	}
}

// runConnector runs the connector in-process until it has done walks walks.
func (b *backfillEnv) runConnector(walks int64) {
	b.t.Helper()
	conn, stop := b.startConnector(engine.SchedulerSweep)
	deadline := time.Now().Add(60 * time.Second)
	for conn.Walks() < walks && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if conn.Walks() < walks {
		b.t.Fatalf("only %d of %d walks", conn.Walks(), walks)
	}
}

// events reads the events topic (read_committed, to its end).
func (b *backfillEnv) events() []eventLine {
	b.t.Helper()
	var out, errs bytes.Buffer
	if rc := run([]string{"tail", "--from-beginning", "--until-end"}, &out, &errs); rc != 0 {
		b.t.Fatalf("tail: %d %s", rc, errs.String())
	}
	var evs []eventLine
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var ev eventLine
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			b.t.Fatalf("%q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestRebuildState: after the state topic is lost, rebuild-state rebuilds it from the events,
// and a restart emits nothing new (where deleting the state would re-emit everything).
func TestRebuildState(t *testing.T) {
	defer func(w time.Duration) { liveWindow = w }(liveWindow)
	liveWindow = 0 // the connector below is stopped before each rebuild-state: no need to wait
	b := newBackfillEnv(t)
	b.runConnector(20)
	// Changes the events must carry into the rebuilt state.
	ids := b.sim.ConversationIDs()
	msgs := b.sim.Messages(ids[0])
	_ = b.sim.SetStatus(msgs[0].ID, model.StatusFailed)
	_ = b.sim.DeleteMessage(msgs[len(msgs)-1].ID)
	if m := b.sim.Messages(ids[1]); len(m) > 1 {
		_ = b.sim.VanishMessage(m[0].ID)
	}
	b.runConnector(40)
	before := len(b.events())
	if before == 0 {
		t.Fatal("no events")
	}

	// rebuild-state needs the connector's key: the states it writes name their owner.
	var out, errs bytes.Buffer
	os.Unsetenv("PARTOO_API_KEY")
	if rc := run([]string{"rebuild-state"}, &out, &errs); rc != 2 || !strings.Contains(errs.String(), "PARTOO_API_KEY") {
		t.Fatalf("without PARTOO_API_KEY: rc %d: %s", rc, errs.String())
	}
	t.Setenv("PARTOO_API_KEY", "k")
	errs.Reset()
	// rebuild-state refuses a state topic that still has records.
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
	// Each state written names its owner as the connector's own records do.
	// rebuild-state's commit markers reach the partitions after its commit returned (seen
	// empty in a CI run): read again until the 10 states show, at most 2 minutes.
	rctx := kafkatest.Context(t, 2*time.Minute)
	recs, err := b.cluster.ReadCommitted(rctx, t, b.topics.State)
	for err == nil && len(recs) < 10 && rctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		recs, err = b.cluster.ReadCommitted(rctx, t, b.topics.State)
	}
	if err != nil || len(recs) != 10 {
		t.Fatalf("state topic after rebuild-state: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if o, ok := state.RecordOwner(r); !ok || o != state.NewOwner("k", 0) {
			t.Fatalf("state record %s[%d]@%d names owner %v (%v), want %v", r.Topic, r.Partition, r.Offset, o, ok, state.NewOwner("k", 0))
		}
	}
	b.runConnector(30) // three sweeps of the 10 conversations
	if after := len(b.events()); after != before {
		t.Fatalf("after rebuild-state and a restart: %d events, was %d", after, before)
	}
}

// TestRebuildStateRefusesALiveConnector: rebuild-state writes with the connector's
// transactional id, so it refuses while a connector of that id runs — idle or not, --force or
// not — and the connector keeps committing; right after the connector stopped it still refuses
// (its last transaction is recent), saying when to retry.
func TestRebuildStateRefusesALiveConnector(t *testing.T) {
	b := newBackfillEnv(t)
	conn, stop := b.startConnector(engine.SchedulerSweep)
	for deadline := time.Now().Add(60 * time.Second); conn.Walks() < 20; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connector did not walk")
		}
	}
	var out, errs bytes.Buffer
	if rc := run([]string{"rebuild-state", "--force"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "is running") {
		stop()
		t.Fatalf("against a live connector: rc %d: %s", rc, errs.String())
	}
	t.Logf("refused: %s", strings.TrimSpace(errs.String()))
	// Without --force too, it names the running connector rather than advise deleting its
	// state topic (which holds records: the live state).
	errs.Reset()
	if rc := run([]string{"rebuild-state"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "is running") || strings.Contains(errs.String(), "delete it first") {
		stop()
		t.Fatalf("against a live connector, without --force: rc %d: %s", rc, errs.String())
	}
	// The connector was not fenced: it still commits.
	before := len(b.events())
	ids := b.sim.ConversationIDs()
	if _, err := b.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[0], SenderType: "Consumer", Content: "after the refusal"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); len(b.events()) == before; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connector stopped committing after rebuild-state refused")
		}
	}
	if b.cluster.Real() { // kfake does not describe producers
		// Another KAFKA_TRANSACTIONAL_ID (a shell without the Deployment's): the state topic's
		// recent writes still give the live connector away.
		t.Setenv("KAFKA_TRANSACTIONAL_ID", "someone-else")
		errs.Reset()
		if rc := run([]string{"rebuild-state", "--force"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "wrote the state topic") {
			stop()
			t.Fatalf("with another transactional id: rc %d: %s", rc, errs.String())
		}
		os.Unsetenv("KAFKA_TRANSACTIONAL_ID")
	}
	stop()
	if !b.cluster.Real() {
		return // kfake does not report when a transactional id's last transaction started
	}
	errs.Reset()
	if rc := run([]string{"rebuild-state", "--force"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "retry after") {
		t.Fatalf("right after the connector stopped: rc %d: %s", rc, errs.String())
	}
}

// TestResnapshot: on a running connector, resnapshot re-emits exactly the chosen conversations'
// current messages as MessageCreated(snapshot=true), with new event ids, and the request is
// marked done (the signal's offset committed).
func TestResnapshot(t *testing.T) {
	b := newBackfillEnv(t)
	want := 0
	for _, id := range b.sim.ConversationIDs() {
		for _, m := range b.sim.Messages(id) {
			if m.SenderType.Known() {
				want++
			}
		}
	}
	conn, stop := b.startConnector(engine.SchedulerSmart)
	defer stop()
	kafkatest.WaitFor(t, "the connector to be ready", 60*time.Second, func() bool { return conn.Readiness() == nil })
	kafkatest.WaitFor(t, "the snapshot", 60*time.Second, func() bool { return len(b.events()) >= want })
	before := b.events()
	seen := map[string]bool{}
	at := map[[2]int64]bool{}
	for _, ev := range before {
		seen[ev.Headers["ce_id"]] = true
		at[[2]int64{int64(ev.Partition), ev.Offset}] = true
	}

	ids := b.sim.ConversationIDs()
	chosen := map[string]int{strconv.FormatInt(ids[2], 10): 0, strconv.FormatInt(ids[5], 10): 0}
	for key := range chosen {
		id, _ := strconv.ParseInt(key, 10, 64)
		for _, m := range b.sim.Messages(id) {
			if m.SenderType.Known() {
				chosen[key]++
			}
		}
	}
	var out, errs bytes.Buffer
	if rc := run([]string{"resnapshot", "--conversation-ids", strconv.FormatInt(ids[2], 10) + "," + strconv.FormatInt(ids[5], 10)}, &out, &errs); rc != 0 {
		t.Fatalf("resnapshot: rc %d: %s", rc, errs.String())
	}
	expect := chosen[strconv.FormatInt(ids[2], 10)] + chosen[strconv.FormatInt(ids[5], 10)]
	kafkatest.WaitFor(t, "the re-emitted snapshots", 60*time.Second, func() bool { return len(b.events()) >= len(before)+expect })
	// The request is done: its signal's offset is committed.
	kafkatest.WaitFor(t, "the signal's offset to be committed", 60*time.Second, func() bool {
		offs, err := b.cluster.Admin(t).FetchOffsets(context.Background(), b.txn+".signals")
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(signal.Topic(b.topics.State), 0)
		return ok && o.At == 1
	})
	time.Sleep(2 * time.Second) // nothing more may come
	after := b.events()
	if len(after) != len(before)+expect {
		t.Fatalf("%d events after the resnapshot, want %d + %d", len(after), len(before), expect)
	}
	got := map[string]int{}
	for _, ev := range after {
		if at[[2]int64{int64(ev.Partition), ev.Offset}] {
			continue // read before the request
		}
		body := ev.Event.(map[string]any)
		if ev.Type != "MessageCreated" || body["snapshot"] != true || seen[ev.Headers["ce_id"]] {
			t.Fatalf("re-emitted %s snapshot=%v id seen before: %v", ev.Type, body["snapshot"], seen[ev.Headers["ce_id"]])
		}
		seen[ev.Headers["ce_id"]] = true
		got[ev.Key]++
	}
	if len(got) != 2 || got[strconv.FormatInt(ids[2], 10)] != chosen[strconv.FormatInt(ids[2], 10)] || got[strconv.FormatInt(ids[5], 10)] != chosen[strconv.FormatInt(ids[5], 10)] {
		t.Fatalf("re-emitted per conversation %v, want %v", got, chosen)
	}
	if rc := run([]string{"resnapshot"}, &out, &errs); rc != 2 {
		t.Fatalf("resnapshot without ids: rc %d", rc)
	}
}
