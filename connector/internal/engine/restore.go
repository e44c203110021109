package engine

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restore reads the state topic into the index; corrupt records stop the start, or with
// StateCorruptRewalk are forgotten (and logged).
func (c *Engine) restore(ctx context.Context) error {
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

// reloadState settles the producer (the broker completes the last transaction one way or the
// other) and restores the state from the state topic, as a restart would: after a commit whose
// outcome is unknown, memory then matches what Kafka holds.
func (c *Engine) reloadState(ctx context.Context) error {
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

// tombstone writes a tombstone for each dropped corrupt state record, in its partition, so
// that the state topic is clean after a STATE_ON_CORRUPT=rewalk start: a key that is not a
// conversation id is gone, and a conversation's is replaced by its next walk's record. A
// failure is logged; the next such start tries again.
func (c *Engine) tombstone(ctx context.Context, dropped []state.CorruptRecord) {
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
