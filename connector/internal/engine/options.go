package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// Options configure a Connector. Zero values take the defaults in brackets; New validates them
// all and reports every problem at once.
type Options struct {
	// Organization names the organisation this engine serves: the organization label of its
	// metrics and the organization attribute of its logs (set by package service). "" for the
	// single-organisation run. Without an OrganizationID it also scopes the event ids
	// (diff.Options.OrganizationName), so that organisations never share one.
	Organization string

	// OrganizationID is the Partoo organisation id (org_id) this engine reads for, published
	// in every event and row and part of every event id; 0: not configured (the ids of a
	// single organisation stay what they always were).
	OrganizationID int64
	// ConsumerContact publishes the consumer's name and phone number (personal data) in the
	// conversations table [false].
	ConsumerContact bool

	// Partoo configures the API client (base URL, key, budget, timeouts). New adds the
	// connector's health watch and Metrics to its Observer. Required: a key.
	Partoo partoo.Config
	// PartooClient, when set, is used instead of a client built from Partoo: its requests and
	// failures are then not observed by the health watch (tests use it for special clients).
	PartooClient *partoo.Client
	// PartooStartupTimeout bounds how long Run waits at start for Partoo's API host to be
	// reachable (unknown host, connection refused, TLS failing) before it stops with an error
	// naming PARTOO_API_URL [2 min]. An answer that shows the URL is not Partoo's API (404, or a
	// body that is not JSON) stops it at once; a 5xx or 429 lets it go on.
	PartooStartupTimeout time.Duration

	// Kafka are the connection options (seed brokers, TLS, SASL) of every client. Required.
	Kafka []kgo.Opt
	// Cluster is the process's Kafka layer, shared by every organisation of the process
	// (package cluster): its admin client, liveness, topic and producer watches, signal reader,
	// presence member and compressor. nil: the engine builds its own from Kafka, started and
	// closed by Run.
	Cluster *cluster.Cluster
	// Topics names the events and state topics, the table topics ("": not written), and how
	// to create them. Required: the events and state names.
	Topics state.Topics
	// TransactionalID identifies the writer: a second process with the same id fences the
	// first. Required.
	TransactionalID string
	// TransactionTimeout is the producer's transaction.timeout.ms: how long the broker keeps
	// an open transaction of a stalled or dead connector before aborting it [60 s]. It must
	// not exceed the broker's transaction.max.timeout.ms (15 minutes by default).
	TransactionTimeout time.Duration
	// StartupTimeout bounds the Kafka steps of the start — creating or checking the topics and
	// registering the transactional id (InitProducerID) — while Kafka answers with retriable
	// errors or not at all, as a fresh or just restarted broker's transaction coordinator does
	// while it loads: they are retried with back-off (one log line a minute) and Run returns
	// the last error once it has passed [DefaultStartupTimeout]. Errors that need an operator
	// (authorization, a misconfigured topic, a transaction timeout the broker refuses) stop
	// the start at once.
	StartupTimeout time.Duration
	// OnMissingState says what to do when a topic disappears while running (deleted, or a
	// cluster that came back empty): OnMissingExit [default] stops with an error naming it;
	// OnMissingRecreate recreates the topics and re-snapshots every conversation.
	OnMissingState string
	// Lease, when Enabled, makes instances with the same transactional id elect one active
	// writer through a consumer group on a one-partition lease topic (package lease): the
	// others wait as hot standbys, ready, and take over when the holder dies or stops. Run
	// returns lease.ErrLost if this instance loses the lease while writing.
	Lease LeaseOptions
	// SchemaRegistry, when its URL is set, makes event values use the Confluent wire format:
	// the event schemas are registered at start (retried while the registry does not answer;
	// a refusal stops Run) and each record carries its schema's id. Without it values are Avro
	// single-object encoded. The state topic is single-object encoded either way.
	SchemaRegistry registry.Config
	// StateOnCorrupt says what to do with a state record that cannot be decoded at restore:
	// StateCorruptFail [default] stops with an error naming it; StateCorruptRewalk forgets
	// those conversations, whose next walk re-emits their messages as snapshots (same event
	// ids).
	StateOnCorrupt string
	// StateOwnerCheck says what to do with a state record written by another owner: another
	// API key or organisation id (state.Owner; every state record names its owner in a
	// header). StateOwnerFail [default] stops the start before anything is published, naming
	// the topic, partition and offset: another organisation's deployment shares the state
	// topic. StateOwnerAdopt restores them as this connector's and rewrites them under its
	// owner (a deliberate key rotation: set it for one start). Records that name no owner
	// (earlier releases) are this connector's either way.
	StateOwnerCheck string

	// ConversationIDs, when set, is the fixed list of conversations to walk in turn (the
	// Sweep); nothing is discovered.
	ConversationIDs []int64
	// BusinessIDs filter discovery (business__in, sent verbatim) and webhooks.
	BusinessIDs []string
	// Scheduler is SchedulerSmart [default] or SchedulerSweep.
	Scheduler string
	// Schedule tunes the smart scheduler; Partoo, Clock, State, Known, BusinessIDs and Log
	// are filled in by New.
	Schedule schedule.Config
	// Diff tunes the change detection (VanishAfterWalks [2]).
	Diff diff.Options
	// MaxInFlight caps the walks in flight [16]; below it the connector keeps as many as the
	// budget can use at the observed latency (pipeline.Runner).
	MaxInFlight int

	// Logger gets the connector's logs [none].
	Logger *slog.Logger
	// Metrics, if set, records API requests, walks, transactions, events and lags.
	Metrics *metrics.Metrics
	// LogSummaryInterval is how often one INFO line summarises the connector's progress (walks,
	// events, requests, budget use, errors, the pass's progress) [one minute]; negative:
	// never. Rate-limited failure logs are summarised at the same pace.
	LogSummaryInterval time.Duration
	// Clock is the time of walks, detected_at and the budget [the wall clock].
	Clock clock.Clock
}

// LeaseOptions configure leader election among instances.
type LeaseOptions struct {
	Enabled bool
	// Topic is the lease topic [<state topic>.lease]; Group the instances' consumer group
	// [<transactional id>.lease].
	Topic, Group string
	// SessionTimeout is how long a dead holder keeps the lease [6 s].
	SessionTimeout time.Duration
}

// Values of Options.Scheduler, Options.OnMissingState, Options.StateOnCorrupt and
// Options.StateOwnerCheck.
const (
	SchedulerSmart     = "smart"
	SchedulerSweep     = "sweep"
	OnMissingExit      = "exit"
	OnMissingRecreate  = "recreate"
	StateCorruptFail   = "fail"
	StateCorruptRewalk = "rewalk"
	StateOwnerFail     = "fail"
	StateOwnerAdopt    = "adopt"
)

// validate fills in the defaults and joins every problem into one error.
func (o *Options) validate() error {
	var errs []error
	if len(o.Kafka) == 0 {
		errs = append(errs, errors.New("connector: Kafka connection options are required"))
	}
	if o.TransactionalID == "" {
		errs = append(errs, errors.New("connector: a transactional id is required"))
	}
	if o.Topics.Events == "" || o.Topics.State == "" {
		errs = append(errs, errors.New("connector: events and state topics are required"))
	}
	oneOf := func(field string, v *string, def string, allowed ...string) {
		if *v == "" {
			*v = def
			return
		}
		for _, a := range allowed {
			if *v == a {
				return
			}
		}
		errs = append(errs, fmt.Errorf("connector: %s %q is not one of %v", field, *v, allowed))
	}
	oneOf("Scheduler", &o.Scheduler, SchedulerSmart, SchedulerSmart, SchedulerSweep)
	oneOf("OnMissingState", &o.OnMissingState, OnMissingExit, OnMissingExit, OnMissingRecreate)
	oneOf("StateOnCorrupt", &o.StateOnCorrupt, StateCorruptFail, StateCorruptFail, StateCorruptRewalk)
	oneOf("StateOwnerCheck", &o.StateOwnerCheck, StateOwnerFail, StateOwnerFail, StateOwnerAdopt)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PartooStartupTimeout <= 0 {
		o.PartooStartupTimeout = 2 * time.Minute
	}
	if o.StartupTimeout <= 0 {
		o.StartupTimeout = DefaultStartupTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.LogSummaryInterval == 0 {
		o.LogSummaryInterval = time.Minute
	}
	if o.Lease.Topic == "" {
		o.Lease.Topic = lease.DefaultTopic(o.Topics.State)
	}
	if o.Lease.Group == "" {
		o.Lease.Group = lease.DefaultGroup(o.TransactionalID)
	}
	if o.Topics.StateMaxMessageBytes == 0 {
		o.Topics.StateMaxMessageBytes = state.DefaultStateMaxMessageBytes
	}
	return errors.Join(errs...)
}
