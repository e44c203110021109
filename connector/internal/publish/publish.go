// Package publish writes a batch of conversations' events and their new state records in
// ONE Kafka transaction: either all of it becomes visible to read_committed readers, or none.
//
// Every Kafka operation is bounded: the acknowledgements of a transaction's records
// (ProduceTimeout), its commit and its abort (EndTimeout). When one fails or times out, the
// transaction is aborted — by the broker if not by us — and Publish returns an error; the
// caller redoes the work in a later transaction. After a failure the producer is rebuilt
// (a new producer epoch) before the next transaction, so a stalled or restarted broker never
// leaves it in a state it cannot leave.
//
// A failed transaction is settled before the next one begins: the broker's coordinator can end
// a transaction while skipping some partitions' markers (a broker fenced by its controller
// after a stall), and records left open that way would be committed by this producer's next
// commit. After any transaction that failed once records were sent, the Publisher looks for an
// open transaction of its producer id on both topics and writes the missing marker itself, with
// the outcome the coordinator recorded (hanging.go).
//
// Fencing is told apart from timeouts: the broker bumps the producer epoch both when another
// process registers the same transactional id and when it aborts a transaction that outlived
// TransactionTimeout. A fence-like error in a transaction younger than 90 % of the timeout can
// only come from another process: Publish returns ErrFenced and the caller must stop. An older
// one is the broker's timeout abort: Publish returns ErrTransactionTimedOut and recovers.
//
// A forgotten producer id is not a fence either: the broker removes a transactional id unused
// for transactional.id.expiration.ms (7 days by default), so an organisation idle that long
// meets INVALID_PRODUCER_ID_MAPPING (or TRANSACTIONAL_ID_NOT_FOUND) at its next transaction.
// Publish returns ErrProducerIDExpired; before the producer registers the transactional id
// again, the Publisher confirms that no other producer holds it (confirmOwnership), since
// InitProducerID would fence whoever does.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
)

// Sentinels matched with errors.Is.
var (
	// ErrFenced: another process registered the same transactional id while this one's
	// transaction was young; this one must stop. Returned by Publish and Init.
	ErrFenced = errors.New("fenced: another connector instance with the same KAFKA_TRANSACTIONAL_ID took over; this organisation stops and starts again after a pause")
	// ErrTransactionTimedOut: the broker aborted a transaction that outlived the transaction
	// timeout (a stall). Nothing of it is visible; the producer is rebuilt before the next
	// transaction. Returned by Publish.
	ErrTransactionTimedOut = errors.New("the broker aborted the transaction after KAFKA_TRANSACTION_TIMEOUT (a stall); the producer is re-initialised")
	// ErrProducerIDExpired: the broker no longer maps this producer id to the transactional
	// id — it forgot an id left unused for transactional.id.expiration.ms — so nothing of the
	// transaction is visible. Before the next transaction the Publisher confirms that no other
	// producer holds the id (or returns ErrFenced) and registers it again; the caller re-reads
	// its state to the committed end and redoes its walks. Returned by Publish.
	ErrProducerIDExpired = errors.New("Kafka forgot this connector's producer id (the transactional id was unused for transactional.id.expiration.ms); it is registered again once no other producer is seen to hold it")
	// ErrNotAuthorized: the Kafka user may not use the transactional id (ACL Write on
	// TransactionalId). Returned by Init and Publish; the caller must stop.
	ErrNotAuthorized = errors.New("the Kafka user is not authorized for this transactional id (needs Describe and Write on TransactionalId)")
	// ErrUnknownTopic: the broker does not know a topic the transaction wrote to (deleted, or
	// the cluster came back empty). Returned by Publish.
	ErrUnknownTopic = errors.New("a topic of the transaction does not exist")
	// ErrTimeout: Kafka did not acknowledge the records, or answer the commit or abort, in
	// time. Returned by Publish.
	ErrTimeout = errors.New("Kafka did not answer in time")
	// ErrCommitUncertain: the commit was sent but not clearly refused (no answer in time, a
	// broken connection, a coordinator error such as NOT_COORDINATOR: see commitUnconfirmed):
	// the transaction may have committed after all. The caller must re-read what
	// it wrote (the state topic) before it trusts its memory again; the producer is rebuilt
	// first, which makes the broker settle the transaction one way or the other. Returned by
	// Publish, with the cause.
	ErrCommitUncertain = errors.New("the commit's outcome is unknown (it was sent, and not clearly refused)")
)

// Defaults of Config, defined here once: the connector's options, the state topic and the
// environment (KAFKA_TRANSACTION_TIMEOUT) read them.
const (
	// DefaultTransactionTimeout is the producer's transaction.timeout.ms: 60 s.
	DefaultTransactionTimeout = time.Minute
	// DefaultStateMaxBytes bounds a state record, and is the state topic's max.message.bytes:
	// 16 MiB (a conversation of 1,000,000 messages takes about 10 MB).
	DefaultStateMaxBytes = 16 << 20
)

// Config configures a Publisher.
type Config struct {
	// Base are the producer's connection options (seed brokers, TLS, SASL), with its client id
	// and compression (cluster.Cluster's ProducerOpts).
	Base []kgo.Opt
	// Admin answers the admin requests of settling a failed transaction (hanging.go) and of
	// confirmOwnership: the process's admin client. nil: the Publisher makes a client of its
	// own from Base.
	Admin *kadm.Client
	// TransactionalID identifies this connector to Kafka: a second process with the same id
	// fences the first. Required.
	TransactionalID string
	EventsTopic     string
	StateTopic      string
	// StateHeaders go on every state record: the owner header (state.Owner), by which a
	// connector tells its own state from another organisation's at restore.
	StateHeaders []events.Header
	// TransactionTimeout is how long the broker lets a transaction stay open before it aborts
	// it (transaction.timeout.ms). It must not exceed the broker's
	// transaction.max.timeout.ms (15 minutes by default). Default DefaultTransactionTimeout.
	TransactionTimeout time.Duration
	// ProduceTimeout bounds the wait for every record of a transaction to be acknowledged.
	// Default: half the transaction timeout, at most 30 s.
	ProduceTimeout time.Duration
	// EndTimeout bounds a commit or an abort. Default: the same as ProduceTimeout.
	EndTimeout time.Duration
	// StateMaxBytes bounds one state record (the state topic's max.message.bytes). Default
	// DefaultStateMaxBytes.
	StateMaxBytes int32
	// EventsMaxBytes returns the most a batch of event records may take: the events topic's
	// max.message.bytes (or the producer's limit if lower). It is read when a producer first
	// meets a partition of the events topic. Default: 1 MiB.
	EventsMaxBytes func() int32
	// Now is the clock transactions are aged with. Default time.Now.
	Now func() time.Time
	// Logger receives a WARN line for every hanging transaction the Publisher closes (see
	// hanging.go). Default: discard.
	Logger *slog.Logger
}

// Change is one conversation's contribution to a transaction.
type Change struct {
	ConversationID int64 // 0 for records of no one conversation (the conversations table's)
	Events         []events.Encoded
	// Records are the table topics' records that follow the events (written after them).
	Records []Record
	State   []byte // the new state record value; nil: none
}

// Record is a keyed record of a table topic; a nil Value is a tombstone.
type Record struct {
	Topic      string
	Key, Value []byte
	Headers    []events.Header
}

// Stats are cumulative counts.
type Stats struct {
	Committed int64
	Aborted   int64
	Records   int64
	Rebuilt   int64 // producers rebuilt after a failure
	// HangingClosed counts the partitions on which a failed transaction was still open after
	// the broker ended it, and the Publisher wrote the marker itself.
	HangingClosed int64
}

// Publisher owns the transactional producer. Publish calls must not overlap; Stats and
// OwnProducerIDs may be called from any goroutine.
type Publisher struct {
	cfg  Config
	opts []kgo.Opt

	mu      sync.Mutex // guards cl, admCl, rebuild and stats against Stats, Ping and Close
	cl      *kgo.Client
	admCl   *kgo.Client  // the Publisher's own client for admin requests, when Config.Admin is nil
	adm     *kadm.Client // Config.Admin, or over admCl
	rebuild bool         // the producer must be rebuilt before the next transaction
	// expired: the broker forgot the producer id; ownership is confirmed before the rebuild
	// registers the transactional id again (confirmOwnership).
	expired bool
	// last is the producer id and epoch of the last transaction begun: what confirmOwnership
	// compares the coordinator's answer with. Only the goroutine that calls Publish touches it.
	last producerEpoch
	// own are the producer ids this Publisher has written with (guarded by mu): a producer of
	// the state topic not among them is another writer (OwnProducerIDs).
	own   map[int64]bool
	stats Stats
	// unsettled is the last transaction that failed once records were sent: what it may have
	// left open on the partitions is closed before the next transaction begins. Only the
	// goroutine that calls Publish touches it.
	unsettled *failedTxn
}

// New validates cfg and returns a Publisher. It touches no network and starts nothing: Init
// creates the producer, Close stops it.
func New(cfg Config) (*Publisher, error) {
	if cfg.TransactionalID == "" || cfg.EventsTopic == "" || cfg.StateTopic == "" {
		return nil, errors.New("publish: transactional id, events topic and state topic are required")
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = min(cfg.TransactionTimeout/2, 30*time.Second)
	}
	if cfg.EndTimeout <= 0 {
		cfg.EndTimeout = cfg.ProduceTimeout
	}
	if cfg.StateMaxBytes <= 0 {
		cfg.StateMaxBytes = DefaultStateMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	stateTopic, stateMax, eventsMax := cfg.StateTopic, cfg.StateMaxBytes, cfg.EventsMaxBytes
	if eventsMax == nil {
		eventsMax = func() int32 { return 1 << 20 }
	}
	opts := append(append([]kgo.Opt{}, cfg.Base...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(cfg.ProduceTimeout),
		// Keyed records go where Java's default partitioner puts them: murmur2 of the key
		// bytes, so Kafka Streams and Flink can co-partition with our topics.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if topic == stateTopic {
				return stateMax
			}
			return eventsMax()
		}),
		kgo.ProducerLinger(0),
	)
	return &Publisher{cfg: cfg, opts: opts}, nil
}

// Init creates the producer and registers the transactional id with the broker: it fences any
// earlier process with the same id and aborts its open transaction, so the state topic's last
// stable offset is final. Call it before the first Publish. One attempt is bounded by
// EndTimeout; after a failure other than ErrNotAuthorized or a transaction timeout the broker
// refuses, it may be called again (the connector does so at start while Kafka is slow).
func (p *Publisher) Init(ctx context.Context) error {
	p.mu.Lock()
	cl := p.cl
	p.mu.Unlock()
	if cl == nil {
		var err error
		if cl, err = kgo.NewClient(p.opts...); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		adm, admCl := p.cfg.Admin, (*kgo.Client)(nil)
		if adm == nil {
			if admCl, err = kgo.NewClient(p.cfg.Base...); err != nil {
				cl.Close()
				return fmt.Errorf("publish: %w", err)
			}
			adm = kadm.NewClient(admCl)
		}
		p.mu.Lock()
		p.cl, p.admCl, p.adm = cl, admCl, adm
		p.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.EndTimeout)
	defer cancel()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		err = fmt.Errorf("publish: init transactional id %q: %w", p.cfg.TransactionalID, err)
		switch {
		case errors.Is(err, kerr.InvalidTransactionTimeout):
			return fmt.Errorf("%w (KAFKA_TRANSACTION_TIMEOUT %s is above the broker's transaction.max.timeout.ms)", err, p.cfg.TransactionTimeout)
		case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
		}
		return err
	}
	return nil
}

func (p *Publisher) client() *kgo.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cl
}

func (p *Publisher) markRebuild() {
	p.mu.Lock()
	p.rebuild = true
	p.mu.Unlock()
}

// Reset makes the next Publish rebuild the producer, e.g. after the topics were recreated on
// a cluster that lost its data.
func (p *Publisher) Reset() { p.markRebuild() }

// producerEpoch is a producer id and its epoch.
type producerEpoch struct {
	id    int64
	epoch int16
}

// isFenceLike reports the errors the broker answers once our producer epoch is not the
// current one.
func isFenceLike(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// isExpiredLike reports the errors the broker answers once it no longer maps our producer id
// to the transactional id: the id expired while unused (or, if another producer registered the
// id since, a fence: confirmOwnership tells them apart before anything is registered again).
func isExpiredLike(err error) bool {
	return errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.TransactionalIDNotFound)
}

// classify maps a transaction's failure to the package's sentinels; see the package doc for
// how a fence is told from a timeout.
func (p *Publisher) classify(err error, started time.Time) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
	case isFenceLike(err):
		if age := p.cfg.Now().Sub(started); age < p.cfg.TransactionTimeout*9/10 {
			return fmt.Errorf("%w: %w", ErrFenced, err)
		}
		p.markRebuild()
		return fmt.Errorf("%w: %w", ErrTransactionTimedOut, err)
	case isExpiredLike(err):
		p.mu.Lock()
		p.rebuild, p.expired = true, true
		p.mu.Unlock()
		return fmt.Errorf("%w: %w", ErrProducerIDExpired, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("%w: %w", ErrUnknownTopic, err)
	}
	return err
}

// OwnProducerIDs returns the producer ids this Publisher has written with.
func (p *Publisher) OwnProducerIDs() map[int64]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int64]bool, len(p.own))
	for id := range p.own {
		out[id] = true
	}
	return out
}

// Stats returns cumulative counts.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close aborts any open transaction (bounded by EndTimeout) and closes the producer.
func (p *Publisher) Close() {
	p.mu.Lock()
	cl, broken, admCl := p.cl, p.rebuild, p.admCl
	p.mu.Unlock()
	if admCl != nil {
		go admCl.Close()
	}
	if cl == nil {
		return
	}
	if !broken {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.EndTimeout)
		_ = cl.AbortBufferedRecords(ctx)
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		cancel()
	}
	done := make(chan struct{})
	go func() { cl.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.EndTimeout):
	}
}
