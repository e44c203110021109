package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// checkAPI spends one request on the cheapest page there is before anything touches Kafka, so
// that a wrong key or a wrong PARTOO_API_URL stops the connector before it creates topics:
// 401/403 (the key), 404 or a body that is not JSON (the URL is not Partoo's API) stop it at
// once. A host that cannot be reached (unknown, refusing, TLS failing) is retried, 1 s doubling
// to 15 s, for PartooStartupTimeout, then stops it naming PARTOO_API_URL. Partoo reached but
// failing (no answer in time, 5xx, 429, an odd JSON body) is not a reason to stop: the failure
// is logged, and the walks will keep trying (and keep saying so, up to /status degraded).
func (c *Connector) checkAPI(ctx context.Context) error {
	clk := c.opt.Clock
	deadline := clk.Now().Add(c.opt.PartooStartupTimeout)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.client.ListConversations(cctx, partoo.ListConversationsParams{PerPage: 1, BusinessIDs: c.opt.BusinessIDs, MaxAttempts: 1})
		cancel()
		kind := partoo.ErrorKind(err)
		switch {
		case err == nil:
			c.log.Info("Partoo API key accepted")
			return nil
		case ctx.Err() != nil:
			return nil
		case partoo.IsAuth(err):
			return fmt.Errorf("Partoo API key check: %w", err)
		case kind == partoo.KindNotFound || kind == partoo.KindNonJSON || kind == partoo.KindOtherStatus:
			return fmt.Errorf("PARTOO_API_URL %s is not Partoo's API (give the base URL up to and including /v2, e.g. %s): GET /conversations: %w",
				c.client.BaseURL(), partoo.DefaultAPIURL, err)
		case kind == partoo.KindConnection:
			if !clk.Now().Add(backoff).Before(deadline) {
				return fmt.Errorf("PARTOO_API_URL %s: Partoo cannot be reached (gave up after %d attempts, start-up timeout %s): %w",
					c.client.BaseURL(), attempt, c.opt.PartooStartupTimeout, err)
			}
			why := fmt.Sprintf("waiting for Partoo's API to answer (PARTOO_API_URL %s)", c.client.BaseURL())
			c.starting.Store(&why)
			c.log.Warn("Partoo's API does not answer; retrying before going on (check PARTOO_API_URL and the network)",
				"partoo_api_url", c.client.BaseURL(), "attempt", attempt, "retry_in", backoff,
				"gives_up_in", deadline.Sub(clk.Now()).Round(time.Second), "err", err)
			if clock.Sleep(ctx, clk, backoff) != nil {
				return nil
			}
			backoff = min(2*backoff, 15*time.Second)
		default:
			c.log.Warn("could not check the Partoo API key (Partoo did not answer usefully); going on", "err", err)
			return nil
		}
	}
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
	if len(stats.Dropped) > 0 {
		c.tombstone(ctx, stats.Dropped)
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
			"err", err, "attempt", attempt, "retry_in", backoff)
		if clock.Sleep(ctx, c.opt.Clock, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// ProducerMaxBytes is the producer's own cap on a batch of event records (franz-go's
// ProducerBatchMaxBytes): events never exceed it, whatever the topic allows.
const ProducerMaxBytes = 1 << 20

// eventMaxBytes is the most one event record may take (events.RecordSize).
func (c *Connector) eventMaxBytes() int {
	if n := c.eventsMax.Load(); n > 0 {
		return int(n)
	}
	return ProducerMaxBytes
}

// readEventsMaxBytes learns the events topic's max.message.bytes, so that an event too large
// for it is cut to fit (and flagged) instead of failing every transaction that carries it.
func (c *Connector) readEventsMaxBytes(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := state.MaxMessageBytes(dctx, c.adm, c.opt.Topics.Events)
	if err != nil {
		n = state.DefaultMaxMessageBytes
		c.log.Warn("cannot read the events topic's max.message.bytes; assuming Kafka's default", "topic", c.opt.Topics.Events,
			"assumed_bytes", n, "err", err)
	}
	limit := min(n, ProducerMaxBytes)
	c.eventsMax.Store(int64(limit))
	c.log.Info("events topic record limit", "topic", c.opt.Topics.Events, "max_message_bytes", n, "producer_max_bytes", ProducerMaxBytes, "event_max_bytes", limit)
}

// refreshEventsMaxBytes re-reads the events topic's max.message.bytes after Kafka refused a
// record (the topic's limit may have been lowered since the start), then has the producer
// rebuilt so that its batches follow the new limit; the refused conversation's next walk cuts
// its events to fit. In the background; one at a time.
func (c *Connector) refreshEventsMaxBytes() {
	if c.adm == nil || !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.refreshing.Store(false)
		c.readEventsMaxBytes(context.Background())
		c.pub.Reset()
	}()
}

// tombstone writes a tombstone for each dropped corrupt state record, in its partition, so
// that the state topic is clean after a STATE_ON_CORRUPT=rewalk start: a key that is not a
// conversation id is gone, and a conversation's is replaced by its next walk's record. A
// failure is logged; the next such start tries again.
func (c *Connector) tombstone(ctx context.Context, dropped []state.CorruptRecord) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.opt.Kafka...), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		c.log.Warn("cannot write tombstones for the corrupt state records", "err", err)
		return
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(dropped))
	for _, d := range dropped {
		recs = append(recs, &kgo.Record{Topic: d.Topic, Partition: d.Partition, Key: []byte(d.Key)})
	}
	if err := cl.ProduceSync(tctx, recs...).FirstErr(); err != nil {
		c.log.Warn("cannot write tombstones for the corrupt state records; the next start with STATE_ON_CORRUPT=rewalk tries again", "records", len(recs), "err", err)
		return
	}
	c.log.Info("corrupt state records replaced by tombstones: the state topic is clean", "records", len(recs))
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
func (c *Connector) watchKafka(ctx context.Context) {
	for {
		c.pingKafka(ctx)
		if clock.Sleep(ctx, c.opt.Clock, kafkaPingEvery) != nil {
			return
		}
	}
}

// pingKafka asks Kafka for its metadata: an outage starts at the first failure (not ready,
// degraded, walks paused) and ends at the first answer. It reports whether Kafka answered.
func (c *Connector) pingKafka(ctx context.Context) bool {
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
		c.opt.Metrics.SetReady(c.Ready())
		c.log.Info("Kafka answers again: walks resume", "down_seconds", time.Since(o.since).Seconds())
	}
	return true
}

// waitForKafka blocks while Kafka does not answer (the runner calls it before each pick), so
// that no walk is spent on work that cannot commit.
func (c *Connector) waitForKafka(ctx context.Context) error {
	for c.kafkaDown.Load() != nil {
		if err := clock.Sleep(ctx, c.opt.Clock, time.Second); err != nil {
			return err
		}
	}
	return nil
}
