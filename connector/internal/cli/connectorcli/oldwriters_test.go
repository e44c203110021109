package connectorcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	pubevents "github.com/partoo-connector/partoo-connector/connector/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/oldwriters"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestRecordsOfEveryReleaseStayReadable: the records earlier releases wrote (real ones,
// captured from their builds: connector/internal/oldwriters) are produced into topics as they
// were, and today's readers read every one: tail prints each without an error, the public
// decoder decodes each event, rebuild-state rebuilds from the events the states the old build
// had written itself, and today's state codec reads the old build's state records.
func TestRecordsOfEveryReleaseStayReadable(t *testing.T) {
	defer func(w time.Duration) { liveWindow = w }(liveWindow)
	liveWindow = 0 // no connector runs here
	cluster := kafkatest.New(t)
	writers := oldwriters.Writers()
	if len(writers) == 0 {
		t.Fatal("no old writers' records")
	}
	for _, w := range writers {
		t.Run(w, func(t *testing.T) {
			recs, err := oldwriters.Records(w)
			if err != nil {
				t.Fatal(err)
			}
			byTopic := map[string][]oldwriters.Record{}
			for _, r := range recs {
				byTopic[r.Topic] = append(byTopic[r.Topic], r)
			}
			if len(byTopic[oldwriters.TopicEvents]) == 0 || len(byTopic[oldwriters.TopicState]) == 0 {
				t.Fatalf("%s: no events or no states captured", w)
			}
			base := kafkatest.Topic(t)
			topics := map[string]string{}
			for kind, rs := range byTopic {
				topics[kind] = base + "." + kind
				produceAsWritten(t, cluster, topics[kind], rs)
			}
			clearEnv(t)
			t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
			t.Setenv("KAFKA_EVENTS_TOPIC", topics[oldwriters.TopicEvents])
			for _, kind := range []string{oldwriters.TopicEvents, oldwriters.TopicMessages, oldwriters.TopicConversations} {
				if rs := byTopic[kind]; len(rs) > 0 {
					tailReadsEvery(t, topics[kind], rs)
				}
			}
			decoderReadsEvery(t, byTopic[oldwriters.TopicEvents])
			rebuildMatchesOldStates(t, cluster, base+".rebuilt", byTopic[oldwriters.TopicState])
		})
	}
}

// produceAsWritten creates topic with the partitions the records name and produces them there
// with their keys, values and headers.
func produceAsWritten(t *testing.T, cluster *kafkatest.Cluster, topic string, rs []oldwriters.Record) {
	t.Helper()
	parts := int32(1)
	for _, r := range rs {
		parts = max(parts, r.Partition+1)
	}
	ctx := kafkatest.Context(t, time.Minute)
	if _, err := cluster.Admin(t).CreateTopic(ctx, parts, 1, map[string]*string{}, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	cl := cluster.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	for _, r := range rs {
		rec := &kgo.Record{Partition: r.Partition, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

// tailReadsEvery: `tail --from-beginning --until-end` prints every record, none undecodable,
// each of the type its headers name.
func tailReadsEvery(t *testing.T, topic string, rs []oldwriters.Record) {
	t.Helper()
	var out, errs bytes.Buffer
	if rc := run([]string{"tail", "--topic", topic, "--from-beginning", "--until-end"}, &out, &errs); rc != 0 {
		t.Fatalf("tail %s: rc %d: %s", topic, rc, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(rs) {
		t.Fatalf("tail %s printed %d lines for %d records: %s", topic, len(lines), len(rs), out.String())
	}
	for _, l := range lines {
		var ev struct {
			Type  string         `json:"type"`
			Event map[string]any `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if msg, bad := ev.Event["error"]; bad {
			t.Errorf("tail %s: undecodable: %v (%s)", topic, msg, l)
		}
	}
}

// decoderReadsEvery: the public decoder decodes every event as the type its ce_type names.
func decoderReadsEvery(t *testing.T, rs []oldwriters.Record) {
	t.Helper()
	dec, err := pubevents.NewDecoder(pubevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		e, err := dec.Decode(r.Value, r.Header(pubevents.HeaderFingerprint))
		if err != nil {
			t.Errorf("public decoder, %s@%d: %v", r.Topic, r.Offset, err)
			continue
		}
		if want := r.Header("ce_type"); !strings.HasSuffix(want, "."+string(e.Type)) || e.ConversationID == 0 || e.MessageID == 0 {
			t.Errorf("public decoder, %s@%d: %+v, want a %s with its ids", r.Topic, r.Offset, e, want)
		}
	}
}

// rebuildMatchesOldStates: rebuild-state over the old events writes, per conversation, the
// messages and statuses of the old build's own last state record, which today's state codec
// reads too.
func rebuildMatchesOldStates(t *testing.T, cluster *kafkatest.Cluster, stateTopic string, old []oldwriters.Record) {
	t.Helper()
	codec, err := state.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range old {
		if r.Value == nil {
			delete(want, string(r.Key))
			continue
		}
		s, err := codec.Decode(r.Value)
		if err != nil {
			t.Fatalf("today's state codec, old state %s@%d: %v", r.Key, r.Offset, err)
		}
		want[string(r.Key)] = stateSummary(s)
	}
	t.Setenv("KAFKA_STATE_TOPIC", stateTopic)
	t.Setenv("KAFKA_TRANSACTIONAL_ID", stateTopic)
	t.Setenv("PARTOO_API_KEY", "k")
	var out, errs bytes.Buffer
	if rc := run([]string{"rebuild-state"}, &out, &errs); rc != 0 {
		t.Fatalf("rebuild-state: rc %d: %s%s", rc, out.String(), errs.String())
	}
	// The transaction's markers reach the partitions after its commit returned (on a busy
	// machine, visibly later): read again until the rebuilt states show, at most 2 minutes.
	ctx := kafkatest.Context(t, 2*time.Minute)
	got := map[string]string{}
	for {
		recs, err := cluster.ReadCommitted(ctx, t, stateTopic)
		if err != nil {
			t.Fatalf("%v (rebuilt states so far %v, want the old build's %v)", err, got, want)
		}
		got = map[string]string{}
		for _, r := range recs {
			s, err := codec.Decode(r.Value)
			if err != nil {
				t.Fatalf("rebuilt state %s: %v", r.Key, err)
			}
			got[string(r.Key)] = stateSummary(s)
		}
		if maps.Equal(got, want) || len(got) >= len(want) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("rebuilt states (%s):\n%v\nwant the old build's:\n%v", strings.TrimSpace(out.String()), got, want)
	}
}

// stateSummary is a state's messages with their status and deletion flag, in id order.
func stateSummary(s *diff.State) string {
	var b []string
	for _, m := range s.Messages {
		b = append(b, fmt.Sprintf("%d:%d:%d", m.ID, m.Status, m.Flags))
	}
	sort.Strings(b)
	return strings.Join(b, " ")
}

// TestUnknownFingerprintIsSkippedAndNamed: a record whose schema fingerprint is in no schema
// any release wrote stops neither tail nor rebuild-state: each names the fingerprint and its
// count, tail prints the record with its error, rebuild-state rebuilds from the rest.
func TestUnknownFingerprintIsSkippedAndNamed(t *testing.T) {
	defer func(w time.Duration) { liveWindow = w }(liveWindow)
	liveWindow = 0 // no connector runs here
	cluster := kafkatest.New(t)
	recs, err := oldwriters.Records("ef76f95")
	if err != nil {
		t.Fatal(err)
	}
	var evs []oldwriters.Record
	for _, r := range recs {
		if r.Topic == oldwriters.TopicEvents {
			evs = append(evs, r)
		}
	}
	odd := evs[0]
	odd.Value = append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, odd.Value[10:]...)
	odd.Headers = nil
	evs = append(evs, odd)
	topic := kafkatest.Topic(t)
	produceAsWritten(t, cluster, topic, evs)
	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	t.Setenv("KAFKA_EVENTS_TOPIC", topic)
	t.Setenv("KAFKA_STATE_TOPIC", topic+".state")
	t.Setenv("KAFKA_TRANSACTIONAL_ID", topic)
	t.Setenv("PARTOO_API_KEY", "k")
	const named = "1 records of unknown schema fingerprint 0102030405060708"
	var out, errs bytes.Buffer
	if rc := run([]string{"tail", "--from-beginning", "--until-end"}, &out, &errs); rc != 0 || !strings.Contains(errs.String(), named) {
		t.Fatalf("tail: rc %d, stderr %q: want 0 and %q", rc, errs.String(), named)
	}
	if n := strings.Count(out.String(), "unknown schema fingerprint 0102030405060708"); n != 1 {
		t.Fatalf("tail printed the odd record %d times: %s", n, out.String())
	}
	out.Reset()
	errs.Reset()
	if rc := run([]string{"rebuild-state"}, &out, &errs); rc != 0 || !strings.Contains(errs.String(), named) {
		t.Fatalf("rebuild-state: rc %d, stderr %q: want 0 and %q", rc, errs.String(), named)
	}
	if want := fmt.Sprintf("from %d events", len(evs)-1); !strings.Contains(out.String(), want) {
		t.Fatalf("rebuild-state said %q, want %q", out.String(), want)
	}
}
