package kafkatopic

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadToEnd reads every partition of topic with read_committed, from its start to its
// committed end — the last stable offset, taken before the first fetch, so that records
// committed meanwhile are left out and a slow fetch never cuts the read short — and calls each
// with every record but the transaction markers, in offset order within a partition
// (partitions interleave). A partition whose log starts at its end (empty, or emptied by
// retention) has nothing to read. base are the connection options (seed brokers, TLS, SASL);
// opts are added to the reading client's (fetch sizes, say).
//
// It returns nil once every partition is read to its end (at once when there is nothing to
// read); ctx's error when ctx ends first; an error naming the topic when its offsets cannot be
// listed (wrapping the broker's, e.g. UNKNOWN_TOPIC_OR_PARTITION); the fetch errors, each a
// *FetchError (joined when there are several); or each's first error as a *RecordError, after
// which nothing more is read.
//
// Read to the committed end, a topic written by transactions is complete: call it after the
// writer's transactional producer is initialised (which fences a previous instance and aborts
// its open transaction) and the end is final.
func ReadToEnd(ctx context.Context, base []kgo.Opt, topic string, each func(*kgo.Record) error, opts ...kgo.Opt) error {
	return ReadTail(ctx, base, topic, 0, each, opts...)
}

// ReadTail is ReadToEnd over the last n offsets of each partition before its committed end
// (offsets, not records: transaction markers and compacted records count); n <= 0 reads
// everything. It shows what a topic's latest records are without reading all of it.
func ReadTail(ctx context.Context, base []kgo.Opt, topic string, n int64, each func(*kgo.Record) error, opts ...kgo.Opt) error {
	from, ends, err := bounds(ctx, base, topic)
	if err != nil || len(from) == 0 {
		return err
	}
	if n > 0 {
		for p, end := range ends {
			if end-n > from[p].EpochOffset().Offset {
				from[p] = kgo.NewOffset().At(end - n)
			}
		}
	}
	cl, err := kgo.NewClient(append(append(append([]kgo.Opt{}, base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Every transaction ends with a control record at its last offset: keeping control
		// records is how the reader sees that it reached the end.
		kgo.KeepControlRecords(),
	), opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	remaining := make(map[int32]int64, len(ends)) // partitions not yet read to their end
	for p, end := range ends {
		remaining[p] = end
	}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fetchErrors(fs); err != nil {
			return err
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() || r.Offset >= ends[r.Partition] {
				continue
			}
			if err := each(r); err != nil {
				return &RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
			}
		}
	}
	return nil
}

// bounds lists where the read of each partition with records starts (its log start) and ends
// (its last stable offset). Partitions with nothing to read are left out.
func bounds(ctx context.Context, base []kgo.Opt, topic string) (map[int32]kgo.Offset, map[int32]int64, error) {
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("last stable offsets of %s: %w", topic, err)
	}
	from, ends := map[int32]kgo.Offset{}, map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
			ends[o.Partition] = o.Offset
		}
	})
	return from, ends, nil
}

// fetchErrors returns the fetch errors of fs: nil, one *FetchError, or several joined.
func fetchErrors(fs kgo.Fetches) error {
	var errs []error
	fs.EachError(func(t string, p int32, err error) {
		errs = append(errs, &FetchError{Topic: t, Partition: p, Err: err})
	})
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// FetchError is a fetch of one partition that failed.
type FetchError struct {
	Topic     string
	Partition int32
	Err       error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
}
func (e *FetchError) Unwrap() error { return e.Err }

// RecordError is the error the caller's function returned for one record.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s[%d]@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}
func (e *RecordError) Unwrap() error { return e.Err }
