package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
	// Dropped are the conversations whose latest state record could not be decoded, left out
	// of the index (with RestoreOptions.DropCorrupt).
	Dropped []CorruptRecord
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// DropCorrupt: a conversation whose latest state record cannot be decoded is left out of
	// the index (its next walk re-emits its messages as snapshots, with the same event ids)
	// instead of failing the restore.
	DropCorrupt bool
}

// CorruptRecord locates a state record that could not be decoded.
type CorruptRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Err       error
}

func (c CorruptRecord) String() string {
	return fmt.Sprintf("%s[%d]@%d key %q: %v", c.Topic, c.Partition, c.Offset, c.Key, c.Err)
}

// CorruptStateError: the latest state record of one or more conversations cannot be decoded.
// Only the latest record of a key counts: a bad record later superseded is harmless.
type CorruptStateError struct{ Records []CorruptRecord }

func (e *CorruptStateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "restore: %d state record(s) cannot be decoded: ", len(e.Records))
	for i, r := range e.Records {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Records)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	b.WriteString(". To re-establish those conversations (their messages are re-emitted as snapshots with the same event_ids), restart once with STATE_ON_CORRUPT=rewalk")
	return b.String()
}

// Restore reads every partition of the state topic from its start to its last stable offset
// with read_committed and returns the latest state of each conversation. Call it after the
// transactional producer has been initialised (fencing any previous instance and aborting its
// open transaction), so that the last stable offset is final. base are the connection options
// (seed brokers, TLS, SASL) for the reading client.
//
// A record that cannot be decoded fails the restore with a *CorruptStateError naming it,
// unless a later record of the same key supersedes it, or opt.DropCorrupt is set.
func Restore(ctx context.Context, base []kgo.Opt, topic string, codec *Codec, opt RestoreOptions) (*Index, RestoreStats, error) {
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

	corrupt := map[string]CorruptRecord{} // by key: the latest record of the key is bad
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
		fs.EachRecord(func(r *kgo.Record) {
			if e, ok := end[r.Partition]; ok && r.Offset+1 >= e {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			stats.Records++
			stats.Bytes += int64(len(r.Value))
			key := string(r.Key)
			bad := func(err error) {
				corrupt[key] = CorruptRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, Err: err}
			}
			id, err := strconv.ParseInt(key, 10, 64)
			switch {
			case err != nil && r.Value == nil:
				delete(corrupt, key) // a tombstone cleans a bad key away
				return
			case err != nil:
				bad(errors.New("the key is not a conversation id"))
				return
			}
			delete(corrupt, key) // a later record supersedes an earlier bad one
			if r.Value == nil {  // tombstone
				idx.Delete(id)
				return
			}
			s, err := codec.Decode(r.Value)
			if err != nil {
				idx.Delete(id)
				bad(err)
				return
			}
			idx.Put(s)
		})
	}
	if len(corrupt) > 0 {
		recs := make([]CorruptRecord, 0, len(corrupt))
		for _, c := range corrupt {
			recs = append(recs, c)
		}
		sort.Slice(recs, func(i, j int) bool {
			if recs[i].Partition != recs[j].Partition {
				return recs[i].Partition < recs[j].Partition
			}
			return recs[i].Offset < recs[j].Offset
		})
		if !opt.DropCorrupt {
			return nil, stats, &CorruptStateError{Records: recs}
		}
		stats.Dropped = recs
	}
	stats.Conversations, stats.Messages = idx.Len()
	stats.Duration = time.Since(start)
	return idx, stats, nil
}
