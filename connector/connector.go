// Package connector wires the pieces: it walks Partoo conversations, diffs each walk against
// the state restored from the compacted state topic, and publishes events and state in one
// transaction per walked conversation.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/events"
	"github.com/partoo-connector/partoo-connector/connector/metrics"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/publish"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

// Options configure a Connector.
type Options struct {
	Partoo          *partoo.Client // required
	Kafka           []kgo.Opt      // connection options (seed brokers, TLS, SASL); required
	Topics          state.Topics   // names and creation settings
	TransactionalID string         // required
	ConversationIDs []int64        // a fixed list to walk instead of discovering via /conversations
	BusinessIDs     []int64        // business__in filter for discovery
	VanishAfter     int            // complete walks a message must be absent from; default 2
	// SweepInterval is the least time between the starts of two sweeps over every
	// conversation. Default 0: sweep again at once (the budget paces the requests).
	SweepInterval time.Duration
	Logger        *slog.Logger
	Clock         partoo.Clock // detected_at; default the wall clock
	// OnCommit, if set, is called after each committed transaction with its events.
	OnCommit func([]diff.Event)
	// Scheduler picks what to walk. Default: the smart scheduler (package schedule) tuned by
	// Schedule, or the naive sweep when Strategy is "sweep".
	Scheduler Scheduler
	Strategy  string          // "smart" (default) or "sweep"
	Schedule  schedule.Config // tuning of the smart scheduler (Partoo, Clock, State and Known are filled in)
	// Metrics, if set, records walks, transactions, events and lags. Give the same value to
	// the Partoo client's Observer to record API requests.
	Metrics *metrics.Metrics
}

// Connector is the running service. Create it with New and call Run once.
type Connector struct {
	opt        Options
	log        *slog.Logger
	codec      *events.Codec
	stateCodec *state.Codec
	pub        *publish.Publisher
	idx        atomic.Pointer[state.Index]
	ready      atomic.Bool
	ignored    atomic.Int64
	walks      atomic.Int64

	lastWalkMu sync.Mutex
	lastWalk   map[int64]time.Time // start of the last walk of each conversation (for lags)
}

// New validates opt and builds the connector; it does not touch the network.
func New(opt Options) (*Connector, error) {
	var errs []error
	if opt.Partoo == nil {
		errs = append(errs, errors.New("connector: a Partoo client is required"))
	}
	if len(opt.Kafka) == 0 {
		errs = append(errs, errors.New("connector: Kafka connection options are required"))
	}
	if opt.TransactionalID == "" {
		errs = append(errs, errors.New("connector: a transactional id is required"))
	}
	if opt.Topics.Events == "" || opt.Topics.State == "" {
		errs = append(errs, errors.New("connector: events and state topics are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Clock == nil {
		opt.Clock = partoo.RealClock{}
	}
	if opt.Topics.StateMaxMessageBytes == 0 {
		opt.Topics.StateMaxMessageBytes = state.DefaultStateMaxMessageBytes
	}
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	sc, err := state.NewCodec()
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(publish.Config{
		Base: opt.Kafka, TransactionalID: opt.TransactionalID,
		EventsTopic: opt.Topics.Events, StateTopic: opt.Topics.State,
		StateMaxBytes: int32(opt.Topics.StateMaxMessageBytes),
	})
	if err != nil {
		return nil, err
	}
	c := &Connector{opt: opt, log: opt.Logger.With("component", "connector"), codec: codec, stateCodec: sc, pub: pub,
		lastWalk: map[int64]time.Time{}}
	if c.opt.Scheduler == nil {
		switch {
		case opt.Strategy == "sweep" || len(opt.ConversationIDs) > 0:
			// A fixed list has nothing to discover: walk it in turn.
			c.opt.Scheduler = &SweepScheduler{Partoo: opt.Partoo, ConversationIDs: opt.ConversationIDs, BusinessIDs: opt.BusinessIDs,
				Interval: opt.SweepInterval, Clock: opt.Clock, Known: c.knownIDs}
		case opt.Strategy == "" || opt.Strategy == "smart":
			sc := opt.Schedule
			sc.Partoo, sc.Clock, sc.Known, sc.BusinessIDs = opt.Partoo, opt.Clock, c.knownIDs, opt.BusinessIDs
			sc.State = func(id int64) *diff.State {
				if idx := c.idx.Load(); idx != nil {
					return idx.Get(id)
				}
				return nil
			}
			c.opt.Scheduler = schedule.New(sc)
		default:
			return nil, fmt.Errorf("connector: unknown scheduling strategy %q (smart or sweep)", opt.Strategy)
		}
	}
	return c, nil
}

// Ready reports whether the state is restored and the connector is walking.
func (c *Connector) Ready() bool { return c.ready.Load() }

// Index returns the in-memory state (nil before the restore).
func (c *Connector) Index() *state.Index { return c.idx.Load() }

// Publisher returns the transactional publisher (for health checks and stats).
func (c *Connector) Publisher() *publish.Publisher { return c.pub }

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed). It
// reports false when the scheduler takes no hints (the sweep).
func (c *Connector) Hint(id int64) bool {
	if h, ok := c.opt.Scheduler.(interface{ Hint(int64) }); ok {
		h.Hint(id)
		return true
	}
	return false
}

// Walks returns how many conversation walks have been diffed.
func (c *Connector) Walks() int64 { return c.walks.Load() }

// Ignored returns how many messages were skipped for an unknown sender_type, over all walks.
func (c *Connector) Ignored() int64 { return c.ignored.Load() }

func (c *Connector) knownIDs() []int64 {
	if idx := c.idx.Load(); idx != nil {
		return idx.IDs()
	}
	return nil
}

// Run ensures the topics, fences earlier instances, restores the state and walks until ctx
// ends. It returns nil on cancellation, and an error for conditions that need an operator:
// a rejected API key, a fenced producer, a misconfigured topic.
func (c *Connector) Run(ctx context.Context) error {
	defer c.pub.Close()
	admCl, err := kgo.NewClient(c.opt.Kafka...)
	if err != nil {
		return err
	}
	err = state.EnsureTopics(ctx, kadm.NewClient(admCl), c.opt.Topics)
	admCl.Close()
	if err != nil {
		return err
	}
	if err := c.pub.Init(ctx); err != nil {
		return err
	}
	idx, stats, err := state.Restore(ctx, c.opt.Kafka, c.opt.Topics.State, c.stateCodec)
	if err != nil {
		return err
	}
	c.idx.Store(idx)
	c.opt.Metrics.Restored(stats.Duration)
	c.log.Info("state restored", "conversations", stats.Conversations, "messages", stats.Messages,
		"records", stats.Records, "bytes", stats.Bytes, "duration", stats.Duration.Round(time.Millisecond))
	c.setReady(true)
	defer c.setReady(false)

	for {
		id, err := c.opt.Scheduler.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if partoo.IsAuth(err) {
				return err
			}
			c.log.Warn("scheduling failed; retrying", "err", err)
			if c.opt.Clock.Sleep(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		if err := c.Walk(ctx, id); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (c *Connector) setReady(v bool) {
	c.ready.Store(v)
	c.opt.Metrics.SetReady(v)
}

// Walk walks one conversation, diffs it and publishes the result. It returns an error only
// for conditions that must stop the connector; others are logged and the conversation will
// be walked again.
func (c *Connector) Walk(ctx context.Context, id int64) error {
	idx := c.idx.Load()
	started := c.opt.Clock.Now()
	msgs, werr := c.opt.Partoo.Messages(ctx, id)
	complete := werr == nil
	walked := c.opt.Clock.Now().Sub(started)
	switch {
	case werr == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(werr, partoo.ErrUnauthorized):
		return werr
	case errors.Is(werr, partoo.ErrNotFound), errors.Is(werr, partoo.ErrForbidden):
		// Gone or no longer visible to this key: never a reason to report mass deletions.
		c.opt.Metrics.Walked("skipped", walked, 0)
		c.log.Warn("conversation not readable; skipped", "conversation_id", id, "err", werr)
		return nil
	default:
		c.log.Warn("walk incomplete; diffing what was read (no deletions)", "conversation_id", id, "messages", len(msgs), "err", werr)
	}
	prev := idx.Get(id)
	res := diff.Diff(prev, id, msgs, complete, c.opt.Clock.Now(), diff.Options{VanishAfter: c.opt.VanishAfter})
	c.ignored.Add(int64(res.Ignored))
	result := "complete"
	if !complete {
		result = "partial"
	}
	c.opt.Metrics.Walked(result, walked, res.Ignored)
	c.lastWalkMu.Lock()
	previousWalk := c.lastWalk[id]
	c.lastWalk[id] = started
	c.lastWalkMu.Unlock()
	if !res.Changed {
		c.walks.Add(1)
		c.walked(id, prev, false)
		return nil
	}
	ch := publish.Change{ConversationID: id, Events: make([]events.Encoded, 0, len(res.Events))}
	for _, e := range res.Events {
		enc, err := c.codec.Encode(e)
		if err != nil {
			return fmt.Errorf("encode event of conversation %d: %w", id, err)
		}
		ch.Events = append(ch.Events, enc)
	}
	sv, err := c.stateCodec.Encode(res.Next)
	if err != nil {
		return fmt.Errorf("encode state of conversation %d: %w", id, err)
	}
	ch.State = sv
	if err := c.pub.Publish(ctx, []publish.Change{ch}); err != nil {
		c.opt.Metrics.Aborted()
		if errors.Is(err, publish.ErrFenced) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("transaction aborted; the conversation will be walked again", "conversation_id", id, "err", err)
		return nil
	}
	idx.Put(res.Next) // only after the commit
	c.walks.Add(1)
	c.walked(id, res.Next, len(res.Events) > 0)
	c.recordCommit(res.Events, previousWalk)
	if c.opt.OnCommit != nil && len(res.Events) > 0 {
		c.opt.OnCommit(res.Events)
	}
	return nil
}

// WalkObserver is implemented by schedulers that learn from walks (schedule.Scheduler).
type WalkObserver interface {
	Walked(id int64, st *diff.State, changed bool)
}

func (c *Connector) walked(id int64, st *diff.State, changed bool) {
	if w, ok := c.opt.Scheduler.(WalkObserver); ok {
		w.Walked(id, st, changed)
	}
}

// recordCommit feeds the metrics: events by type and their detection lag.
func (c *Connector) recordCommit(evs []diff.Event, previousWalk time.Time) {
	if c.opt.Metrics == nil {
		return
	}
	now := c.opt.Clock.Now()
	types := make([]string, len(evs))
	lags := make([]time.Duration, len(evs))
	for i, e := range evs {
		types[i] = e.Type.String()
		lags[i] = -1
		switch {
		case e.Type == diff.MessageCreated && !e.Snapshot:
			lags[i] = max(now.Sub(e.Date), 0)
		case e.Type != diff.MessageCreated && !previousWalk.IsZero():
			from := previousWalk
			if e.Date.After(from) {
				from = e.Date
			}
			lags[i] = max(now.Sub(from), 0)
		}
	}
	c.opt.Metrics.Committed(types, lags)
}
