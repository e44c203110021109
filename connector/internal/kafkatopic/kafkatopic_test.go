package kafkatopic_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
)

// Ensure creates a missing topic with its settings, and leaves an existing one alone.
func TestEnsure(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	adm := cluster.Admin(t)
	spec := kafkatopic.Spec{Name: kafkatest.Topic(t), Partitions: 2, Configs: map[string]string{"retention.ms": "3600000"}}
	for i, want := range []bool{true, false} {
		created, err := kafkatopic.Ensure(ctx, adm, spec)
		if err != nil || created != want {
			t.Fatalf("call %d: created %v, %v; want %v", i+1, created, err, want)
		}
	}
	// A topic just created is not at once in every broker's metadata.
	kafkatest.WaitFor(t, "the new topic's two partitions", 30*time.Second, func() bool {
		listed, err := adm.ListTopics(ctx, spec.Name)
		return err == nil && listed[spec.Name].Err == nil && len(listed[spec.Name].Partitions) == 2
	})
	cfgs, err := adm.DescribeTopicConfigs(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(spec.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			got = c.MaybeValue()
		}
	}
	if got != "3600000" {
		t.Fatalf("retention.ms=%q, want 3600000", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = kafkatopic.Ensure(cctx, adm, kafkatopic.Spec{Name: spec.Name + ".other", Partitions: 1})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "create topic "+spec.Name+".other: ") {
		t.Fatalf("a failed creation: %v", err)
	}
}

// ReadToEnd sees the committed records, in order per partition, and stops at the committed
// end taken when it starts: not aborted records, not markers, not records committed later.
func TestReadToEnd(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	topic := kafkatest.Topic(t)
	if _, err := kafkatopic.Ensure(ctx, cluster.Admin(t), kafkatopic.Spec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	base := []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}
	// A topic just created is not at once in every broker's metadata.
	kafkatest.WaitFor(t, "the new topic to answer offset requests", 30*time.Second, func() bool {
		offs, err := cluster.Admin(t).ListStartOffsets(ctx, topic)
		return err == nil && offs.Error() == nil
	})
	txn := func(commit bool, keys ...string) {
		t.Helper()
		cl := cluster.Client(t, kgo.TransactionalID(topic+".txn"+fmt.Sprint(commit)), kgo.DefaultProduceTopic(topic))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := cl.ProduceSync(ctx, kgo.KeyStringRecord(k, k)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}

	var seen []string
	collect := func(r *kgo.Record) error { seen = append(seen, string(r.Key)); return nil }
	if err := kafkatopic.ReadToEnd(ctx, base, topic, collect); err != nil || len(seen) != 0 {
		t.Fatalf("an empty topic: %v %v", seen, err)
	}
	txn(true, "a", "b", "c", "d", "e", "f")
	txn(false, "aborted")
	txn(true, "g")
	last := map[int32]int64{}
	err := kafkatopic.ReadToEnd(ctx, base, topic, func(r *kgo.Record) error {
		if r.Offset <= last[r.Partition]-1 {
			t.Errorf("%s[%d]@%d after @%d", r.Topic, r.Partition, r.Offset, last[r.Partition]-1)
		}
		last[r.Partition] = r.Offset + 1
		return collect(r)
	})
	if err != nil || len(seen) != 7 {
		t.Fatalf("read %v, %v; want the 7 committed records", seen, err)
	}
	for _, k := range seen {
		if k == "aborted" {
			t.Fatalf("read an aborted record: %v", seen)
		}
	}

	stop := errors.New("stop")
	err = kafkatopic.ReadToEnd(ctx, base, topic, func(*kgo.Record) error { return stop })
	var re *kafkatopic.RecordError
	if !errors.As(err, &re) || !errors.Is(err, stop) || re.Topic != topic {
		t.Fatalf("a failing function: %v", err)
	}

	err = kafkatopic.ReadToEnd(ctx, base, topic+".missing", collect)
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("a missing topic: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := kafkatopic.ReadToEnd(cctx, base, topic, collect); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled context: %v", err)
	}
}
