package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadCommitted reads every partition of topic from the start with read_committed, up to its
// committed end (the last stable offset, taken first, so a slow fetch on a busy machine never
// cuts a read short and records committed meanwhile are left out). It returns the records
// without control records, ordered by partition and offset. The error is the broker's (e.g.
// UNKNOWN_TOPIC_OR_PARTITION for a topic not created yet), a fetch error, or ctx's.
func (c *Cluster) ReadCommitted(ctx context.Context, t testing.TB, topic string) ([]*kgo.Record, error) {
	t.Helper()
	ends, err := c.Admin(t).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("committed end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{} // partitions not yet read to their end
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl := c.Client(t,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a transaction's marker shows where a partition ends
	)
	defer cl.Close()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading %s: %w; partitions not read to their end: %v (%d records read)", topic, ctx.Err(), remaining, len(out))
		}
		if err := fs.Err(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() && r.Offset < ends[topic][r.Partition].Offset {
				out = append(out, r)
			}
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}
