package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/status"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// Connector is the running service. Create it with New and call Run once.
type Engine struct {
	opt    Options
	log    *slog.Logger
	health *health
	client *partoo.Client
	pub    *publish.Publisher
	sched  schedule.Scheduler
	step   *pipeline.Step
	// stateCodec decodes the state topic at restore; the step encodes with the same.
	stateCodec *state.Codec
	// owner names this connector's state records (the key's fingerprint, the organisation).
	owner state.Owner
	// events encodes the event records; registry, when set, gives it the schema ids at start.
	events   *events.Codec
	registry *registry.Registry
	// tables encodes the table topics' rows; convs is what the API said of each conversation
	// (the events' context, the conversations table's rows).
	tables      *tables.Codec
	convs       *tables.Conversations
	subjects    atomic.Pointer[map[string]uint32] // registered subject → schema id
	otherWriter atomic.Pointer[otherWriter]       // another producer of the state topic (writers.go)
	// life is the engine's one state value — its phase (starting, standby, restoring,
	// running, Kafka down, reloading, stopped) — changed only by events through next
	// (phase.go); Readiness and Status read it.
	life lifeCycle
	// signals tracks resnapshot requests from the signal topic.
	signals *signal.Tracker

	idx atomic.Pointer[state.Index]
	// lost is a topic the process's watch found missing, handed to the committer (topicLost);
	// missing one that the last answer missed (lost if the next misses it too).
	lost, missing atomic.Pointer[state.TopicMissingError]
	walks         atomic.Int64
	// eventsMax is the most one event record may take: the events topic's max.message.bytes,
	// capped by the producer's limit (read at start).
	eventsMax atomic.Int64
	// refreshMax: Kafka refused a record as too large; the events topic's limit is read again
	// before the next commit (beforeCommit).
	refreshMax atomic.Bool
	// member is the engine's membership of the process's Kafka layer while it writes.
	member atomic.Pointer[cluster.Member]
	// kc is the process's Kafka layer (Options.Cluster, or the engine's own: ownCluster);
	// adm its admin client.
	kc         *cluster.Cluster
	ownCluster bool
	adm        *kadm.Client
	writing    time.Time // when writing began: producers of the state topic since are this one's or another writer's
	watching   watching  // since when the scope is watched: the snapshot rule
}

// New validates opt and builds the connector. It starts the Kafka producer's goroutines but
// touches no network until Run, which closes it.
func New(opt Options) (*Engine, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	c := &Engine{opt: opt, log: opt.Logger.With("component", "connector"), owner: ownerOf(opt)}
	c.health = newHealth(opt.Clock, c.log, opt.Metrics)
	c.convs = tables.NewConversations(opt.OrganizationID, opt.Topics.ConversationsTable.Name != "", opt.Clock.Now)
	if err := c.newPartoo(); err != nil {
		return nil, err
	}
	c.newScheduler()
	c.signals = c.newSignals()
	if err := c.newKafka(); err != nil {
		return nil, err
	}
	c.idx.Store(state.NewIndex()) // replaced by the restore
	if err := c.newCodecs(); err != nil {
		c.Close()
		return nil, err
	}
	var err error
	c.step, err = pipeline.New(pipeline.Config{Partoo: c.client, Index: c.Index, Committer: c.pub, Scheduler: c.sched,
		State: c.stateCodec, Events: c.events, Clock: opt.Clock, Hooks: []pipeline.Hook{stepHooks{c}}, Diff: opt.Diff,
		Published: c.published, Resnapshot: c.signals.Pending, Fill: c.signals.PendingFill, EventMaxBytes: c.eventMaxBytes,
		Context: c.convs.Context, Watch: c.watchFor, Organization: opt.OrganizationID, OrganizationName: opt.Organization,
		Tables: &pipeline.Tables{Codec: c.tables, MessagesTopic: opt.Topics.MessagesTable.Name,
			ConversationsTopic: opt.Topics.ConversationsTable.Name, Conversations: c.convs,
			Organization: opt.OrganizationID, ConsumerContact: opt.ConsumerContact}})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// newPartoo builds the Partoo client (unless Options.PartooClient is set): the metrics and
// the health watch hear it; the conversations it decodes feed the events' context.
func (c *Engine) newPartoo() error {
	if c.client = c.opt.PartooClient; c.client != nil {
		return nil
	}
	pc := c.opt.Partoo
	pc.Hooks = append(append([]partoo.Hook(nil), pc.Hooks...), c.opt.Metrics, c.health)
	pc.Conversations = c.convs // the events' context: a dependency, not a hook
	if pc.Logger == nil {
		pc.Logger = c.opt.Logger.With("component", "partoo")
	}
	if pc.Clock == nil {
		pc.Clock = c.opt.Clock
	}
	client, err := partoo.New(pc)
	c.client = client
	return err
}

// newScheduler builds the scheduler: a sweep of a fixed list, or the smart one.
func (c *Engine) newScheduler() {
	opt := c.opt
	if opt.Scheduler == SchedulerSweep || len(opt.ConversationIDs) > 0 {
		// A fixed list has nothing to discover: walk it in turn.
		c.sched = schedule.NewSweep(schedule.SweepConfig{Partoo: c.client, ConversationIDs: opt.ConversationIDs,
			BusinessIDs: opt.BusinessIDs, Clock: opt.Clock, Known: c.knownIDs, Log: c.health.rlog})
		return
	}
	sc := opt.Schedule
	sc.Partoo, sc.Clock, sc.Known, sc.BusinessIDs, sc.Log = c.client, opt.Clock, c.knownIDs, opt.BusinessIDs, c.health.rlog
	sc.State = func(id int64) *diff.State { return c.Index().Get(id) }
	smart := schedule.NewSmart(sc)
	reconcile, hints := smart.Shares()
	opt.Metrics.Shares(reconcile, hints)
	c.sched = smart
}

// newKafka joins the process's Kafka layer (or builds the engine's own) and builds the
// transactional producer, named by the organisation's client id.
func (c *Engine) newKafka() error {
	opt := c.opt
	var err error
	if c.kc = opt.Cluster; c.kc == nil {
		if c.kc, err = cluster.New(cluster.Config{Kafka: opt.Kafka, Logger: opt.Logger, PresenceGroup: lease.PresenceGroup(opt.TransactionalID),
			PresenceTopic: opt.Lease.Topic, ReplicationFactor: opt.Topics.ReplicationFactor}); err != nil {
			return err
		}
		c.ownCluster = true
	}
	c.adm = c.kc.Admin()
	c.pub, err = publish.New(publish.Config{
		Base: c.kc.ProducerOpts(opt.Organization, opt.TransactionalID), Admin: c.adm, TransactionalID: opt.TransactionalID,
		EventsTopic: opt.Topics.Events, StateTopic: opt.Topics.State, StateHeaders: c.owner.Header(),
		StateMaxBytes: int32(opt.Topics.StateMaxMessageBytes), TransactionTimeout: opt.TransactionTimeout,
		EventsMaxBytes: func() int32 { return int32(c.eventMaxBytes()) },
		Logger:         opt.Logger.With("component", "publish"),
	})
	if err != nil {
		c.closeCluster()
	}
	return err
}

// newCodecs builds the state, event and table codecs and the schema registry's client.
func (c *Engine) newCodecs() error {
	var err error
	if c.stateCodec, err = state.NewCodec(); err != nil {
		return err
	}
	if c.events, err = events.NewCodec(); err != nil {
		return err
	}
	if c.opt.SchemaRegistry.URL != "" {
		if c.registry, err = registry.New(c.opt.SchemaRegistry); err != nil {
			return err
		}
	}
	c.tables, err = tables.NewCodec()
	return err
}

// Run checks the API key, registers the event schemas (with a schema registry), ensures the
// topics, waits for the lease (with leader election), fences earlier instances, restores the
// state and walks until ctx ends. It returns nil on cancellation, and an error for conditions
// that need an operator: a rejected API key, a refused schema, a fenced producer, a lost lease,
// a misconfigured, missing or corrupt topic. The goroutine that calls Run picks and walks the
// conversations; others watch health and the topics, and read the signal topic.
func (c *Engine) Run(ctx context.Context) error {
	defer c.Close()
	if c.ownCluster {
		c.kc.Start()
	}
	if err := c.checkAPI(ctx); err != nil {
		return err
	}
	if err := c.registerSchemas(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	began := time.Now()
	if err := c.startupStep(ctx, began, "creating or checking the topics", func(ctx context.Context) error {
		return state.EnsureTopics(ctx, c.adm, c.opt.Topics)
	}); err != nil || ctx.Err() != nil {
		return err
	}
	c.readEventsMaxBytes(ctx)
	if err := c.startupStep(ctx, began, "creating the signal topic", func(ctx context.Context) error {
		return signal.EnsureTopic(ctx, c.adm, signal.Topic(c.opt.Topics.State), c.opt.Topics.ReplicationFactor)
	}); err != nil || ctx.Err() != nil {
		return err
	}
	if c.opt.Lease.Enabled {
		return c.writeWhileLeased(ctx)
	}
	return c.write(ctx)
}

// writeWhileLeased waits as a hot standby until this instance holds the lease, then writes
// until ctx ends (nil) or the lease is lost (lease.ErrLost).
func (c *Engine) writeWhileLeased(ctx context.Context) error {
	l, err := lease.Join(ctx, lease.Config{Kafka: c.opt.Kafka, Topic: c.opt.Lease.Topic, Group: c.opt.Lease.Group,
		SessionTimeout: c.opt.Lease.SessionTimeout, ReplicationFactor: c.opt.Topics.ReplicationFactor,
		Logger: c.log})
	if err != nil {
		return err
	}
	defer l.Close()
	c.on(event{kind: evStandby})
	c.opt.Metrics.SetLeader(false)
	c.log.Info("standby: waiting for the lease (another instance may be the writer)", "lease_topic", c.opt.Lease.Topic, "group", c.opt.Lease.Group)
	select {
	case <-l.Held():
	case <-ctx.Done():
		return nil
	}
	c.on(event{kind: evRestoring})
	c.opt.Metrics.SetLeader(true)
	hctx, stopped := l.Holder(ctx)
	defer stopped() // before Close: the next holder starts once this one stopped writing
	err = c.write(hctx)
	if err == nil && errors.Is(context.Cause(hctx), lease.ErrLost) {
		return lease.ErrLost
	}
	return err
}

// write initialises the transactional producer — which fences any earlier writer with the same
// id —, restores the state and walks until ctx ends.
func (c *Engine) write(ctx context.Context) error {
	c.writing = time.Now()
	c.on(event{kind: evRestoring})
	m := c.join()
	c.member.Store(m)
	defer func() { c.member.Store(nil); m.Leave() }()
	if err := c.startupStep(ctx, time.Now(), "registering the transactional id (InitProducerID)", c.pub.Init); err != nil || ctx.Err() != nil {
		return err
	}
	if err := c.restore(ctx); err != nil {
		return err
	}
	c.requestTableFill(ctx)
	c.on(event{kind: evRunning})
	defer c.on(event{kind: evStopped})
	wctx, stopWatch := context.WithCancel(ctx)
	signalsDone := make(chan struct{})
	go c.watch(wctx)
	go func() { defer close(signalsDone); c.signals.Serve(wctx, c.adm, c.signalReader(m)) }()
	defer func() { stopWatch(); <-signalsDone; c.health.flushSkips() }()

	runner, err := pipeline.NewRunner(pipeline.RunnerConfig{Step: c.step, Scheduler: c.sched, Budget: c.Budget(),
		Clock: c.opt.Clock, MaxInFlight: c.opt.MaxInFlight, BeforeCommit: c.beforeCommit, BeforePick: c.waitForKafka, Hooks: []pipeline.Hook{runnerMetrics{c.opt.Metrics}}})
	if err != nil {
		return err
	}
	if err := runner.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// beforeCommit runs on the committer's goroutine before each batch: the events topic's limit
// is read again after Kafka refused a record as too large, a lost topic is handled (stop, or
// recreate and re-snapshot), and after a commit whose outcome is unknown the state
// is re-read from Kafka before anything else commits.
func (c *Engine) beforeCommit(ctx context.Context) error {
	if c.refreshMax.Swap(false) {
		c.readEventsMaxBytes(ctx)
		c.pub.Reset()
	}
	if lost := c.lost.Swap(nil); lost != nil {
		if err := c.topicLost(ctx, lost); err != nil {
			return err
		}
	}
	for c.life.get().phase == PhaseReloading {
		err := c.reloadState(ctx)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, publish.ErrFenced), errors.Is(err, publish.ErrNotAuthorized):
			return err
		default:
			c.health.rlog.Error("kafka:reload", "cannot re-read the state after a failed transaction; trying again", "err", err)
			if clock.Sleep(ctx, c.opt.Clock, time.Second) != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// Readiness says why the connector is not ready (nil when it is): its phase says.
func (c *Engine) Readiness() error { return c.life.get().readiness() }

// Phase returns the engine's phase and since when.
func (c *Engine) Phase() (Phase, time.Time) {
	l := c.life.get()
	return l.Phase(), l.since
}

// on applies an event to the engine's life, and tells the metrics when readiness changed.
func (c *Engine) on(ev event) (before, after life) {
	before, after = c.life.on(ev)
	if (before.readiness() == nil) != (after.readiness() == nil) {
		c.opt.Metrics.SetReady(after.readiness() == nil)
	}
	return before, after
}

// Close releases an engine that will not Run (its producer); Run closes it itself.
func (c *Engine) Close() {
	c.pub.Close()
	c.closeCluster()
}

// closeCluster closes the engine's own Kafka layer (never the process's).
func (c *Engine) closeCluster() {
	if c.ownCluster {
		c.kc.Close()
	}
}

// KafkaStats returns the transactional producer's cumulative counts.
func (c *Engine) KafkaStats() publish.Stats { return c.pub.Stats() }

// Ping checks that Kafka answers.
func (c *Engine) Ping(ctx context.Context) error { return c.kc.Client().Ping(ctx) }

// Index returns the recorded state of every tracked conversation.
func (c *Engine) Index() *state.Index { return c.idx.Load() }

// Budget returns the Partoo request budget.
func (c *Engine) Budget() *budget.Budget { return c.client.Budget() }

// Walks returns how many conversation walks have been settled (read, and committed when they
// changed something) since the start.
func (c *Engine) Walks() int64 { return c.walks.Load() }

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed), and
// says what became of the request.
func (c *Engine) Hint(id int64) schedule.HintResult { return c.sched.Hint(id) }

// Covers reports whether the configuration may cover a conversation a webhook named, with its
// business id when the webhook carried one: outside PARTOO_BUSINESS_IDS, or with no business
// and never walked, it is not ours. A claimed business inside the filter is no proof: the
// scheduler asks Partoo the business of a conversation the state does not know before it
// walks it (schedule.Smart.Hint).
func (c *Engine) Covers(id int64, business string) bool {
	if len(c.opt.BusinessIDs) == 0 {
		return true
	}
	if business == "" {
		return c.Index().Get(id) != nil
	}
	for _, b := range c.opt.BusinessIDs {
		if b == business {
			return true
		}
	}
	return false
}

// Status reports whether the connector is ok or degraded, and why, with its progress.
func (c *Engine) Status() status.Report {
	convs, msgs := c.Index().Len()
	r := c.health.report((c.Readiness() == nil), c.sched.Status(), convs, msgs, c.Budget().RatePerMinute())
	if until := c.Budget().PausedUntil(); until.After(c.opt.Clock.Now()) {
		// Not failing: waiting, as Partoo's 429 asked.
		for i, why := range r.Reasons {
			if strings.HasPrefix(why, "every Partoo request has failed") {
				r.Reasons[i] = fmt.Sprintf("Partoo answered 429 and asked to wait until %s: no request is sent until then", until.UTC().Format(time.RFC3339))
			}
		}
	}
	l := c.life.get()
	switch {
	case l.phase == PhaseStandby:
	case l.down != nil:
		r.Reasons = append(r.Reasons, l.down.String())
	case l.writing() && (l.failing || l.phase == PhaseReloading):
		r.Reasons = append(r.Reasons, "Kafka transactions are failing (partoo_connector_transaction_failures_total says why; the log has each error)")
	}
	if o := c.otherWriter.Load(); o != nil && time.Since(o.at) < otherWriterMemory {
		r.Reasons = append(r.Reasons, o.String())
	}
	if len(r.Reasons) > 0 {
		r.Status = "degraded"
	}
	r.Phase = string(l.Phase())
	if !l.since.IsZero() {
		since := l.since
		r.PhaseSince = &since
	}
	c.clockStatus(&r)
	if c.opt.Lease.Enabled {
		r.Role = "active"
		if l.phase == PhaseStandby {
			r.Role = "standby"
		}
	}
	if c.registry != nil {
		r.SchemaRegistry = &status.Registry{URL: c.registry.URL()}
		if m := c.subjects.Load(); m != nil {
			r.SchemaRegistry.Subjects = *m
		}
	}
	return r
}

func (c *Engine) knownIDs() []int64 { return c.Index().IDs() }
