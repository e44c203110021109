package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
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
	// Adopted are the conversations whose latest state record was another owner's, restored
	// as this connector's (with RestoreOptions.AdoptForeign): the caller rewrites them.
	Adopted []ForeignRecord
	// Unowned are the conversations whose latest state record names no owner (written by a
	// release before the owner header; RestoreOptions.Owner set): restored as this
	// connector's, and listed so that the caller can rewrite them under its owner.
	Unowned []ForeignRecord
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// DropCorrupt: a conversation whose latest state record cannot be decoded is left out of
	// the index (its next walk re-emits its messages as snapshots, with the same event ids)
	// instead of failing the restore.
	DropCorrupt bool
	// Owner is this connector's (NewOwner): a conversation whose latest state record names
	// another owner fails the restore with a *ForeignStateError. A record that names none
	// (written by a release before the owner header) is taken as this connector's. Zero: no
	// check.
	Owner Owner
	// AdoptForeign restores another owner's records as this connector's instead, and lists
	// them in RestoreStats.Adopted (a deliberate key rotation).
	AdoptForeign bool
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
// unless a later record of the same key supersedes it, or opt.DropCorrupt is set. Likewise a
// record of another owner (opt.Owner) fails it with a *ForeignStateError, checked first, unless
// opt.AdoptForeign is set.
func Restore(ctx context.Context, base []kgo.Opt, topic string, codec *Codec, opt RestoreOptions) (*Index, RestoreStats, error) {
	start := time.Now()
	r := restorer{idx: NewIndex(), codec: codec, opt: opt, corrupt: map[string]CorruptRecord{},
		foreign: map[string]ForeignRecord{}, unowned: map[string]ForeignRecord{}}
	err := kafkatopic.ReadToEnd(ctx, base, topic, r.apply, kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20))
	if err != nil {
		return nil, r.stats, fmt.Errorf("restore: %w", err)
	}
	if recs := r.foreignRecords(); len(recs) > 0 {
		if !opt.AdoptForeign {
			return nil, r.stats, &ForeignStateError{Topic: topic, Want: opt.Owner, Records: recs}
		}
		r.stats.Adopted = recs
	}
	r.stats.Unowned = byOffset(r.unowned)
	if recs := r.corruptRecords(); len(recs) > 0 {
		if !opt.DropCorrupt {
			return nil, r.stats, &CorruptStateError{Records: recs}
		}
		r.stats.Dropped = recs
	}
	r.stats.Conversations, r.stats.Messages = r.idx.Len()
	r.stats.Duration = time.Since(start)
	return r.idx, r.stats, nil
}

// restorer builds the index from the state records, in order.
type restorer struct {
	idx     *Index
	codec   *Codec
	opt     RestoreOptions
	stats   RestoreStats
	corrupt map[string]CorruptRecord // by key: the latest record of the key is bad
	foreign map[string]ForeignRecord // by key: the latest record of the key is another owner's
	unowned map[string]ForeignRecord // by key: the latest record of the key names no owner
}

// apply takes one state record: the latest record of a key wins, a tombstone removes it.
func (r *restorer) apply(rec *kgo.Record) error {
	r.stats.Records++
	r.stats.Bytes += int64(len(rec.Value))
	key := string(rec.Key)
	bad := func(err error) {
		r.corrupt[key] = CorruptRecord{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: key, Err: err}
	}
	id, err := strconv.ParseInt(key, 10, 64)
	switch {
	case err != nil && rec.Value == nil:
		delete(r.corrupt, key) // a tombstone cleans a bad key away
		return nil
	case err != nil:
		bad(errors.New("the key is not a conversation id"))
		return nil
	}
	delete(r.corrupt, key) // a later record supersedes an earlier bad one
	delete(r.foreign, key) // or another owner's
	delete(r.unowned, key)
	if rec.Value == nil { // tombstone: it holds no state, whoever wrote it
		r.idx.Delete(id)
		return nil
	}
	if owner, named := RecordOwner(rec); !r.opt.Owner.IsZero() {
		at := ForeignRecord{Partition: rec.Partition, Offset: rec.Offset, Key: key, Owner: owner}
		switch {
		case !named:
			r.unowned[key] = at
		case r.opt.Owner.Differs(owner) != "":
			r.foreign[key] = at
			if !r.opt.AdoptForeign {
				r.idx.Delete(id)
				return nil
			}
		}
	}
	s, err := r.codec.Decode(rec.Value)
	if err != nil {
		r.idx.Delete(id)
		bad(err)
		return nil
	}
	r.idx.Put(s)
	return nil
}

// foreignRecords are the keys whose latest record is another owner's, by partition and offset.
func (r *restorer) foreignRecords() []ForeignRecord { return byOffset(r.foreign) }

// byOffset lists the records by partition and offset.
func byOffset(m map[string]ForeignRecord) []ForeignRecord {
	recs := make([]ForeignRecord, 0, len(m))
	for _, f := range m {
		recs = append(recs, f)
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}

// corruptRecords are the keys whose latest record is bad, by partition and offset.
func (r *restorer) corruptRecords() []CorruptRecord {
	recs := make([]CorruptRecord, 0, len(r.corrupt))
	for _, c := range r.corrupt {
		recs = append(recs, c)
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}
