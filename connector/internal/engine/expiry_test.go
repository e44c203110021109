package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// The broker forgets what is idle: a transactional id unused for transactional.id.expiration.ms
// (7 days by default), and a producer id's state on a partition after producer.id.expiration.ms
// (1 day). An organisation with no change for that long is normal (a small shop over a
// holiday); its next transaction must publish the change once, not stop as "fenced" (issue 28,
// part 1). Each test idles the connector until the broker has forgotten — asked of the broker
// itself, so nothing the connector writes meanwhile can keep the id alive unnoticed: the wait
// would then fail — and only then lets one message arrive.

// TestIdleOrganisationOutlivesTransactionalIDExpiry: the transaction coordinator forgot the
// transactional id (DescribeTransactions: TRANSACTIONAL_ID_NOT_FOUND).
func TestIdleOrganisationOutlivesTransactionalIDExpiry(t *testing.T) {
	idleUntilForgotten(t, func(ctx context.Context, b *kafkatest.Private, e *env) bool {
		return transactionalIDForgotten(ctx, t, b, e.txnID)
	}, "transactional.id.expiration.ms=10000", "transaction.remove.expired.transaction.cleanup.interval.ms=1000")
}

// TestIdleOrganisationOutlivesProducerIDExpiry: the partitions forgot the producer id
// (DescribeProducers lists no producer on any partition the connector wrote), while the
// coordinator still knows the transactional id.
func TestIdleOrganisationOutlivesProducerIDExpiry(t *testing.T) {
	idleUntilForgotten(t, func(ctx context.Context, b *kafkatest.Private, e *env) bool {
		return producersForgotten(ctx, t, b, e) && !transactionalIDForgotten(ctx, t, b, e.txnID)
	}, "producer.id.expiration.ms=10000", "producer.id.expiration.check.interval.ms=1000")
}

// idleUntilForgotten runs the connector binary on a private broker started with config,
// publishes a few conversations, waits until forgotten says the broker forgot what the test
// is about (polled; at most 3 minutes), then adds one message: it must be published exactly
// once, the process must still run, and nothing may be logged as a fence.
func idleUntilForgotten(t *testing.T, forgotten func(context.Context, *kafkatest.Private, *env) bool, config ...string) {
	if testing.Short() {
		t.Skip("idles a connector until its private broker forgets it")
	}
	t.Parallel()
	b := kafkatest.NewPrivate(t, config...)
	e := newEnvOn(t, &b.Cluster)
	populate(e, 3)
	p := startProc(t, e.processStarter(t, "LOG_LEVEL=info"))
	waitExactlyOnce(t, e, nil, 3*time.Minute, p.alive)
	idle := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done := forgotten(ctx, b, e)
		cancel()
		if done {
			break
		}
		if err := p.alive(); err != nil {
			t.Fatal(err)
		}
		if time.Since(idle) > 3*time.Minute {
			t.Fatalf("the broker did not forget within %v of idling (something kept it alive?)", time.Since(idle).Round(time.Second))
		}
		time.Sleep(time.Second)
	}
	t.Logf("the broker forgot after %v of idling", time.Since(idle).Round(time.Second))
	conv := e.sim.ConversationIDs()[0]
	m, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: conv, SenderType: model.SenderConsumer,
		ContentType: model.ContentText, Status: model.StatusSuccess, Content: "back from holiday", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitExactlyOnce(t, e, nil, 3*time.Minute, p.alive)
	if logs := p.logs.String(); strings.Contains(logs, "fenced") {
		t.Fatalf("an expired id was reported as a fence:\n%s", tail(logs, 10))
	}
	t.Logf("message %d published once after the broker forgot", m.ID)
	p.stop(t)
}

// transactionalIDForgotten asks the coordinator of txnID whether it still knows it.
func transactionalIDForgotten(ctx context.Context, t *testing.T, b *kafkatest.Private, txnID string) bool {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{txnID}
	resp, err := b.Client(t).Broker(1).Request(ctx, req)
	if err != nil {
		return false
	}
	ts := resp.(*kmsg.DescribeTransactionsResponse).TransactionStates
	return len(ts) == 1 && errors.Is(kerr.ErrorForCode(ts[0].ErrorCode), kerr.TransactionalIDNotFound)
}

// producersForgotten reports whether no partition of the env's topics lists a producer.
func producersForgotten(ctx context.Context, t *testing.T, b *kafkatest.Private, e *env) bool {
	adm := b.Admin(t)
	topics := []string{e.topics.Events, e.topics.State, e.topics.MessagesTable.Name, e.topics.ConversationsTable.Name}
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return false
	}
	described, err := adm.DescribeProducers(ctx, md.Topics.TopicsSet())
	if err != nil {
		return false
	}
	n := 0
	for _, p := range described.SortedPartitions() {
		if p.Err != nil {
			return false
		}
		n += len(p.ActiveProducers)
	}
	return n == 0
}

// TestAnotherWriterOfTheStateTopicIsReported: two deployments of one organisation on the same
// topics under different KAFKA_TRANSACTIONAL_IDs cannot fence each other, and each publishes
// every change (found by the attack: 20 of 20 new messages twice, with nothing said). Each
// must see the other's producer on the state topic and say so (ERROR, /status, metric).
func TestAnotherWriterOfTheStateTopicIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two connector processes")
	}
	t.Parallel()
	e := newEnv(t)
	if !e.cluster.Real() {
		t.Skip("kfake does not answer DescribeProducers; the real broker does (make test)")
	}
	populate(e, 3)
	a := startProc(t, e.processStarter(t, "LOG_LEVEL=info"))
	b := startProc(t, e.processStarter(t, "LOG_LEVEL=info", "KAFKA_TRANSACTIONAL_ID="+e.txnID+"-pod-b"))
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{MessagesPerSecond: 2}, 5)
	const want = "another writer of this organisation's state topic"
	for began := time.Now(); !strings.Contains(a.logs.String(), want) || !strings.Contains(b.logs.String(), want); time.Sleep(time.Second) {
		gen.Tick() // both keep writing
		for _, p := range []*proc{a, b} {
			if err := p.alive(); err != nil {
				t.Fatal(err)
			}
		}
		if time.Since(began) > 3*time.Minute {
			t.Fatalf("after 3 minutes the two writers have not both reported each other:\nA: %s\nB: %s", tail(a.logs.String(), 5), tail(b.logs.String(), 5))
		}
	}
	a.stop(t)
	b.stop(t)
}
