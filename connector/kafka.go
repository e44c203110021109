package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/clock"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/publish"
	"github.com/partoo-connector/partoo-connector/connector/registry"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

// checkAPIKey spends one request on the cheapest page there is before anything touches Kafka,
// so a wrong key stops the connector before it creates topics. Partoo not answering is not a
// reason to stop: the failure is logged, and the walks will keep trying (and keep saying so).
func (c *Connector) checkAPIKey(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	if len(c.opt.ConversationIDs) > 0 {
		_, err = c.client.ListMessages(cctx, c.opt.ConversationIDs[0], 1, "")
		if errors.Is(err, partoo.ErrNotFound) {
			err = nil // the key works; that conversation is gone (the walks will say so)
		}
	} else {
		_, err = c.client.ListConversations(cctx, partoo.ListConversationsParams{PerPage: 1, BusinessIDs: c.opt.BusinessIDs, MaxAttempts: 1})
	}
	switch {
	case err == nil:
		c.log.Info("Partoo API key accepted")
	case partoo.IsAuth(err):
		return fmt.Errorf("Partoo API key check: %w", err)
	case ctx.Err() != nil:
		return nil
	default:
		c.log.Warn("could not check the Partoo API key (Partoo did not answer usefully); going on", "err", err)
	}
	return nil
}

// restore reads the state topic into the index; corrupt records stop the start, or with
// StateCorruptRewalk are forgotten (and logged).
func (c *Connector) restore(ctx context.Context) error {
	idx, stats, err := state.Restore(ctx, c.opt.Kafka, c.opt.Topics.State, c.stateCodec,
		state.RestoreOptions{DropCorrupt: c.opt.StateOnCorrupt == StateCorruptRewalk})
	if err != nil {
		return err
	}
	for i, r := range stats.Dropped {
		if i == 20 {
			c.log.Warn("more corrupt state records dropped", "count", len(stats.Dropped)-20)
			break
		}
		c.log.Warn("state record cannot be decoded; its conversation will be walked as new (its messages re-emitted as snapshots, same event_ids)",
			"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "key", r.Key, "err", r.Err)
	}
	c.idx.Store(idx)
	c.opt.Metrics.Restored(stats.Duration)
	c.log.Info("state restored", "conversations", stats.Conversations, "messages", stats.Messages,
		"records", stats.Records, "bytes", stats.Bytes, "dropped_corrupt", len(stats.Dropped),
		"duration", stats.Duration.Round(time.Millisecond))
	return nil
}

// publishFailure is the reason label of a failed transaction.
func publishFailure(err error) string {
	switch {
	case errors.Is(err, publish.ErrCommitUncertain):
		return "commit_uncertain"
	case errors.Is(err, publish.ErrHangingTransaction):
		return "hanging_transaction"
	case errors.Is(err, publish.ErrFenced):
		return "fenced"
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
func (c *Connector) kafkaFailed(ctx context.Context, err error) {
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
func (c *Connector) kafkaCommitted() {
	if !c.kafkaOK.Swap(true) {
		c.opt.Metrics.SetReady(c.Ready())
		c.log.Info("Kafka transactions commit again")
	}
}

// checkTopics asks the cluster whether both topics still exist; a missing one is handed to
// the walk loop (topicLost).
func (c *Connector) checkTopics(ctx context.Context) {
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
func (c *Connector) topicLost(ctx context.Context, lost *state.TopicMissingError) error {
	c.log.Error("a topic the connector writes is gone", "topic", lost.Topic, "err", lost.Error(),
		"on_missing_topic", c.opt.OnMissingState)
	if c.opt.OnMissingState != OnMissingRecreate {
		return fmt.Errorf("%w; the connector stops (KAFKA_ON_MISSING_STATE=exit): restore the topic, or set KAFKA_ON_MISSING_STATE=recreate to recreate the topics and re-snapshot every conversation", lost)
	}
	if err := state.EnsureTopics(ctx, c.adm, c.opt.Topics); err != nil {
		return fmt.Errorf("recreating the topics: %w", err)
	}
	c.pub.Reset()
	c.idx.Store(state.NewIndex())
	c.log.Warn("topics recreated; every conversation will be re-snapshotted (MessageCreated with snapshot=true, the same event_ids as before)",
		"events_topic", c.opt.Topics.Events, "state_topic", c.opt.Topics.State)
	return nil
}

// reloadState settles the producer (the broker completes the last transaction one way or the
// other) and restores the state from the state topic, as a restart would: after a commit whose
// outcome is unknown, memory then matches what Kafka holds.
func (c *Connector) reloadState(ctx context.Context) error {
	if err := c.pub.Settle(ctx); err != nil {
		return err
	}
	if err := c.restore(ctx); err != nil {
		return err
	}
	c.reload.Store(false)
	c.log.Warn("state re-read from Kafka after an uncertain commit")
	return nil
}

// registerSchemas registers the event schemas with the schema registry, if one is configured,
// and switches the events codec to the Confluent wire format with their ids. A registry that
// does not answer is retried with backoff (1 s doubling to 30 s) while Readiness says why; a
// refusal (incompatible, invalid, credentials, not a registry) is returned. It returns nil when
// ctx ends first.
func (c *Connector) registerSchemas(ctx context.Context) error {
	if c.registry == nil {
		return nil
	}
	why := "registering the event schemas with the schema registry"
	c.starting.Store(&why)
	defer c.starting.Store(nil)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		regs, err := c.registry.Register(ctx, c.opt.Topics.Events, c.events.Schemas())
		if err == nil {
			ids := make(map[diff.EventType]uint32, len(regs))
			subjects := make(map[string]uint32, len(regs))
			args := []any{"registry", c.registry.URL()}
			for _, r := range regs {
				ids[r.Type] = r.ID
				subjects[r.Subject] = r.ID
				args = append(args, r.Subject, r.ID)
			}
			if err := c.events.UseSchemaIDs(ids); err != nil {
				return err
			}
			c.subjects.Store(&subjects)
			c.opt.Metrics.SchemaRegistration("registered")
			c.log.Info("event schemas registered; values use the Confluent wire format", args...)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		var refused *registry.RefusedError
		if errors.As(err, &refused) {
			c.opt.Metrics.SchemaRegistration("refused")
			return err
		}
		c.opt.Metrics.SchemaRegistration("unavailable")
		why := "waiting for the schema registry: " + err.Error()
		c.starting.Store(&why)
		c.health.rlog.Error("registry:unavailable", "the schema registry does not answer; retrying (not ready meanwhile)",
			"err", err, "attempt", attempt, "retry_in", backoff.String())
		if clock.Sleep(ctx, c.opt.Clock, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
