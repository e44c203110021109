package state_test

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

func TestCodecRoundTrip(t *testing.T) {
	c, err := state.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 1000} {
		s := conversation(7, n)
		b, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Messages) == 0 {
			s.Messages = []diff.MessageState{}
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("n=%d: round trip changed the state:\n got %+v\nwant %+v", n, got.Messages[:min(3, n)], s.Messages[:min(3, n)])
		}
	}
	if _, err := c.Decode([]byte("garbage")); err == nil {
		t.Fatal("decoding garbage must fail")
	}
}

// A conversation of 100,000 messages must fit the state topic's max.message.bytes.
func TestLargeConversationFits(t *testing.T) {
	c, _ := state.NewCodec()
	b, err := c.Encode(conversation(1, 100_000))
	if err != nil {
		t.Fatal(err)
	}
	perMsg := float64(len(b)) / 100_000
	t.Logf("100,000 messages: %d bytes on the wire (%.1f bytes/message)", len(b), perMsg)
	if len(b) > state.DefaultStateMaxMessageBytes/8 {
		t.Fatalf("%d bytes: too close to the %d-byte limit", len(b), state.DefaultStateMaxMessageBytes)
	}
}

// TestRestoreReadsCommittedStateOnly: the restore sees the last committed record of each
// conversation, nothing from an aborted transaction, and handles tombstones.
func TestRestoreReadsCommittedStateOnly(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	topic := kafkatest.Topic(t)
	topics := state.Topics{Events: topic + ".events", State: topic, StatePartitions: 3, EventsPartitions: 1}
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatal(err)
	}
	// EnsureTopics is idempotent on a correct topic.
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	c, _ := state.NewCodec()
	p := cluster.Client(t, kgo.TransactionalID(topic+".txn"), kgo.DefaultProduceTopic(topic))
	write := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(s *diff.State) *kgo.Record {
		b, err := c.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Key: events.Key(s.ConversationID), Value: b}
	}
	write(true, rec(conversation(1, 5)), rec(conversation(2, 5)), rec(conversation(3, 1)))
	write(true, rec(conversation(1, 10)), &kgo.Record{Key: events.Key(3)}) // newer 1; 3 deleted
	write(false, rec(conversation(2, 99)), rec(conversation(4, 1)))        // aborted

	idx, stats, err := state.Restore(ctx, []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}, topic, c, state.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	convs, msgs := idx.Len()
	if convs != 2 || msgs != 15 || len(idx.Get(1).Messages) != 10 || len(idx.Get(2).Messages) != 5 || idx.Get(3) != nil || idx.Get(4) != nil {
		t.Fatalf("restored %d conversations, %d messages: %+v", convs, msgs, stats)
	}
}

// TestRefusesNonCompactedStateTopic is in the connector package (it needs Run); here the
// events topic must not be compacted either.
func TestRefusesCompactedEventsTopic(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	topic := kafkatest.Topic(t)
	adm := cluster.Admin(t)
	policy := "compact"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &policy}, topic+".events"); err != nil {
		t.Fatal(err)
	}
	err := state.EnsureTopics(ctx, adm, state.Topics{Events: topic + ".events", State: topic + ".state"})
	if err == nil || !errors.Is(err, state.ErrEventsTopicCompacted) {
		t.Fatalf("err = %v, want ErrEventsTopicCompacted", err)
	}
}

// BenchmarkIndexMemory measures the heap the in-memory index takes per tracked message, for
// 10,000 conversations of 100 messages (1,000,000 messages).
func BenchmarkIndexMemory(b *testing.B) {
	c, _ := state.NewCodec()
	values := make([][]byte, 10_000)
	for i := range values {
		v, err := c.Encode(conversation(int64(i+1), 100))
		if err != nil {
			b.Fatal(err)
		}
		values[i] = v
	}
	var perMsg float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		idx := state.NewIndex()
		for _, v := range values {
			s, err := c.Decode(v)
			if err != nil {
				b.Fatal(err)
			}
			idx.Put(s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		_, n := idx.Len()
		perMsg = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		runtime.KeepAlive(idx)
	}
	b.ReportMetric(perMsg, "bytes/msg")
}

// BenchmarkRestore measures restoring 1,000,000 tracked messages (10,000 conversations of 100)
// from the broker kafkatest gives (the real one with KAFKA_BROKERS).
func BenchmarkRestore(b *testing.B) {
	cluster := kafkatest.New(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	topic := kafkatest.Topic(b)
	if err := state.EnsureTopics(ctx, cluster.Admin(b), state.Topics{Events: topic + ".events", State: topic}); err != nil {
		b.Fatal(err)
	}
	c, _ := state.NewCodec()
	p := cluster.Client(b, kgo.TransactionalID(topic+".txn"), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(4<<20))
	const convs, per = 10_000, 100
	for batch := 0; batch < convs/1000; batch++ {
		if err := p.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			id := int64(batch*1000 + i + 1)
			v, _ := c.Encode(conversation(id, per))
			p.Produce(ctx, &kgo.Record{Key: events.Key(id), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var stats state.RestoreStats
	for b.Loop() {
		idx, st, err := state.Restore(ctx, []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}, topic, c, state.RestoreOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, n := idx.Len(); n != convs*per {
			b.Fatalf("restored %d messages", n)
		}
		stats = st
	}
	b.ReportMetric(float64(convs*per)/(b.Elapsed().Seconds()/float64(b.N)), "msgs/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restore")
	b.Logf("kafka=%s restore: %+v", cluster.Kind, stats)
}
