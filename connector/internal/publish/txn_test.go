package publish_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestZombieFencing: a second publisher with the same transactional id fences the first,
// whose next transaction fails with ErrFenced and leaves nothing visible.
func TestZombieFencing(t *testing.T) {
	e := newEnv(t)
	if err := state.EnsureTopics(kafkaCtx(t), e.cluster.Admin(t), e.topics); err != nil {
		t.Fatal(err)
	}
	first := newPublisher(t, e)
	if err := first.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	change := func(id int64) []publish.Change {
		return []publish.Change{{ConversationID: id, State: []byte("s"),
			Events: []events.Encoded{{Key: events.Key(id), Value: []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}}}}}
	}
	if err := first.Publish(kafkaCtx(t), change(1)); err != nil {
		t.Fatal(err)
	}
	second := newPublisher(t, e)
	if err := second.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	err := first.Publish(kafkaCtx(t), change(2))
	if !errors.Is(err, publish.ErrFenced) {
		t.Fatalf("the fenced publisher got %v, want ErrFenced", err)
	}
	t.Logf("fenced instance sees: %v", err)
	if err := second.Publish(kafkaCtx(t), change(3)); err != nil {
		t.Fatalf("the new instance must publish: %v", err)
	}
	// Committed: 1 and 3; never 2.
	cl := e.cluster.Client(t, kgo.ConsumeTopics(e.topics.State), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	keys := map[string]bool{}
	ctx := kafkaCtx(t)
	for len(keys) < 2 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if fs.NumRecords() == 0 {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { keys[string(r.Key)] = true })
	}
	if !keys["1"] || !keys["3"] || keys["2"] || len(keys) != 2 {
		t.Fatalf("committed state keys %v, want 1 and 3", keys)
	}
}

// Java's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) on Kafka's own test vectors.
var javaMurmur2 = map[string]int32{
	"21":                         -973932308,
	"foobar":                     -790332482,
	"a-little-bit-long-string":   -985981536,
	"a-little-bit-longer-string": -1486304829,
	"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	"abc": 479470107,
}

func murmur2(data []byte) int32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	h := seed ^ uint32(len(data))
	n := len(data) / 4
	for i := 0; i < n; i++ {
		k := uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[4*n:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// TestPartitioningMatchesJava: events land where Java's default partitioner (and so Kafka
// Streams) would put the same key.
func TestPartitioningMatchesJava(t *testing.T) {
	for k, want := range javaMurmur2 {
		if got := murmur2([]byte(k)); got != want {
			t.Fatalf("murmur2(%q) = %d, Java %d", k, got, want)
		}
	}
	e := newEnv(t)
	e.topics.EventsPartitions = 7
	if err := state.EnsureTopics(kafkaCtx(t), e.cluster.Admin(t), e.topics); err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, e)
	if err := p.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	var changes []publish.Change
	for id := int64(1); id <= 40; id++ {
		changes = append(changes, publish.Change{ConversationID: id,
			Events: []events.Encoded{{Key: events.Key(id), Value: []byte("x")}}})
	}
	if err := p.Publish(kafkaCtx(t), changes); err != nil {
		t.Fatal(err)
	}
	cl := e.cluster.Client(t, kgo.ConsumeTopics(e.topics.Events), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := 0
	ctx := kafkaCtx(t)
	for seen < 40 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			if want := (murmur2(r.Key) & 0x7fffffff) % 7; r.Partition != want {
				t.Errorf("key %s on partition %d, Java would use %d", r.Key, r.Partition, want)
			}
		})
	}
}
