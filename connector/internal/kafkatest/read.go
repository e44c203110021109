package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
)

// ReadCommitted reads every partition of topic from the start with read_committed, up to its
// committed end (the last stable offset, taken first, so a slow fetch on a busy machine never
// cuts a read short and records committed meanwhile are left out): kafkatopic.ReadToEnd. It
// returns the records without control records, ordered by partition and offset. The error is
// the broker's (e.g. UNKNOWN_TOPIC_OR_PARTITION for a topic not created yet), a fetch error, or
// ctx's.
func (c *Cluster) ReadCommitted(ctx context.Context, t testing.TB, topic string) ([]*kgo.Record, error) {
	t.Helper()
	var out []*kgo.Record
	err := kafkatopic.ReadToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, topic, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s to its committed end (%d records read): %w", topic, len(out), err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}
