package publish_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// env is a cluster, with topics and a transactional id of the test's own.
type env struct {
	cluster *kafkatest.Cluster
	topics  state.Topics
	txnID   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := kafkatest.Topic(t)
	return &env{cluster: kafkatest.New(t),
		topics: state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 3, StatePartitions: 3},
		txnID:  base + ".txn"}
}

// kafkaCtx bounds a test's Kafka calls: two minutes.
func kafkaCtx(t *testing.T) context.Context { return kafkatest.Context(t, 2*time.Minute) }

// newPublisher is a publisher of the env's topics and transactional id, closed when the test ends.
func newPublisher(t *testing.T, e *env) *publish.Publisher {
	t.Helper()
	p, err := publish.New(publish.Config{Base: []kgo.Opt{kgo.SeedBrokers(e.cluster.Brokers...)}, TransactionalID: e.txnID,
		EventsTopic: e.topics.Events, StateTopic: e.topics.State})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
