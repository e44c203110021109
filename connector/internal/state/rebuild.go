package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
)

// RebuildConfig configures Rebuild.
type RebuildConfig struct {
	Kafka  []kgo.Opt // connection options (seed brokers, TLS, SASL)
	Topics Topics    // the events topic read, the state topic written (created if missing)
	// TransactionalID is the connector's: the states are written in its transactions, as the
	// connector writes them, which fences a connector of that id still running.
	TransactionalID    string
	TransactionTimeout time.Duration // [publish.DefaultTransactionTimeout]
	// Owner is the connector's (NewOwner of its API key and organisation id): every state
	// written names it, as the connector's own records do. Required.
	Owner Owner
	// Force writes even if the state topic still holds records (they are superseded per
	// conversation); without it Rebuild refuses with a *StateNotEmptyError.
	Force bool
	// Guard, when set, is called before the state topic's records are judged, and before
	// any topic is created or written; its error stops the rebuild. The command checks there
	// that no connector of the transactional id is alive.
	Guard func(ctx context.Context, adm *kadm.Client) error
	// Batch is the number of states per transaction [500].
	Batch int
	// Now is the time the states are taken at (diff.Replay.States) [time.Now].
	Now func() time.Time
}

// RebuildStats describe a rebuild.
type RebuildStats struct {
	Events        int // events read
	Conversations int // states written
	Messages      int // messages in the states
	// Skipped counts the events left out because their schema fingerprint is in no schema any
	// release wrote (schemas/history), by fingerprint: their conversations' next walks publish
	// again what they said, instead of the rebuild stopping.
	Skipped map[string]int
}

// StateNotEmptyError: the state topic still holds records, and RebuildConfig.Force is not set.
type StateNotEmptyError struct {
	Topic   string
	Records int64
}

func (e *StateNotEmptyError) Error() string {
	return fmt.Sprintf("state topic %s still holds %d records", e.Topic, e.Records)
}

// ReplayError: the events topic could not be read to its end; nothing was written. Err says
// why: ctx's error, the fetch errors (*kafkatopic.FetchError), an event that does not decode
// (*kafkatopic.RecordError), or a listing of the topic's offsets that failed.
type ReplayError struct {
	Topic string
	Err   error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("reading %s did not complete; nothing was written", e.Topic)
}
func (e *ReplayError) Unwrap() error { return e.Err }

// Rebuild rebuilds a lost state topic from the events topic, instead of re-emitting every
// message as a snapshot: it reads the events topic (read_committed) to its committed end,
// replays the events into each conversation's state (diff.Replay) and writes the states to
// the state topic in transactions under the connector's transactional id, with the connector's
// own publisher (same partitioner, bounds and failure classification). After it, the
// connector's next walks emit only what changed since the last event.
//
// It refuses a state topic that still holds records unless cfg.Force (*StateNotEmptyError),
// and whatever cfg.Guard refuses. Nothing is written unless every event was read
// (*ReplayError otherwise).
func Rebuild(ctx context.Context, cfg RebuildConfig) (RebuildStats, error) {
	cfg.Topics.defaults()
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Owner.IsZero() {
		return RebuildStats{}, errors.New("rebuild: the owner of the state (the connector's API key) is required")
	}
	if err := rebuildPreconditions(ctx, cfg); err != nil {
		return RebuildStats{}, err
	}
	stats := RebuildStats{Skipped: map[string]int{}}
	replay, err := replayEvents(ctx, cfg.Kafka, cfg.Topics.Events, &stats)
	if err != nil {
		return stats, err
	}
	states := replay.States(cfg.Now())
	stats.Conversations = len(states)
	for _, s := range states {
		stats.Messages += len(s.Messages)
	}
	return stats, writeStates(ctx, cfg, states)
}

// rebuildPreconditions refuses what the guard refuses (a live connector), then a state topic
// with records (unless Force), then creates the topics that are missing.
func rebuildPreconditions(ctx context.Context, cfg RebuildConfig) error {
	admCl, err := kgo.NewClient(cfg.Kafka...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	n, err := topicRecords(ctx, adm, cfg.Topics.State)
	if err != nil {
		return fmt.Errorf("state topic %s: %v", cfg.Topics.State, err)
	}
	// The guard first: a state topic with records beside a running connector is its live
	// state, and the refusal must say that, not advise deleting the topic.
	if cfg.Guard != nil {
		if err := cfg.Guard(ctx, adm); err != nil {
			return err
		}
	}
	if n > 0 && !cfg.Force {
		return &StateNotEmptyError{Topic: cfg.Topics.State, Records: n}
	}
	return EnsureTopics(ctx, adm, cfg.Topics)
}

// countTimeout bounds the count of a topic's records.
const countTimeout = 8 * time.Second

// topicRecords counts the records a topic holds (0 when it does not exist).
func topicRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(rctx, topic)
	if err != nil {
		return 0, err
	}
	starts, err := adm.ListStartOffsets(rctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil {
			n += o.Offset - s.Offset
		}
	})
	return n, nil
}

// replayEvents replays every committed event of the topic, counting those read and those
// skipped (an unknown schema fingerprint) in stats.
func replayEvents(ctx context.Context, kopts []kgo.Opt, topic string, stats *RebuildStats) (*diff.Replay, error) {
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	replay := diff.NewReplay()
	err = kafkatopic.ReadToEnd(ctx, kopts, topic, func(r *kgo.Record) error {
		fp := ""
		for _, h := range r.Headers {
			if h.Key == events.HeaderFingerprint {
				fp = string(h.Value)
			}
		}
		e, err := codec.DecodeEvent(r.Value, fp)
		var unknown *schemahistory.UnknownError
		if errors.As(err, &unknown) {
			stats.Skipped[unknown.Fingerprint]++
			return nil
		}
		if err != nil {
			return err
		}
		replay.Apply(e)
		stats.Events++
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, &ReplayError{Topic: topic, Err: err}
	}
	return replay, nil
}

// writeStates writes the states in transactions of cfg.Batch with the connector's
// transactional publisher; a change without events is a state record.
func writeStates(ctx context.Context, cfg RebuildConfig, states []*diff.State) error {
	codec, err := NewCodec()
	if err != nil {
		return err
	}
	pub, err := publish.New(publish.Config{Base: cfg.Kafka, TransactionalID: cfg.TransactionalID,
		EventsTopic: cfg.Topics.Events, StateTopic: cfg.Topics.State, StateHeaders: cfg.Owner.Header(),
		StateMaxBytes: int32(cfg.Topics.StateMaxMessageBytes), TransactionTimeout: cfg.TransactionTimeout})
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.Init(ctx); err != nil {
		return err
	}
	for start := 0; start < len(states); start += cfg.Batch {
		batch := states[start:min(start+cfg.Batch, len(states))]
		changes := make([]publish.Change, 0, len(batch))
		for _, s := range batch {
			v, err := codec.Encode(s)
			if err != nil {
				return fmt.Errorf("encode the state of conversation %d: %v", s.ConversationID, err)
			}
			changes = append(changes, publish.Change{ConversationID: s.ConversationID, State: v})
		}
		if err := pub.Publish(ctx, changes); err != nil {
			return fmt.Errorf("write the states: %v (%d of %d conversations were written before this batch)", err, start, len(states))
		}
	}
	return nil
}
