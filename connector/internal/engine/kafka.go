package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
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

// kafkaFailed records a failed transaction: /readyz says not ready until Kafka works again,
// the failure is logged (rate-limited), and a topic the broker no longer knows is checked at
// once.
func (c *Engine) kafkaFailed(ctx context.Context, err error) {
	if c.kafkaOK.Swap(false) {
		c.opt.Metrics.SetReady(false)
	}
	reason := publishFailure(err)
	if errors.Is(err, publish.ErrCommitUncertain) {
		// It may have committed: the memory is re-read from the state topic before any
		// other walk, so the walks redone find exactly what is missing (no duplicate).
		c.reload.Store(true)
		c.health.rlog.Error("kafka:"+reason, "Kafka transaction failed: the commit was sent but not clearly answered, so its outcome is unknown; the state will be re-read from Kafka before going on",
			"reason", reason, "err", err)
	} else if errors.Is(err, publish.ErrProducerIDExpired) {
		// Not a fence: the broker forgot an id left unused (transactional.id.expiration.ms).
		// The publisher confirms no other producer holds it before registering it again; the
		// state is re-read to the committed end and the walks are redone (never the batch).
		c.reload.Store(true)
		c.log.Warn("Kafka forgot this organisation's producer id after it was idle (transactional.id.expiration.ms); it is registered again once no other producer is seen to hold it, the state is re-read and the walks redone",
			"reason", reason, "err", err)
	} else if errors.Is(err, publish.ErrHangingTransaction) {
		c.health.rlog.Error("kafka:"+reason, "a failed Kafka transaction is still open on a partition and how it ended is unknown; nothing is committed until it is closed",
			"reason", reason, "err", err)
	} else {
		c.health.rlog.Error("kafka:"+reason, "Kafka transaction failed; nothing of it is visible, its conversations will be walked again",
			"reason", reason, "err", err)
	}
	if errors.Is(err, publish.ErrUnknownTopic) {
		c.checkTopics(ctx)
	}
}

// kafkaCommitted records a committed transaction.
func (c *Engine) kafkaCommitted() {
	if !c.kafkaOK.Swap(true) {
		c.opt.Metrics.SetReady(c.Readiness() == nil)
		c.log.Info("Kafka transactions commit again")
	}
}

// checkTopics asks the cluster whether both topics still exist; a missing one is handed to
// the walk loop (topicLost).
func (c *Engine) checkTopics(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := state.CheckTopics(cctx, c.adm, c.opt.Topics)
	var missing *state.TopicMissingError
	switch {
	case errors.As(err, &missing):
		c.lost.Store(missing)
	case err == nil && !c.kafkaOK.Load():
		// Kafka answers and the topics are there: ready again (the next transaction will
		// rebuild the producer if it has to).
		if pctx, cancel := context.WithTimeout(ctx, 5*time.Second); c.pub.Ping(pctx) == nil {
			c.kafkaCommitted()
			cancel()
		} else {
			cancel()
		}
	case err != nil && ctx.Err() == nil:
		c.health.rlog.Warn("kafka:metadata", "cannot ask Kafka whether the topics exist", "err", err)
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

// outage is Kafka not answering: since when, and the last error.
type outage struct {
	since time.Time
	err   string
}

func (o *outage) String() string {
	return fmt.Sprintf("Kafka does not answer since %s (%s ago): %s; walks are paused until it does", o.since.UTC().Format(time.RFC3339),
		time.Since(o.since).Round(time.Second), o.err)
}

// kafkaPingEvery and kafkaPingTimeout pace watchKafka: an outage is seen within 6 s.
const (
	kafkaPingEvery   = 2 * time.Second
	kafkaPingTimeout = 4 * time.Second
)

// watchKafka pings Kafka every kafkaPingEvery until ctx ends (pingKafka).
func (c *Engine) watchKafka(ctx context.Context) {
	for {
		c.pingKafka(ctx)
		if clock.Sleep(ctx, c.opt.Clock, kafkaPingEvery) != nil {
			return
		}
	}
}

// pingKafka asks Kafka for its metadata: an outage starts at the first failure (not ready,
// degraded, walks paused) and ends at the first answer. It reports whether Kafka answered.
func (c *Engine) pingKafka(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, kafkaPingTimeout)
	err := c.pub.Ping(pctx)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		if c.kafkaDown.Load() == nil {
			o := &outage{since: time.Now(), err: err.Error()}
			c.kafkaDown.Store(o)
			c.opt.Metrics.SetReady(false)
			c.log.Error("Kafka does not answer: walks pause (the Partoo budget is kept) and resume by themselves when it does",
				"err", err)
		}
		return false
	}
	if o := c.kafkaDown.Swap(nil); o != nil {
		c.opt.Metrics.SetReady(c.Readiness() == nil)
		c.log.Info("Kafka answers again: walks resume", "down_seconds", time.Since(o.since).Seconds())
	}
	return true
}

// waitForKafka blocks while Kafka does not answer (the runner calls it before each pick), so
// that no walk is spent on work that cannot commit.
func (c *Engine) waitForKafka(ctx context.Context) error {
	for c.kafkaDown.Load() != nil {
		if err := clock.Sleep(ctx, c.opt.Clock, time.Second); err != nil {
			return err
		}
	}
	return nil
}
