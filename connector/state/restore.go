package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreStats describe a restore.
type RestoreStats struct {
	Records       int
	Conversations int
	Messages      int
	Bytes         int64
	Duration      time.Duration
}

// Restore reads every partition of the state topic from its start to its last stable offset
// with read_committed and returns the latest state of each conversation. Call it after the
// transactional producer has been initialised (fencing any previous instance and aborting its
// open transaction), so that the last stable offset is final. base are the connection options
// (seed brokers, TLS, SASL) for the reading client.
func Restore(ctx context.Context, base []kgo.Opt, topic string, codec *Codec) (*Index, RestoreStats, error) {
	start := time.Now()
	idx := NewIndex()
	var stats RestoreStats

	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, stats, err
	}
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		admCl.Close()
		return nil, stats, fmt.Errorf("restore: start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	admCl.Close()
	if err != nil {
		return nil, stats, fmt.Errorf("restore: last stable offsets of %s: %w", topic, err)
	}

	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
			end[o.Partition] = o.Offset
		}
	})
	if len(from) == 0 {
		stats.Duration = time.Since(start)
		return idx, stats, nil
	}

	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Every transaction ends with a control record at the last offset: keeping control
		// records is how the reader knows it reached the end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(32<<20),
	)...)
	if err != nil {
		return nil, stats, err
	}
	defer cl.Close()

	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, stats, fmt.Errorf("restore: %w", err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("restore: fetch %s[%d]: %w", t, p, err)
		})
		if ferr != nil {
			return nil, stats, ferr
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			if e, ok := end[r.Partition]; ok && r.Offset+1 >= e {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() || derr != nil {
				return
			}
			stats.Records++
			stats.Bytes += int64(len(r.Value))
			id, err := strconv.ParseInt(string(r.Key), 10, 64)
			if err != nil {
				derr = fmt.Errorf("restore: %s[%d]@%d: key %q is not a conversation id", r.Topic, r.Partition, r.Offset, r.Key)
				return
			}
			if r.Value == nil { // tombstone
				idx.Delete(id)
				return
			}
			s, err := codec.Decode(r.Value)
			if err != nil {
				derr = fmt.Errorf("restore: %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			idx.Put(s)
		})
		if derr != nil {
			return nil, stats, derr
		}
	}
	stats.Conversations, stats.Messages = idx.Len()
	stats.Duration = time.Since(start)
	return idx, stats, nil
}
