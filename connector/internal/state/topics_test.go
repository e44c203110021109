package state_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestEnsureTopicsWaitsUntilTheyAnswer: a broker that does not know a new topic yet (its
// metadata lags the controller, as on a real cluster right after CreateTopics) answers
// UNKNOWN_TOPIC_OR_PARTITION for a while; EnsureTopics waits it out, so the restore that
// follows finds its offsets. kfake makes the lag deterministic.
func TestEnsureTopicsWaitsUntilTheyAnswer(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if refused.Add(1) > 5 {
			return nil, nil, false // the broker has caught up
		}
		r := req.(*kmsg.ListOffsetsRequest)
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cluster, ctx, topics := fakeTopics(t, c)
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatal(err)
	}
	if n := refused.Load(); n <= 5 {
		t.Fatalf("EnsureTopics returned after %d ListOffsets, before the broker answered", n)
	}
	codec, _ := state.NewCodec()
	if _, _, err := state.Restore(ctx, []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}, topics.State, codec, state.RestoreOptions{}); err != nil {
		t.Fatalf("restore after EnsureTopics: %v", err)
	}

	// A topic that never becomes ready gives a clear error within ReadyTimeout.
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("never"), true
	})
	topics.ReadyTimeout = 500 * time.Millisecond
	err = state.EnsureTopics(ctx, cluster.Admin(t), topics)
	if err == nil || !strings.Contains(err.Error(), "not ready after 500ms") {
		t.Fatalf("err = %v, want a bounded, named failure", err)
	}
}

// TestEnsureTopicsWaitsForAnExistingTopicToBeKnown: a second replica starting at the same moment
// finds the topics already created by the first, but its broker may not know them yet and
// answers DescribeConfigs with UNKNOWN_TOPIC_OR_PARTITION (seen on the real broker right after
// CreateTopics). EnsureTopics waits that out rather than failing the start.
func TestEnsureTopicsWaitsForAnExistingTopicToBeKnown(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cluster, ctx, topics := fakeTopics(t, c)
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatal(err)
	}

	var refused atomic.Int32
	c.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if refused.Add(1) > 5 {
			return nil, nil, false
		}
		return unknownTopicConfigs(req), nil, true
	})
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatalf("second start while the broker does not know the topics yet: %v", err)
	}
	if n := refused.Load(); n <= 5 {
		t.Fatalf("EnsureTopics returned after %d DescribeConfigs, before the broker knew the topics", n)
	}

	// A topic the broker never learns about gives a bounded, named error.
	c.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return unknownTopicConfigs(req), nil, true
	})
	topics.ReadyTimeout = 500 * time.Millisecond
	err = state.EnsureTopics(ctx, cluster.Admin(t), topics)
	if err == nil || !strings.Contains(err.Error(), "does not know it after 500ms") || !strings.Contains(err.Error(), topics.Events) {
		t.Fatalf("err = %v, want a bounded error naming %s", err, topics.Events)
	}
}

// TestEnsureTopicsFromReplicasStartingTogether: the base Deployment runs two replicas that start
// at the same moment on a fresh cluster; each must get past EnsureTopics, whichever creates the
// topics. On a single local broker the metadata lag behind this race is rare (CI met it once in
// the smoke test); the kfake test above is the deterministic check, this one the end-to-end one.
func TestEnsureTopicsFromReplicasStartingTogether(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	for round := 0; round < 5; round++ {
		topic := kafkatest.Topic(t)
		topics := state.Topics{Events: topic + ".events", State: topic + ".state", StatePartitions: 3, EventsPartitions: 3}
		errs := make(chan error, 4)
		for i := 0; i < cap(errs); i++ {
			adm := cluster.Admin(t)
			go func() { errs <- state.EnsureTopics(ctx, adm, topics) }()
		}
		for i := 0; i < cap(errs); i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: a replica failed to start: %v", round, err)
			}
		}
	}
}

// unknownTopicConfigs answers a DescribeConfigs request as a broker that does not know the
// topics yet.
func unknownTopicConfigs(req kmsg.Request) kmsg.Response {
	r := req.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

// fakeTopics names fresh topics on the kfake cluster c.
func fakeTopics(t *testing.T, c *kfake.Cluster) (*kafkatest.Cluster, context.Context, state.Topics) {
	topic := kafkatest.Topic(t)
	return &kafkatest.Cluster{Brokers: c.ListenAddrs(), Kind: kafkatest.KindFake}, kafkatest.Context(t, time.Minute),
		state.Topics{Events: topic + ".events", State: topic + ".state", StatePartitions: 2, EventsPartitions: 2}
}
