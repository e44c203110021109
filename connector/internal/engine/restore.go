package engine

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/publish"

	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ownerOf names the state records of the connector opt configures: its API key's fingerprint
// and its organisation id.
func ownerOf(opt Options) state.Owner {
	key := opt.Partoo.APIKey
	if opt.PartooClient != nil {
		key = opt.PartooClient.APIKey()
	}
	return state.NewOwner(key.Reveal(), opt.OrganizationID)
}

// restore reads the state topic into the index; corrupt records stop the start, or with
// StateCorruptRewalk are forgotten (and logged); another owner's records stop it, or with
// StateOwnerAdopt are rewritten as this connector's.
func (c *Engine) restore(ctx context.Context) error {
	idx, stats, err := state.Restore(ctx, c.opt.Kafka, c.opt.Topics.State, c.stateCodec,
		state.RestoreOptions{DropCorrupt: c.opt.StateOnCorrupt == StateCorruptRewalk,
			Owner: c.owner, AdoptForeign: c.opt.StateOwnerCheck == StateOwnerAdopt})
	if err != nil {
		return err
	}
	if len(stats.Adopted) > 0 {
		first := stats.Adopted[0]
		c.log.Warn("STATE_OWNER_CHECK=adopt: restoring another owner's state as this connector's and rewriting it under this one (a key rotation); remove the setting once the connector runs",
			"topic", c.opt.Topics.State, "conversations", len(stats.Adopted), "written_by", first.Owner.String(), "this_connector", c.owner.String(),
			"first_partition", first.Partition, "first_offset", first.Offset)
	}
	if len(stats.Unowned) > 0 {
		c.log.Info("state of an earlier release (no owner header): taken as this connector's and rewritten under its owner, once",
			"topic", c.opt.Topics.State, "conversations", len(stats.Unowned), "this_connector", c.owner.String())
	}
	if err := c.claim(ctx, idx, append(stats.Adopted, stats.Unowned...)); err != nil {
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
	var dropped []int64
	for _, r := range stats.Dropped {
		if id, err := strconv.ParseInt(r.Key, 10, 64); err == nil {
			dropped = append(dropped, id)
		}
	}
	c.startWatching(idx, false, dropped)
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
	c.on(event{kind: evReloaded})
	c.log.Warn("state re-read from Kafka to the committed end after a transaction whose outcome or producer Kafka could not vouch for")
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
	var owner []kgo.RecordHeader
	for _, h := range c.owner.Header() {
		owner = append(owner, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	for _, d := range dropped {
		recs = append(recs, &kgo.Record{Topic: d.Topic, Partition: d.Partition, Key: []byte(d.Key), Headers: owner})
	}
	if err := cl.ProduceSync(tctx, recs...).FirstErr(); err != nil {
		c.log.Warn("cannot write tombstones for the corrupt state records; the next start with STATE_ON_CORRUPT=rewalk tries again", "records", len(recs), "err", err)
		return
	}
	c.log.Info("corrupt state records replaced by tombstones: the state topic is clean", "records", len(recs))
}

// claimBatch is the number of claimed states per transaction.
const claimBatch = 500

// claim rewrites the state of the conversations whose latest record is not this connector's
// own — another owner's (StateOwnerAdopt: a key rotation), or an earlier release's that names
// none — unchanged but under this connector's owner, in transactions of claimBatch, so that
// every later start finds only its own state and another key's connector pointed at this
// topic is refused. Nothing else is published.
func (c *Engine) claim(ctx context.Context, idx *state.Index, recs []state.ForeignRecord) error {
	changes := make([]publish.Change, 0, min(claimBatch, len(recs)))
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		if err := c.pub.Publish(ctx, changes); err != nil {
			return fmt.Errorf("rewriting the state of %s under this connector's owner: %w (the next start tries again)", c.opt.Topics.State, err)
		}
		changes = changes[:0]
		return nil
	}
	for _, r := range recs {
		id, err := strconv.ParseInt(r.Key, 10, 64)
		s := idx.Get(id)
		if err != nil || s == nil {
			continue // a corrupt record: STATE_ON_CORRUPT decides
		}
		v, err := c.stateCodec.Encode(s)
		if err != nil {
			return fmt.Errorf("encode the state of conversation %d: %w", id, err)
		}
		changes = append(changes, publish.Change{ConversationID: id, State: v})
		if len(changes) == claimBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(recs) > 0 {
		c.log.Info("state rewritten under this connector's owner", "topic", c.opt.Topics.State, "conversations", len(recs), "owner", c.owner.String())
	}
	return nil
}
