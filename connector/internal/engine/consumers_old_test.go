package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	pubevents "github.com/partoo-connector/partoo-connector/connector/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/oldwriters"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// Records no release wrote, added to the old writers' topics: every published reader must skip
// and count them, naming them, instead of stopping.
const (
	oddFingerprint = "0102030405060708"
	oddSchemaID    = 999999
)

// oldConsumerCases produces the records old builds really wrote (connector/internal/oldwriters:
// events, and the conversations table where the build had one) into fresh topics, one case per
// build, for the published readers to read as they read today's. The registry builds' records
// (the Confluent wire format) name their registry's ids: their schemas (the history's, by the
// schema_fingerprint header) are registered in this registry and the ids rewritten, as the
// same registry would have them after an upgrade; without a registry those builds are left
// out. The single-object case of the previous release gets one record of a fingerprint no
// release wrote, its registry case one of a schema id the registry does not know: the case's
// Skipped. The truth is what the connector's public decoder reads in the records.
func oldConsumerCases(t *testing.T, cluster *kafkatest.Cluster, regURL string) []*consumerCase {
	t.Helper()
	var out []*consumerCase
	for _, w := range oldwriters.Writers() {
		registryFramed := strings.HasSuffix(w, "-registry")
		if registryFramed && regURL == "" {
			continue
		}
		recs, err := oldwriters.Records(w)
		if err != nil {
			t.Fatal(err)
		}
		byTopic := map[string][]oldwriters.Record{}
		for _, r := range recs {
			byTopic[r.Topic] = append(byTopic[r.Topic], r)
		}
		c := &consumerCase{Brokers: strings.Join(cluster.Brokers, ","), Old: w, Skipped: map[string]int{}}
		if registryFramed {
			c.Registry = regURL
		}
		base := kafkatest.Topic(t) + "." + w
		c.Topic = base + ".events"
		evs := byTopic[oldwriters.TopicEvents]
		if registryFramed {
			evs = withRegistryIDs(t, regURL, c.Topic, evs)
		}
		c.Truth, c.EventsByType, c.CreatedPerBusinessPartner, c.DeleteReasons = oldTruth(t, evs)
		c.events = len(evs)
		switch {
		case w == "ef76f95":
			odd := evs[0]
			odd.Value = append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, odd.Value[10:]...)
			odd.Headers = nil
			evs = append(evs, odd)
			c.Skipped["fingerprint "+oddFingerprint] = 1
		case w == "ef76f95-registry":
			odd := evs[0]
			odd.Value = append([]byte{0, 0, 0, 0, 0}, odd.Value[5:]...)
			binary.BigEndian.PutUint32(odd.Value[1:5], oddSchemaID)
			odd.Headers = nil
			evs = append(evs, odd)
			c.Skipped["schema id "+strconv.Itoa(oddSchemaID)] = 1
		}
		produceOld(t, cluster, c.Topic, evs)
		if rows := byTopic[oldwriters.TopicConversations]; len(rows) > 0 && !registryFramed {
			c.ConversationsTable = base + ".conversations"
			produceOld(t, cluster, c.ConversationsTable, rows)
		} else {
			c.CreatedPerBusinessPartner = nil // no table to join with
		}
		out = append(out, c)
	}
	return append(out, upgradedCase(t, cluster))
}

// The upgraded case: a topic the previous release wrote, then today's build after an upgrade
// (the same simulated organisation: today's records follow the old ones for the same
// conversations and messages), with today's conversations table.
const upgradedFrom, upgradedTo = "ef76f95", "1e55615"

func upgradedCase(t *testing.T, cluster *kafkatest.Cluster) *consumerCase {
	t.Helper()
	var evs, rows []oldwriters.Record
	for _, w := range []string{upgradedFrom, upgradedTo} {
		recs, err := oldwriters.Records(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			switch r.Topic {
			case oldwriters.TopicEvents:
				evs = append(evs, r)
			case oldwriters.TopicConversations:
				rows = append(rows, r)
			}
		}
	}
	name := upgradedFrom + "-then-" + upgradedTo
	c := &consumerCase{Brokers: strings.Join(cluster.Brokers, ","), Old: name, Skipped: map[string]int{}}
	base := kafkatest.Topic(t) + "." + name
	c.Topic, c.ConversationsTable = base+".events", base+".conversations"
	c.Truth, c.EventsByType, _, c.DeleteReasons = oldTruth(t, evs)
	c.events = len(evs)
	// Both builds observed the same changes of the same organisation: the same event ids.
	c.unique = map[string]int{}
	seen := map[string]bool{}
	for _, r := range evs {
		if id := r.Header("ce_id"); !seen[id] {
			seen[id] = true
			c.unique[r.Header("event_type")]++
		}
	}
	// The join counts every MessageCreated, old ones too, by its conversation's row.
	business := map[string]string{}
	dec, err := tables.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		_, row, err := dec.Decode(r.Value)
		if err != nil {
			t.Fatalf("%s conversations@%d: %v", r.Writer, r.Offset, err)
		}
		business[string(r.Key)] = fmt.Sprint(row["business_id"]) + "|" + fmt.Sprint(row["messaging_partner"])
	}
	c.CreatedPerBusinessPartner = map[string]int{}
	for conv, n := range c.Truth.Created {
		c.CreatedPerBusinessPartner[business[conv]] += n
	}
	produceOld(t, cluster, c.Topic, evs)
	produceOld(t, cluster, c.ConversationsTable, rows)
	return c
}

// oldTruth is what a reader of the events concludes, as the connector's public decoder reads
// them: the statuses, MessageCreated per conversation, the events by type, and MessageCreated
// per business and channel, and the deletions' reasons by message id.
func oldTruth(t *testing.T, evs []oldwriters.Record) (truth, map[string]int, map[string]int, map[string]string) {
	t.Helper()
	dec, err := pubevents.NewDecoder(pubevents.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := truth{Status: map[string]string{}, Created: map[string]int{}}
	byType, perBusiness, reasons := map[string]int{}, map[string]int{}, map[string]string{}
	for _, r := range evs {
		e, err := dec.Decode(r.Value, r.Header(pubevents.HeaderFingerprint))
		if err != nil {
			t.Fatalf("%s@%d: %v", r.Writer, r.Offset, err)
		}
		byType[string(e.Type)]++
		id := strconv.FormatInt(e.MessageID, 10)
		switch e.Type {
		case pubevents.MessageCreated:
			tr.Created[string(r.Key)]++
			perBusiness[e.BusinessID+"|"+e.MessagingPartner]++
			tr.Status[id] = e.Message.Status
			if e.Message.IsDeleted {
				tr.Status[id] = "DELETED"
			}
		case pubevents.StatusChanged:
			if tr.Status[id] != "DELETED" {
				tr.Status[id] = e.Status
			}
		case pubevents.MessageDeleted:
			tr.Status[id] = "DELETED"
			reasons[id] = e.Reason
		}
	}
	return tr, byType, perBusiness, reasons
}

// withRegistryIDs registers each record's schema (the history's file of its schema_fingerprint
// header) under the topic's subject for its record name, and rewrites the record's schema id
// (value and schema_id header) to the id this registry gave.
func withRegistryIDs(t *testing.T, regURL, topic string, evs []oldwriters.Record) []oldwriters.Record {
	t.Helper()
	list, err := schemahistory.List()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range list {
		files[l.Fingerprint] = l.Schema
	}
	cl, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := map[string]int{}
	out := make([]oldwriters.Record, 0, len(evs))
	for _, r := range evs {
		fp := r.Header(pubevents.HeaderFingerprint)
		id, ok := ids[fp]
		if !ok {
			file := files[fp]
			if file == "" {
				t.Fatalf("%s@%d: fingerprint %q is not in the history", r.Writer, r.Offset, fp)
			}
			text, err := fs.ReadFile(schemas.History, "history/"+file)
			if err != nil {
				t.Fatal(err)
			}
			subject := topic + "-" + r.Header("schema_name")
			ss, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: string(text), Type: sr.TypeAvro})
			if err != nil {
				t.Fatalf("register %s as %s: %v", file, subject, err)
			}
			id, ids[fp] = ss.ID, ss.ID
		}
		r.Value = append([]byte(nil), r.Value...)
		binary.BigEndian.PutUint32(r.Value[1:5], uint32(id))
		hs := make([]oldwriters.Header, 0, len(r.Headers))
		for _, h := range r.Headers {
			if h.Key == "schema_id" {
				h.Value = []byte(strconv.Itoa(id))
			}
			hs = append(hs, h)
		}
		r.Headers = hs
		out = append(out, r)
	}
	return out
}

// produceOld creates topic with the partitions the records name and produces them there, in
// one committed transaction (the readers read read_committed), with their keys, values and
// headers.
func produceOld(t *testing.T, cluster *kafkatest.Cluster, topic string, rs []oldwriters.Record) {
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

// backfillReadsEvery runs docs/backfills.md's Python backfill (examples/python/backfill.py) on
// the case's events topic into a fresh SQLite file, to the topic's end: every event is a row,
// with its type, and every deletion its reason, whichever release wrote it; the records of an
// unknown schema are skipped, counted and named on stderr.
func backfillReadsEvery(t *testing.T, python string, c *consumerCase) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "events.sqlite")
	args := []string{"../../../examples/python/backfill.py", "--brokers", c.Brokers, "--topic", c.Topic,
		"--db", db, "--group", "backfill-" + c.Topic, "--until-end"}
	if c.Registry != "" {
		args = append(args, "--registry", c.Registry)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("backfill.py %s: %v: %s", c.Topic, err, tail(stderr.String(), 30))
	}
	unique, rows := c.EventsByType, c.events // a row per event_id: INSERT … ON CONFLICT DO NOTHING
	if c.unique != nil {
		unique, rows = c.unique, 0
		for _, n := range unique {
			rows += n
		}
	}
	skipped := 0
	for what, n := range c.Skipped {
		skipped += n
		if !strings.Contains(stderr.String(), "unknown schema "+what) {
			t.Fatalf("backfill.py %s: stderr %q does not name %s", c.Topic, stderr.String(), what)
		}
	}
	if want := fmt.Sprintf("%d events inserted, %d skipped", rows, skipped); !strings.Contains(string(out), want) {
		t.Fatalf("backfill.py %s (old build %q) said %q, want %q; stderr: %s", c.Topic, c.Old, out, want, tail(stderr.String(), 20))
	}
	query := `import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(json.dumps({"by_type": dict(db.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall()),
  "deleted_without_reason": db.execute("SELECT count(*) FROM events WHERE event_type = 'MessageDeleted' AND reason IS NULL").fetchone()[0]}))`
	res, err := exec.CommandContext(ctx, python, "-c", query, db).Output()
	if err != nil {
		t.Fatalf("reading %s: %v", db, exitDetail(err))
	}
	var got struct {
		ByType               map[string]int `json:"by_type"`
		DeletedWithoutReason int            `json:"deleted_without_reason"`
	}
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.ByType, unique) || got.DeletedWithoutReason != 0 {
		t.Fatalf("backfill.py %s (old build %q): rows %v, %d deletions without a reason; want %v and none",
			c.Topic, c.Old, got.ByType, got.DeletedWithoutReason, unique)
	}
	t.Logf("backfill.py wrote all %d events of %s (old build %q) as %d rows, one per event_id", c.events, c.Topic, c.Old, rows)
}

// flinkAnyRelease runs examples/flink/events_any_release.sql (recipes.py --any-release) on the
// registry cases, today's and the old builds': the events by type and every deletion's reason
// must be the truth, for records of every release; a topic holding a record of a schema id
// the registry does not know must stop the job with an error (as docs/recipes.md says).
func flinkAnyRelease(t *testing.T, cases []*consumerCase, python, jars string) {
	t.Helper()
	ran := 0
	for _, c := range cases {
		if c.Registry == "" {
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, python, "../../../examples/flink/recipes.py", "--any-release",
			"--brokers", c.Brokers, "--registry", c.Registry, "--events-topic", c.Topic, "--jars", jars)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("recipes.py --any-release on %s: %v\n%s", c.Topic, err, tail(stderr.String(), 40))
		}
		var got struct {
			Error  string `json:"error"`
			ByType []struct {
				EventType string `json:"event_type"`
				Events    int    `json:"events"`
			} `json:"any_release_events_by_type"`
			Deleted []struct {
				MessageID int64   `json:"message_id"`
				Reason    *string `json:"reason"`
			} `json:"any_release_message_deleted"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("recipes.py --any-release output %q: %v", tail(stdout.String(), 5), err)
		}
		if len(c.Skipped) > 0 {
			if !strings.Contains(got.Error, strconv.Itoa(oddSchemaID)) {
				t.Fatalf("%s holds a record of an unknown schema id, yet Flink read it or failed otherwise: %+v", c.Topic, got)
			}
			t.Logf("Flink stops on %s's record of an unknown schema id, as documented: %.300s", c.Topic, got.Error)
			continue
		}
		if got.Error != "" {
			t.Fatalf("recipes.py --any-release on %s (old build %q): %s", c.Topic, c.Old, got.Error)
		}
		byType := map[string]int{}
		for _, r := range got.ByType {
			byType[r.EventType] += r.Events
		}
		reasons := map[string]string{}
		for _, r := range got.Deleted {
			reasons[strconv.FormatInt(r.MessageID, 10)] = "<NULL>"
			if r.Reason != nil {
				reasons[strconv.FormatInt(r.MessageID, 10)] = *r.Reason
			}
		}
		if !maps.Equal(byType, c.EventsByType) || !maps.Equal(reasons, c.DeleteReasons) {
			t.Fatalf("Flink (events_any_release.sql) on %s (old build %q): events %v, deletions %v; want %v, %v",
				c.Topic, c.Old, byType, reasons, c.EventsByType, c.DeleteReasons)
		}
		t.Logf("Flink read every event of %s (old build %q) with its type and every deletion's reason: %v, %v", c.Topic, c.Old, byType, reasons)
	}
	if ran == 0 {
		t.Fatal("no registry case for events_any_release.sql")
	}
}
