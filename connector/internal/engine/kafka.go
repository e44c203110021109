package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// publishFailure is the reason label of a failed transaction.
func publishFailure(err error) string {
	var refused *publish.RefusedError
	switch {
	case errors.As(err, &refused):
		return "record_refused"
	case errors.Is(err, publish.ErrCommitUncertain):
		return "commit_uncertain"
	case errors.Is(err, publish.ErrHangingTransaction):
		return "hanging_transaction"
	case errors.Is(err, publish.ErrFenced):
		return "fenced"
	case errors.Is(err, publish.ErrProducerIDExpired):
		return "producer_id_expired"
	case errors.Is(err, publish.ErrNotAuthorized):
		return "not_authorized"
	case errors.Is(err, publish.ErrTransactionTimedOut):
		return "transaction_timed_out"
	case errors.Is(err, publish.ErrTimeout):
		return "timeout"
	case errors.Is(err, publish.ErrUnknownTopic):
		return "unknown_topic"
	}
	return "other"
}

// published is the Kafka failure policy, told each transaction's outcome by the walk step
// (pipeline.Config.Published) on the committer's goroutine: it records and decides, and never
// waits on Kafka.
func (c *Engine) published(_ int, err error) {
	if err == nil {
		c.kafkaCommitted()
		return
	}
	c.kafkaFailed(err)
}

// kafkaFailed records a failed transaction: /readyz says not ready until Kafka works again,
// the failure is logged (rate-limited), and a topic the broker no longer knows is checked at
// once, by the process's watch of the topics (its answer comes as topicsSeen).
func (c *Engine) kafkaFailed(err error) {
	c.on(event{kind: evTxnFailed})
	reason := publishFailure(err)
	if errors.Is(err, publish.ErrCommitUncertain) {
		// It may have committed: the memory is re-read from the state topic before any
		// other walk, so the walks redone find exactly what is missing (no duplicate).
		c.on(event{kind: evReload})
		c.health.rlog.Error("kafka:"+reason, "Kafka transaction failed: the commit was sent but not clearly answered, so its outcome is unknown; the state will be re-read from Kafka before going on",
			"reason", reason, "err", err)
	} else if errors.Is(err, publish.ErrProducerIDExpired) {
		// Not a fence: the broker forgot an id left unused (transactional.id.expiration.ms).
		// The publisher confirms no other producer holds it before registering it again; the
		// state is re-read to the committed end and the walks are redone (never the batch).
		c.on(event{kind: evReload})
		c.log.Warn("Kafka forgot this organisation's producer id after it was idle (transactional.id.expiration.ms); it is registered again once no other producer is seen to hold it, the state is re-read and the walks redone",
			"reason", reason, "err", err)
	} else if errors.Is(err, publish.ErrHangingTransaction) {
		c.health.rlog.Error("kafka:"+reason, "a failed Kafka transaction is still open on a partition and how it ended is unknown; nothing is committed until it is closed",
			"reason", reason, "err", err)
	} else {
		c.health.rlog.Error("kafka:"+reason, "Kafka transaction failed; nothing of it is visible, its conversations will be walked again",
			"reason", reason, "err", err)
	}
	if m := c.member.Load(); m != nil && errors.Is(err, publish.ErrUnknownTopic) {
		m.CheckTopics()
	}
}

// kafkaCommitted records a committed transaction.
func (c *Engine) kafkaCommitted() {
	if before, _ := c.on(event{kind: evTxnOK}); before.failing {
		c.log.Info("Kafka transactions commit again")
	}
}

// topicsSeen hears the metadata of the engine's topics (from the process's watch of every
// organisation's topics): a topic missing from two answers in a row is handed to the walk loop
// (topicLost); Kafka answering with the topics there makes a connector whose transaction failed
// ready again (the next transaction rebuilds the producer if it has to).
func (c *Engine) topicsSeen(md kadm.Metadata) {
	if missing := state.MissingTopic(md, c.opt.Topics); missing != nil {
		// One answer is not evidence enough (a broker's metadata can lag a topic created a
		// moment ago): the topic is lost when the next check, at least topicsEvery later,
		// still misses it.
		if prev := c.missing.Swap(missing); prev != nil && prev.Topic == missing.Topic {
			c.missing.Store(nil)
			c.lost.Store(missing)
		}
		return
	}
	c.missing.Store(nil)
	if l := c.life.get(); l.writing() && l.failing {
		c.kafkaCommitted()
	}
}

// topicLost handles a topic that disappeared: one ERROR line, then stop (OnMissingExit), or
// recreate the topics and re-snapshot every conversation (OnMissingRecreate).
func (c *Engine) topicLost(ctx context.Context, lost *state.TopicMissingError) error {
	c.log.Error("a topic the connector writes is gone", "topic", lost.Topic, "err", lost.Error(),
		"on_missing_topic", c.opt.OnMissingState)
	if c.opt.OnMissingState != OnMissingRecreate {
		return fmt.Errorf("%w; the connector stops (KAFKA_ON_MISSING_STATE=exit): restore the topic, or set KAFKA_ON_MISSING_STATE=recreate to recreate the topics and re-snapshot every conversation", lost)
	}
	if err := state.EnsureTopics(ctx, c.adm, c.opt.Topics); err != nil {
		return fmt.Errorf("recreating the topics: %w", err)
	}
	c.pub.Reset()
	idx := state.NewIndex()
	c.startWatching(idx, true, nil) // what is found again is a snapshot, as on a first start
	c.idx.Store(idx)
	c.log.Warn("topics recreated; every conversation will be re-snapshotted (MessageCreated with snapshot=true, the same event_ids as before)",
		"events_topic", c.opt.Topics.Events, "state_topic", c.opt.Topics.State)
	return nil
}

// kafkaChanged hears from the process's Kafka layer that Kafka stopped answering (down) or
// answers again (nil): while it does not, the engine is not ready, degraded, and starts no
// walk. The layer logs the outage once for the process.
func (c *Engine) kafkaChanged(down *cluster.Outage) {
	c.on(event{kind: evKafka, down: down})
}

// waitForKafka blocks while Kafka does not answer (the runner calls it before each pick), so
// that no walk is spent on work that cannot commit.
func (c *Engine) waitForKafka(ctx context.Context) error {
	for c.life.get().down != nil {
		if err := clock.Sleep(ctx, c.opt.Clock, time.Second); err != nil {
			return err
		}
	}
	return nil
}
