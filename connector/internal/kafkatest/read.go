package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
)

// ReadCommitted reads every partition of topic from the start with read_committed, up to its
// committed end (the last stable offset, taken first, so a slow fetch on a busy machine never
// cuts a read short and records committed meanwhile are left out): kafkatopic.ReadToEnd. It
// returns the records without control records, ordered by partition and offset. A read that
// meets a passing error (a leadership election on a broker that just came back) starts again.
// The error is the broker's (e.g. UNKNOWN_TOPIC_OR_PARTITION for a topic not created yet), a
// fetch error, or ctx's.
func (c *Cluster) ReadCommitted(ctx context.Context, t testing.TB, topic string) ([]*kgo.Record, error) {
	t.Helper()
	for {
		var out []*kgo.Record
		err := kafkatopic.ReadToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, topic, func(r *kgo.Record) error {
			out = append(out, r)
			return nil
		})
		switch {
		case err == nil:
			sort.SliceStable(out, func(i, j int) bool {
				if out[i].Partition != out[j].Partition {
					return out[i].Partition < out[j].Partition
				}
				return out[i].Offset < out[j].Offset
			})
			return out, nil
		case !passing(err) || ctx.Err() != nil:
			return nil, fmt.Errorf("reading %s to its committed end (%d records read): %w", topic, len(out), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// passing reports a retriable error other than a missing topic (which tests wait for
// themselves).
func passing(err error) bool {
	return kerr.IsRetriable(err) && !errors.Is(err, kerr.UnknownTopicOrPartition)
}
