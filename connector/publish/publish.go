// Package publish writes a batch of conversations' events and their new state records in
// ONE Kafka transaction: either all of it becomes visible to read_committed readers, or none.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/events"
)

// ErrFenced: another process started with the same transactional.id; this one must stop.
var ErrFenced = errors.New("fenced: another connector instance with the same KAFKA_TRANSACTIONAL_ID took over; this instance stops")

// Config configures a Publisher.
type Config struct {
	// Base are the connection options (seed brokers, TLS, SASL).
	Base []kgo.Opt
	// TransactionalID identifies this connector to Kafka: a second process with the same id
	// fences the first. Required.
	TransactionalID string
	EventsTopic     string
	StateTopic      string
	// TransactionTimeout is how long the broker waits before aborting an open transaction of a
	// dead process. Default 60 s.
	TransactionTimeout time.Duration
	// StateMaxBytes bounds one state record (the state topic's max.message.bytes). Default 16 MiB.
	StateMaxBytes int32
}

// Change is one conversation's contribution to a transaction.
type Change struct {
	ConversationID int64
	Events         []events.Encoded
	State          []byte // the new state record value
}

// Stats are cumulative counts.
type Stats struct {
	Committed int64
	Aborted   int64
	Records   int64
}

// Publisher owns the transactional producer. Publish calls must not overlap.
type Publisher struct {
	cfg Config
	cl  *kgo.Client

	mu    sync.Mutex
	stats Stats
}

// New returns a Publisher; call Init before the first Publish.
func New(cfg Config) (*Publisher, error) {
	if cfg.TransactionalID == "" || cfg.EventsTopic == "" || cfg.StateTopic == "" {
		return nil, errors.New("publish: transactional id, events topic and state topic are required")
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = time.Minute
	}
	if cfg.StateMaxBytes <= 0 {
		cfg.StateMaxBytes = 16 << 20
	}
	stateTopic, stateMax := cfg.StateTopic, cfg.StateMaxBytes
	opts := append(append([]kgo.Opt{}, cfg.Base...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Keyed records go where Java's default partitioner puts them: murmur2 of the key
		// bytes, so Kafka Streams and Flink can co-partition with our topics.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 {
			if topic == stateTopic {
				return stateMax
			}
			return 1 << 20
		}),
		kgo.ProducerBatchCompression(kgo.ZstdCompression(), kgo.NoCompression()),
		kgo.ProducerLinger(0),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return &Publisher{cfg: cfg, cl: cl}, nil
}

// Init registers the transactional id with the broker: it fences any earlier process with the
// same id and aborts its open transaction, so the state topic's last stable offset is final.
func (p *Publisher) Init(ctx context.Context) error {
	if _, _, err := p.cl.ProducerID(ctx); err != nil {
		return classify(fmt.Errorf("publish: init transactional id %q: %w", p.cfg.TransactionalID, err))
	}
	return nil
}

// Publish writes every change in one transaction and commits it. On any error the
// transaction is aborted and nothing is visible; the caller must then not update its memory.
// An error matching ErrFenced means this process must stop.
func (p *Publisher) Publish(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	if err := p.cl.BeginTransaction(); err != nil {
		return classify(fmt.Errorf("publish: begin transaction: %w", err))
	}
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		prodErr error
		n       int64
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			errMu.Lock()
			if prodErr == nil {
				prodErr = err
			}
			errMu.Unlock()
		}
		wg.Done()
	}
	for _, ch := range changes {
		for _, e := range ch.Events {
			r := &kgo.Record{Topic: p.cfg.EventsTopic, Key: e.Key, Value: e.Value, Headers: make([]kgo.RecordHeader, len(e.Headers))}
			for i, h := range e.Headers {
				r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
			}
			wg.Add(1)
			n++
			p.cl.Produce(ctx, r, done)
		}
		if ch.State != nil {
			if len(ch.State) > int(p.cfg.StateMaxBytes) {
				wg.Wait()
				return p.abort(fmt.Errorf("publish: state of conversation %d is %d bytes, over the state topic's %d", ch.ConversationID, len(ch.State), p.cfg.StateMaxBytes))
			}
			wg.Add(1)
			n++
			p.cl.Produce(ctx, &kgo.Record{Topic: p.cfg.StateTopic, Key: events.Key(ch.ConversationID), Value: ch.State}, done)
		}
	}
	wg.Wait()
	if prodErr != nil {
		return p.abort(fmt.Errorf("publish: produce: %w", prodErr))
	}
	// Ending a transaction must not be cut short by the caller's cancellation: an unknown
	// outcome is worse than a few more seconds.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := p.cl.EndTransaction(ectx, kgo.TryCommit); err != nil {
		return p.abort(fmt.Errorf("publish: commit: %w", err))
	}
	p.mu.Lock()
	p.stats.Committed++
	p.stats.Records += n
	p.mu.Unlock()
	return nil
}

func (p *Publisher) abort(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.mu.Lock()
	p.stats.Aborted++
	p.mu.Unlock()
	if err := p.cl.AbortBufferedRecords(ctx); err != nil {
		return classify(errors.Join(cause, fmt.Errorf("abort buffered records: %w", err)))
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return classify(errors.Join(cause, fmt.Errorf("abort: %w", err)))
	}
	return classify(cause)
}

// Stats returns cumulative counts.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Ping checks that the cluster answers.
func (p *Publisher) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Close aborts any open transaction and closes the producer.
func (p *Publisher) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.cl.AbortBufferedRecords(ctx)
	_ = p.cl.EndTransaction(ctx, kgo.TryAbort)
	p.cl.Close()
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
