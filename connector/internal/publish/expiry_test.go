package publish_test

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// expiringBroker is a private broker that forgets a transactional id unused for 10 s.
func expiringBroker(t *testing.T) (*kafkatest.Private, *env) {
	t.Helper()
	if testing.Short() {
		t.Skip("waits for a private broker to forget a transactional id")
	}
	b := kafkatest.NewPrivate(t, "transactional.id.expiration.ms=10000", "transaction.remove.expired.transaction.cleanup.interval.ms=1000")
	e := newEnv(t)
	e.cluster = &b.Cluster
	if err := state.EnsureTopics(kafkaCtx(t), e.cluster.Admin(t), e.topics); err != nil {
		t.Fatal(err)
	}
	return b, e
}

// waitForgotten polls the coordinator until it no longer knows txnID (at most 2 minutes).
func waitForgotten(t *testing.T, e *env) {
	t.Helper()
	adm := e.cluster.Admin(t)
	for began := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		ds, err := adm.DescribeTransactions(kafkaCtx(t), e.txnID)
		if err == nil && errors.Is(ds[e.txnID].Err, kerr.TransactionalIDNotFound) {
			t.Logf("the broker forgot the transactional id after %v", time.Since(began).Round(time.Second))
			return
		}
		if time.Since(began) > 2*time.Minute {
			t.Fatalf("the broker still knows %q after 2 minutes: %v %+v", e.txnID, err, ds)
		}
	}
}

func change(id int64) []publish.Change {
	return []publish.Change{{ConversationID: id, State: []byte("s"),
		Events: []events.Encoded{{Key: events.Key(id), Value: []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}}}}}
}

// committedStateKeys reads the state topic's committed keys, again until key "3" (the last
// commit of each test) shows or 2 minutes pass: a commit's markers land after it returned.
func committedStateKeys(t *testing.T, e *env) map[string]bool {
	t.Helper()
	ctx := kafkaCtx(t)
	for {
		recs, err := e.cluster.ReadCommitted(ctx, t, e.topics.State)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, r := range recs {
			keys[string(r.Key)] = true
		}
		if keys["3"] || ctx.Err() != nil {
			return keys
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestForgottenProducerIDIsNotAFence: after the broker forgot an idle transactional id, the
// next transaction fails with ErrProducerIDExpired (not ErrFenced) and leaves nothing visible;
// Settle confirms no one holds the id and registers it again, and the redone work commits.
func TestForgottenProducerIDIsNotAFence(t *testing.T) {
	t.Parallel()
	_, e := expiringBroker(t)
	p := newPublisher(t, e)
	if err := p.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(kafkaCtx(t), change(1)); err != nil {
		t.Fatal(err)
	}
	waitForgotten(t, e)
	err := p.Publish(kafkaCtx(t), change(2))
	if !errors.Is(err, publish.ErrProducerIDExpired) || errors.Is(err, publish.ErrFenced) {
		t.Fatalf("after the id expired Publish = %v, want ErrProducerIDExpired and no fence", err)
	}
	if err := p.Settle(kafkaCtx(t)); err != nil {
		t.Fatalf("Settle after an expired id: %v", err)
	}
	if err := p.Publish(kafkaCtx(t), change(3)); err != nil {
		t.Fatalf("the re-registered producer must publish: %v", err)
	}
	if keys := committedStateKeys(t, e); !keys["1"] || keys["2"] || !keys["3"] {
		t.Fatalf("committed state keys %v, want 1 and 3 (2 failed)", keys)
	}
}

// TestZombieNeverFencesTheOwnerAfterExpiry: an instance idle past the expiry (a zombie) whose
// transactional id another instance registered since meets INVALID_PRODUCER_ID_MAPPING too;
// it must see that another producer holds the id (ErrFenced) and never register it again,
// which would fence the live owner.
func TestZombieNeverFencesTheOwnerAfterExpiry(t *testing.T) {
	t.Parallel()
	_, e := expiringBroker(t)
	zombie := newPublisher(t, e)
	if err := zombie.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := zombie.Publish(kafkaCtx(t), change(1)); err != nil {
		t.Fatal(err)
	}
	waitForgotten(t, e)
	owner := newPublisher(t, e)
	if err := owner.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	err := zombie.Publish(kafkaCtx(t), change(2))
	if err == nil {
		t.Fatal("the zombie published after another producer registered its transactional id")
	}
	if !errors.Is(err, publish.ErrFenced) {
		// It was told its id is not mapped: before registering again it must find the owner.
		if !errors.Is(err, publish.ErrProducerIDExpired) {
			t.Fatalf("zombie Publish = %v, want ErrFenced or ErrProducerIDExpired", err)
		}
		if err := zombie.Settle(kafkaCtx(t)); !errors.Is(err, publish.ErrFenced) {
			t.Fatalf("zombie Settle = %v, want ErrFenced (another producer holds the id)", err)
		}
	}
	t.Logf("zombie sees: %v", err)
	if err := owner.Publish(kafkaCtx(t), change(3)); err != nil {
		t.Fatalf("the owner must still publish after the zombie woke: %v", err)
	}
	if keys := committedStateKeys(t, e); !keys["1"] || keys["2"] || !keys["3"] {
		t.Fatalf("committed state keys %v, want 1 and 3", keys)
	}
}
