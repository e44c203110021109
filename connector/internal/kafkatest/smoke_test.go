package kafkatest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// TestBrokerSmoke proves the broker the suite runs against does what the connector relies on:
// compacted topics, transactions (commit and abort) and read_committed consumption. It logs
// the broker's identity so a CI log shows which Kafka the suite ran against.
func TestBrokerSmoke(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	cl := cluster.Client(t)
	adm := kadm.NewClient(cl)

	logIdentity(ctx, t, cluster, cl, adm)

	topic := kafkatest.Topic(t)
	resp, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.ms":                kadm.StringPtr("100"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		"delete.retention.ms":       kadm.StringPtr("100"),
	}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create compacted topic: %v", err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })

	// Right after CreateTopics the broker may not know the topic yet and answers
	// UNKNOWN_TOPIC_OR_PARTITION for its configs (seen in CI): wait for it, bounded.
	var rc kadm.ResourceConfig
	for {
		cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err == nil {
			if rc, err = cfgs.On(topic, nil); err == nil {
				err = rc.Err
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || ctx.Err() != nil {
			t.Fatalf("describe topic configs: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := configValue(rc, "cleanup.policy"); got != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", got)
	}

	producer := cluster.Client(t,
		kgo.TransactionalID("smoke-"+randomHex(t)),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	txn := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction (commit=%v): %v", commit, err)
		}
	}

	// Two records committed in one transaction, a third aborted.
	txn(true, kgo.KeyStringRecord("a", "a1"), kgo.KeyStringRecord("b", "b1"))
	txn(false, kgo.KeyStringRecord("c", "aborted"))

	got := readCommitted(ctx, t, cluster, topic, 2)
	if want := []string{"a=a1", "b=b1"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("read_committed saw %v, want %v (the aborted record must stay hidden)", got, want)
	}

	// Compaction: a newer value for "a", then, after segment.ms, one more record so the segment
	// holding the older values rolls and becomes cleanable. The cleaner must drop "a=a1".
	txn(true, kgo.KeyStringRecord("a", "a2"))
	deadline := time.Now().Add(90 * time.Second)
	for {
		time.Sleep(300 * time.Millisecond)
		txn(true, kgo.KeyStringRecord("roll", "r"))
		recs := readCommitted(ctx, t, cluster, topic, -1)
		if !contains(recs, "a=a1") && contains(recs, "a=a2") && contains(recs, "b=b1") {
			t.Logf("compaction observed: %v", recs)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log compaction did not remove a=a1 within 90s; topic holds %v", recs)
		}
	}
}

// readCommitted reads the topic with read_committed up to its committed end
// (kafkatest.Cluster.ReadCommitted), and returns "key=value" for every record, sorted.
// want >= 0 checks the count.
func readCommitted(ctx context.Context, t *testing.T, cluster *kafkatest.Cluster, topic string, want int) []string {
	t.Helper()
	recs, err := cluster.ReadCommitted(ctx, t, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, string(r.Key)+"="+string(r.Value))
	}
	sort.Strings(out)
	if want >= 0 && len(out) != want {
		t.Fatalf("read %d records %v, want %d", len(out), out, want)
	}
	return out
}

func logIdentity(ctx context.Context, t *testing.T, cluster *kafkatest.Cluster, cl *kgo.Client, adm *kadm.Client) {
	t.Helper()
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("broker metadata: %v", err)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "partoo-connector-kafkatest"
	req.ClientSoftwareVersion = "0"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	var features []string
	for _, f := range resp.FinalizedFeatures {
		features = append(features, f.Name+"="+strconv.Itoa(int(f.MaxVersionLevel)))
	}
	sort.Strings(features)
	t.Logf("broker identity: kind=%s brokers=%v cluster_id=%s controller=%d api_keys=%d finalized_features=[%s]",
		cluster.Kind, cluster.Brokers, meta.Cluster, meta.Controller, len(resp.ApiKeys), strings.Join(features, " "))
	if cluster.Real() || kafkatest.RequireReal() {
		// kfake names its cluster "kfake"; Apache Kafka in KRaft mode has a random id and
		// reports metadata.version as a finalized feature.
		if meta.Cluster == "" || meta.Cluster == "kfake" {
			t.Errorf("expected a real Apache Kafka broker, got cluster id %v", meta.Cluster)
		}
		if !strings.Contains(strings.Join(features, " "), "metadata.version=") {
			t.Errorf("a real Apache Kafka broker reports metadata.version; got %v", features)
		}
	}
}

func configValue(rc kadm.ResourceConfig, name string) string {
	for _, c := range rc.Configs {
		if c.Key == name {
			return c.MaybeValue()
		}
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func randomHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
