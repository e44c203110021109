package state_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/state"
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
	cluster := &kafkatest.Cluster{Brokers: c.ListenAddrs(), Kind: kafkatest.KindFake}
	ctx := kafkatest.Context(t, time.Minute)
	topic := kafkatest.Topic(t)
	topics := state.Topics{Events: topic + ".events", State: topic + ".state", StatePartitions: 2, EventsPartitions: 2}
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
