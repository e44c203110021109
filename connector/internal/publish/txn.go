package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
)

// Publish writes every change in one transaction and commits it. On any error nothing is
// visible and the caller must not update its memory; errors match ErrFenced or
// ErrNotAuthorized (stop), or ErrTransactionTimedOut, ErrUnknownTopic, ErrTimeout or another
// Kafka error (the work can be redone later).
func (p *Publisher) Publish(ctx context.Context, changes []Change) (err error) {
	if len(changes) == 0 {
		return nil
	}
	if p.client() == nil {
		return errors.New("publish: not started (Init)")
	}
	if err := p.ensureProducer(ctx); err != nil {
		return err
	}
	t := &txn{p: p, cl: p.client()}
	// The producer id and epoch this transaction writes with, kept in case it fails.
	pid, epoch, err := t.producerID(ctx)
	if err != nil {
		return err
	}
	p.last = producerEpoch{id: pid, epoch: epoch}
	p.mu.Lock()
	if p.own == nil {
		p.own = map[int64]bool{}
	}
	p.own[pid] = true
	p.mu.Unlock()
	defer func() {
		if err != nil && t.sent {
			p.unsettled = &failedTxn{producerID: pid, epoch: epoch, uncertain: errors.Is(err, ErrCommitUncertain)}
		}
	}()
	t.started = p.cfg.Now()
	if err := t.cl.BeginTransaction(); err != nil {
		p.markRebuild()
		return p.classify(fmt.Errorf("publish: begin transaction: %w", err), t.started)
	}
	if err := t.produce(ctx, changes); err != nil {
		return err
	}
	if err := t.commit(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.stats.Committed++
	p.stats.Records += t.n
	p.mu.Unlock()
	return nil
}

// txn is one transaction of Publish: its records in flight and the first error of any.
type txn struct {
	p       *Publisher
	cl      *kgo.Client
	started time.Time
	sent    bool  // records may have reached the broker
	n       int64 // records produced

	wg      sync.WaitGroup
	mu      sync.Mutex
	prodErr error
	refused refusals
}

// producerID returns the producer id and epoch the transaction writes with. The client may
// have to register the transactional id again first (franz-go does after some failures, and
// once to opt in to KIP-890): bounded like the records' acknowledgements.
func (t *txn) producerID(ctx context.Context) (int64, int16, error) {
	p := t.p
	ictx, cancel := context.WithTimeout(ctx, p.cfg.ProduceTimeout)
	pid, epoch, err := t.cl.ProducerID(ictx)
	timedOut := ictx.Err() != nil
	cancel()
	if err != nil {
		p.markRebuild()
		if timedOut && ctx.Err() == nil {
			err = fmt.Errorf("%w: no producer id within %s (%v)", ErrTimeout, p.cfg.ProduceTimeout, err)
		}
		return 0, 0, p.classify(fmt.Errorf("publish: producer id: %w", err), p.cfg.Now())
	}
	return pid, epoch, nil
}

// produce sends the events and states of the changes and waits for every acknowledgement; on
// a failure it aborts the transaction.
func (t *txn) produce(ctx context.Context, changes []Change) error {
	p := t.p
	for _, ch := range changes {
		if ch.State != nil && len(ch.State) > int(p.cfg.StateMaxBytes) {
			err := p.abort(t.cl, t.started, &t.wg, fmt.Errorf("publish: state of conversation %d is %d bytes, over the state topic's %d", ch.ConversationID, len(ch.State), p.cfg.StateMaxBytes))
			return &RefusedError{ConversationIDs: []int64{ch.ConversationID}, Err: err}
		}
		for _, e := range ch.Events {
			t.send(ctx, ch.ConversationID, &kgo.Record{Topic: p.cfg.EventsTopic, Key: e.Key, Value: e.Value, Headers: recordHeaders(e.Headers)})
		}
		for _, rec := range ch.Records {
			t.send(ctx, ch.ConversationID, &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: recordHeaders(rec.Headers)})
		}
		if ch.State != nil {
			r := &kgo.Record{Topic: p.cfg.StateTopic, Key: events.Key(ch.ConversationID), Value: ch.State}
			for _, h := range p.cfg.StateHeaders {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			t.send(ctx, ch.ConversationID, r)
		}
	}
	if !waitTimeout(&t.wg, p.cfg.ProduceTimeout) {
		return p.abort(t.cl, t.started, &t.wg, fmt.Errorf("publish: %w: %d records not acknowledged within %s", ErrTimeout, t.n, p.cfg.ProduceTimeout))
	}
	if t.prodErr != nil {
		return t.refused.wrap(p.abort(t.cl, t.started, &t.wg, fmt.Errorf("publish: produce: %w", t.prodErr)))
	}
	return nil
}

// recordHeaders are an encoded record's headers as Kafka's.
func recordHeaders(hs []events.Header) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

// send produces one record of the transaction, for conversation conv (0: none).
func (t *txn) send(ctx context.Context, conv int64, r *kgo.Record) {
	r.Context = context.WithValue(context.Background(), conversationKey{}, conv)
	t.wg.Add(1)
	t.n++
	t.sent = true
	t.cl.Produce(ctx, r, t.done)
}

// done hears a record's acknowledgement.
func (t *txn) done(r *kgo.Record, err error) {
	if err != nil {
		t.mu.Lock()
		if t.prodErr == nil {
			t.prodErr = err
		}
		t.refused.note(r, err)
		t.mu.Unlock()
	}
	t.wg.Done()
}

// commit ends the transaction with a commit. Ending a transaction must not be cut short by the
// caller's cancellation: an unknown outcome is worse than a few more seconds.
func (t *txn) commit(ctx context.Context) error {
	p := t.p
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.EndTimeout)
	defer cancel()
	err := t.cl.EndTransaction(ectx, kgo.TryCommit)
	if err == nil {
		return nil
	}
	uncertain := commitUnconfirmed(err, ectx.Err() != nil)
	if ectx.Err() != nil {
		err = fmt.Errorf("%w: no answer to the commit within %s (%v)", ErrTimeout, p.cfg.EndTimeout, err)
	}
	err = p.abort(t.cl, t.started, &t.wg, fmt.Errorf("publish: commit: %w", err))
	if uncertain && !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNotAuthorized) {
		p.markRebuild()
		return fmt.Errorf("%w: %w", ErrCommitUncertain, err)
	}
	return err
}

// commitUnconfirmed reports whether a commit that returned err may have happened after all.
// Only a definitive refusal, received before the commit's deadline, says it did not: the
// commit was not sent (OPERATION_NOT_ATTEMPTED, or a topic recreated under the transaction:
// TRANSACTION_ABORTABLE), the transaction was in no state to commit (INVALID_TXN_STATE), or
// the producer was fenced, its producer id is no longer mapped to the transactional id (the
// coordinator has no transaction of it to commit), or it is not authorized. Anything else leaves the outcome unknown: no
// answer in time, a broken connection, UNKNOWN_SERVER_ERROR, a retriable code that outlived
// the client's retries — NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS, which a coordinator
// that resigned right after writing the commit answers (seen on a broker fenced by its
// controller after a stall) — and CONCURRENT_TRANSACTIONS, which is the answer to a commit
// being completed.
func commitUnconfirmed(err error, deadlinePassed bool) bool {
	if deadlinePassed {
		return true
	}
	if isFenceLike(err) || isExpiredLike(err) {
		return false
	}
	for _, refused := range []*kerr.Error{kerr.OperationNotAttempted, kerr.TransactionAbortable, kerr.InvalidTxnState, kerr.TransactionalIDAuthorizationFailed} {
		if errors.Is(err, refused) {
			return false
		}
	}
	return true
}

// waitTimeout waits for wg, at most d; it reports whether wg finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// abort ends the transaction without committing it, bounded by EndTimeout. If that cannot be
// done cleanly the producer is rebuilt before the next transaction (its new epoch makes the
// broker abort whatever is left).
func (p *Publisher) abort(cl *kgo.Client, started time.Time, wg *sync.WaitGroup, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.EndTimeout)
	defer cancel()
	p.mu.Lock()
	p.stats.Aborted++
	p.mu.Unlock()
	clean := true
	if err := cl.AbortBufferedRecords(ctx); err != nil {
		cause, clean = errors.Join(cause, fmt.Errorf("abort buffered records: %w", err)), false
	}
	if clean && !waitTimeout(wg, time.Until(deadline(ctx))) {
		clean = false
	}
	if clean {
		if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
			cause, clean = errors.Join(cause, fmt.Errorf("abort: %w", err)), false
		}
	}
	if !clean || isFenceLike(cause) || errors.Is(cause, ErrTimeout) {
		p.markRebuild()
	}
	return p.classify(cause, started)
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
