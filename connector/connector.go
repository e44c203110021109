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
	// Partoo is the API client; when nil, New builds one from PartooConfig, adding the
	// connector's health watch to its Observer (failures logged, counted, in /status).
	Partoo          *partoo.Client
	PartooConfig    partoo.Config
	Kafka           []kgo.Opt    // connection options (seed brokers, TLS, SASL); required
	Topics          state.Topics // names and creation settings
	TransactionalID string       // required
	// TransactionTimeout is the producer's transaction.timeout.ms: how long the broker keeps
	// an open transaction of a stalled or dead connector before aborting it. Default 60 s.
	TransactionTimeout time.Duration
	// OnMissingTopic says what to do when a topic disappears while running (deleted, or a
	// cluster that came back empty): OnMissingExit (default) stops with an error naming it;
	// OnMissingRecreate recreates the topics and re-snapshots every conversation.
	OnMissingTopic string
	// StateOnCorrupt says what to do with a state record that cannot be decoded at restore:
	// StateCorruptFail (default) stops with an error naming it; StateCorruptRewalk forgets
	// those conversations, whose next walk re-emits their messages as snapshots (same
	// event ids).
	StateOnCorrupt  string
	ConversationIDs []int64  // a fixed list to walk instead of discovering via /conversations
	BusinessIDs     []string // business__in filter for discovery (opaque ids, sent verbatim)
	VanishAfter     int      // complete walks a message must be absent from; default 2
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
	// SummaryInterval is how often one INFO line summarises the connector's progress (walks,
	// events, requests, budget use, errors, the pass's progress). 0: the default, one
	// minute; negative: never. Rate-limited failure logs are summarised at the same pace.
	SummaryInterval time.Duration
}

// Values of Options.OnMissingTopic and Options.StateOnCorrupt.
const (
	OnMissingExit      = "exit"
	OnMissingRecreate  = "recreate"
	StateCorruptFail   = "fail"
	StateCorruptRewalk = "rewalk"
)

// Connector is the running service. Create it with New and call Run once.
type Connector struct {
	opt        Options
	log        *slog.Logger
	health     *health
	codec      *events.Codec
	stateCodec *state.Codec
	pub        *publish.Publisher
	idx        atomic.Pointer[state.Index]
	ready      atomic.Bool // the state is restored
	kafkaOK    atomic.Bool // the last transaction committed (or Kafka answered since a failure)
	lost       atomic.Pointer[state.TopicMissingError]
	reload     atomic.Bool  // a commit's outcome is unknown: re-read the state before going on
	adm        *kadm.Client // during Run
	ignored    atomic.Int64
	walks      atomic.Int64

	lastWalkMu sync.Mutex
	lastWalk   map[int64]time.Time // start of the last walk of each conversation (for lags)
}

// New validates opt and builds the connector; it does not touch the network.
func New(opt Options) (*Connector, error) {
	var errs []error
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
	if opt.SummaryInterval == 0 {
		opt.SummaryInterval = time.Minute
	}
	h := newHealth(opt.Clock, opt.Logger.With("component", "connector"), opt.Metrics)
	if opt.Partoo == nil {
		pc := opt.PartooConfig
		pc.Observer = partoo.Observers(pc.Observer, h)
		if pc.Logger == nil {
			pc.Logger = opt.Logger.With("component", "partoo")
		}
		client, err := partoo.New(pc)
		if err != nil {
			return nil, err
		}
		opt.Partoo = client
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
	switch opt.OnMissingTopic {
	case "":
		opt.OnMissingTopic = OnMissingExit
	case OnMissingExit, OnMissingRecreate:
	default:
		return nil, fmt.Errorf("connector: OnMissingTopic %q is neither %s nor %s", opt.OnMissingTopic, OnMissingExit, OnMissingRecreate)
	}
	switch opt.StateOnCorrupt {
	case "":
		opt.StateOnCorrupt = StateCorruptFail
	case StateCorruptFail, StateCorruptRewalk:
	default:
		return nil, fmt.Errorf("connector: StateOnCorrupt %q is neither %s nor %s", opt.StateOnCorrupt, StateCorruptFail, StateCorruptRewalk)
	}
	pub, err := publish.New(publish.Config{
		Base: opt.Kafka, TransactionalID: opt.TransactionalID,
		EventsTopic: opt.Topics.Events, StateTopic: opt.Topics.State,
		StateMaxBytes: int32(opt.Topics.StateMaxMessageBytes), TransactionTimeout: opt.TransactionTimeout,
	})
	if err != nil {
		return nil, err
	}
	c := &Connector{opt: opt, log: opt.Logger.With("component", "connector"), health: h, codec: codec, stateCodec: sc, pub: pub,
		lastWalk: map[int64]time.Time{}}
	if c.opt.Scheduler == nil {
		switch {
		case opt.Strategy == "sweep" || len(opt.ConversationIDs) > 0:
			// A fixed list has nothing to discover: walk it in turn.
			c.opt.Scheduler = &SweepScheduler{Partoo: opt.Partoo, ConversationIDs: opt.ConversationIDs, BusinessIDs: opt.BusinessIDs,
				Interval: opt.SweepInterval, Clock: opt.Clock, Known: c.knownIDs, Log: h.rlog}
		case opt.Strategy == "" || opt.Strategy == "smart":
			sc := opt.Schedule
			sc.Partoo, sc.Clock, sc.Known, sc.BusinessIDs, sc.Log = opt.Partoo, opt.Clock, c.knownIDs, opt.BusinessIDs, h.rlog
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

// Ready reports whether the state is restored, the connector is walking and its last Kafka
// transaction committed (or Kafka answered since a failure).
func (c *Connector) Ready() bool { return c.ready.Load() && c.kafkaOK.Load() }

// Index returns the in-memory state (nil before the restore).
func (c *Connector) Index() *state.Index { return c.idx.Load() }

// Publisher returns the transactional publisher (for health checks and stats).
func (c *Connector) Publisher() *publish.Publisher { return c.pub }

// Budget returns the Partoo request budget.
func (c *Connector) Budget() *partoo.Budget { return c.opt.Partoo.Budget() }

// Status reports whether the connector is ok or degraded, and why, with its progress.
func (c *Connector) Status() StatusReport {
	var sched schedule.Status
	if r, ok := c.opt.Scheduler.(interface{ Status() schedule.Status }); ok {
		sched = r.Status()
	}
	var convs, msgs int
	if idx := c.idx.Load(); idx != nil {
		convs, msgs = idx.Len()
	}
	return c.health.report(c.Ready(), sched, convs, msgs, c.Budget().RatePerMinute())
}

// watch keeps the degraded gauge current, logs status changes at once, checks that the topics
// still exist, and every SummaryInterval logs the progress line and flushes the rate-limited
// failure log.
func (c *Connector) watch(ctx context.Context) {
	const tick = 5 * time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	lastSummary := time.Now()
	degraded := false
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Topics are checked every 10 s, and every tick while Kafka is failing: a lost topic is
		// named within seconds, not waited on.
		if n%2 == 0 || !c.kafkaOK.Load() {
			c.checkTopics(ctx)
		}
		r := c.Status()
		if d := r.Status != "ok"; d != degraded {
			degraded = d
			c.opt.Metrics.SetDegraded(d)
			if d {
				c.log.Error("status degraded", "reasons", r.Reasons)
			} else {
				c.log.Info("status ok again")
			}
		}
		every := c.opt.SummaryInterval
		if every < 0 {
			every = time.Minute // no summary line, but failure logs are still summarised
		}
		if time.Since(lastSummary) >= every-tick/2 {
			lastSummary = time.Now()
			if c.opt.SummaryInterval > 0 {
				c.health.summarize(r, c.Budget().Stats().Granted)
			} else {
				c.health.rlog.Flush()
			}
		}
	}
}

// HintIgnored: the scheduler takes no hints (the sweep, or a fixed list of conversations).
const HintIgnored schedule.HintResult = "ignored"

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed), and
// says what became of the request.
func (c *Connector) Hint(id int64) schedule.HintResult {
	if h, ok := c.opt.Scheduler.(interface {
		Hint(int64) schedule.HintResult
	}); ok {
		return h.Hint(id)
	}
	return HintIgnored
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

// Run checks the API key, ensures the topics, fences earlier instances, restores the state and
// walks until ctx ends. It returns nil on cancellation, and an error for conditions that need
// an operator: a rejected API key, a fenced producer, a misconfigured, missing or corrupt
// topic.
func (c *Connector) Run(ctx context.Context) error {
	defer c.pub.Close()
	if err := c.checkAPIKey(ctx); err != nil {
		return err
	}
	admCl, err := kgo.NewClient(c.opt.Kafka...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	c.adm = kadm.NewClient(admCl)
	if err := state.EnsureTopics(ctx, c.adm, c.opt.Topics); err != nil {
		return err
	}
	if err := c.pub.Init(ctx); err != nil {
		return err
	}
	if err := c.restore(ctx); err != nil {
		return err
	}
	c.kafkaOK.Store(true)
	c.setReady(true)
	defer c.setReady(false)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go c.watch(wctx)

	for {
		if lost := c.lost.Swap(nil); lost != nil {
			if err := c.topicLost(ctx, lost); err != nil {
				return err
			}
		}
		if c.reload.Load() {
			if err := c.reloadState(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, publish.ErrFenced) || errors.Is(err, publish.ErrNotAuthorized) {
					return err
				}
				c.health.rlog.Error("kafka:reload", "cannot re-read the state after an uncertain commit; trying again", "err", err)
				if c.opt.Clock.Sleep(ctx, time.Second) != nil {
					return nil
				}
				continue
			}
		}
		id, err := c.opt.Scheduler.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if partoo.IsAuth(err) {
				return err
			}
			c.health.rlog.Warn("schedule:"+partoo.ErrorKind(err), "scheduling failed; retrying", "err", err)
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
	c.opt.Metrics.SetReady(c.Ready())
}

// Walk walks one conversation, diffs it and publishes the result. It returns an error only
// for conditions that must stop the connector; others are logged and the conversation will
// be walked again.
func (c *Connector) Walk(ctx context.Context, id int64) error {
	idx := c.idx.Load()
	started := c.opt.Clock.Now()
	w, werr := c.opt.Partoo.Messages(ctx, id)
	walked := c.opt.Clock.Now().Sub(started)
	cov := diff.Complete
	switch {
	case werr == nil && len(w.Skipped) > 0:
		cov = diff.AllPages // the skipped items were logged and counted by the health watch
	case werr == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(werr, partoo.ErrUnauthorized):
		return werr
	case errors.Is(werr, partoo.ErrNotFound), errors.Is(werr, partoo.ErrForbidden):
		// Gone or no longer visible to this key: never a reason to report mass deletions.
		c.opt.Metrics.Walked("skipped", walked, 0)
		c.health.walked("skipped", false)
		c.health.rlog.Warn("walk:"+partoo.ErrorKind(werr), "conversation not readable; skipped", "conversation_id", id, "err", werr)
		c.walked(id, idx.Get(id), schedule.Outcome{Gone: true})
		return nil
	default:
		cov = diff.Partial
		c.health.rlog.Warn("walk:"+partoo.ErrorKind(werr), "walk incomplete; publishing what was read (no deletions inferred) and walking it again later",
			"conversation_id", id, "pages", w.Pages, "messages", len(w.Messages), "error_kind", partoo.ErrorKind(werr), "err", werr)
	}
	prev := idx.Get(id)
	res := diff.Diff(prev, id, w.Messages, cov, c.opt.Clock.Now(), diff.Options{VanishAfter: c.opt.VanishAfter})
	c.ignored.Add(int64(res.Ignored))
	if res.Ignored > 0 {
		c.noteIgnored(id, w.Messages)
	}
	c.opt.Metrics.Walked(cov.String(), walked, res.Ignored)
	// A walk succeeds when it read every page and commits, unless nothing it read was usable.
	ok := werr == nil && !(len(w.Skipped) > 0 && len(w.Messages) == 0)
	outcome := schedule.Outcome{Failed: werr != nil}
	c.lastWalkMu.Lock()
	previousWalk := c.lastWalk[id]
	c.lastWalk[id] = started
	c.lastWalkMu.Unlock()
	if !res.Changed {
		c.walks.Add(1)
		c.health.walked(cov.String(), ok)
		c.walked(id, prev, outcome)
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
		c.opt.Metrics.Aborted(publishFailure(err))
		if errors.Is(err, publish.ErrFenced) || errors.Is(err, publish.ErrNotAuthorized) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.health.walked("failed", false)
		c.kafkaFailed(ctx, err)
		c.walked(id, prev, schedule.Outcome{Failed: true})
		return nil
	}
	c.kafkaCommitted()
	idx.Put(res.Next) // only after the commit
	c.walks.Add(1)
	outcome.Changed = len(res.Events) > 0
	c.health.walked(cov.String(), ok)
	c.walked(id, res.Next, outcome)
	c.recordCommit(res.Events, previousWalk)
	if c.opt.OnCommit != nil && len(res.Events) > 0 {
		c.opt.OnCommit(res.Events)
	}
	return nil
}

// noteIgnored says why a walk's messages were ignored: an unknown sender_type is logged once
// per value (Partoo advises ignoring such messages, but an API that stopped sending the field
// must not go unnoticed); a message of another conversation, once per minute.
func (c *Connector) noteIgnored(id int64, msgs []partoo.Message) {
	for _, m := range msgs {
		switch {
		case m.ConversationID != id:
			c.health.rlog.Warn("walk:foreign", "GET /messages returned a message of another conversation; ignored",
				"conversation_id", id, "message_id", m.ID, "its_conversation_id", m.ConversationID)
		case !m.SenderType.Known():
			c.health.once("sender_type:"+string(m.SenderType), "messages with an undocumented sender_type are ignored, as Partoo advises",
				"sender_type", string(m.SenderType), "example_message_id", m.ID, "conversation_id", id)
		}
	}
}

// WalkObserver is implemented by schedulers that learn from walks (schedule.Scheduler).
type WalkObserver interface {
	Walked(id int64, st *diff.State, o schedule.Outcome)
}

func (c *Connector) walked(id int64, st *diff.State, o schedule.Outcome) {
	if w, ok := c.opt.Scheduler.(WalkObserver); ok {
		w.Walked(id, st, o)
	}
}

// recordCommit feeds the metrics: events by type and their detection lag.
func (c *Connector) recordCommit(evs []diff.Event, previousWalk time.Time) {
	types := make([]string, len(evs))
	for i, e := range evs {
		types[i] = e.Type.String()
	}
	c.health.committed(types)
	if c.opt.Metrics == nil {
		return
	}
	now := c.opt.Clock.Now()
	lags := make([]time.Duration, len(evs))
	for i, e := range evs {
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
