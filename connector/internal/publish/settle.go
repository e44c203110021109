package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Settle rebuilds the producer now if a failure asked for it — registering the transactional
// id again makes the broker complete the last transaction (commit or abort) — and closes what a
// failed transaction left open on the partitions, with the outcome the coordinator recorded:
// after Settle, what the state topic says is final. Call it from the goroutine that calls
// Publish.
func (p *Publisher) Settle(ctx context.Context) error { return p.ensureProducer(ctx) }

// ensureProducer makes the producer fit for the next transaction after a failure: it learns
// how an uncertain transaction ended (before the re-initialisation forgets it), rebuilds the
// producer if a failure asked for it, and closes what the failed transaction may have left
// open on the partitions (settle, hanging.go). Until all of that succeeded it returns an error
// and the next call starts over where it stopped.
func (p *Publisher) ensureProducer(ctx context.Context) error {
	f := p.unsettled
	if f != nil && f.outcome == outcomeUnknown {
		if !f.uncertain {
			f.outcome = outcomeAbort // the commit was not sent, or clearly refused
		} else if err := p.learnOutcome(ctx, f); err != nil {
			return err
		}
	}
	if err := p.rebuildProducer(ctx); err != nil {
		return err
	}
	if f == nil {
		return nil
	}
	// Only transactions of the failed one's epoch or older are touched: a newer epoch is
	// another process that registered the same transactional id since, whose transactions
	// the coordinator ends (under KIP-890 every transaction has its own epoch).
	sctx, cancel := context.WithTimeout(ctx, 2*p.cfg.EndTimeout)
	defer cancel()
	n, err := closeHanging(sctx, p.adm, p.cfg.Logger, []string{p.cfg.EventsTopic, p.cfg.StateTopic}, f.producerID, f.epoch, f.outcome)
	p.mu.Lock()
	p.stats.HangingClosed += int64(n)
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	p.unsettled = nil
	return nil
}

// learnOutcome asks the coordinator how the transaction whose commit is uncertain ended. One
// still Ongoing may yet receive the commit that was sent (a thawed broker works through its
// queue): the coordinator is asked again until it has ended it, by that commit or by its
// timeout abort, at most TransactionTimeout and a minute.
func (p *Publisher) learnOutcome(ctx context.Context, f *failedTxn) error {
	deadline := time.Now().Add(p.cfg.TransactionTimeout + time.Minute)
	for {
		dctx, cancel := context.WithTimeout(ctx, p.cfg.EndTimeout)
		out, state, err := lastOutcome(dctx, p.adm, p.cfg.TransactionalID, f)
		cancel()
		switch {
		case err != nil:
			return fmt.Errorf("publish: asking the coordinator how the transaction with an uncertain commit ended: %w", err)
		case state != "Ongoing":
			f.outcome = out
			p.cfg.Logger.Info("the coordinator says how the transaction with an uncertain commit ended",
				"state", state, "outcome", out.String(), "producer_id", f.producerID, "producer_epoch", f.epoch)
			return nil
		case time.Now().After(deadline):
			f.outcome = outcomeAbort // the re-initialisation that follows aborts it
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// rebuildProducer rebuilds the producer if a failure asked for it: the old client is closed (in
// the background: it may be stuck on a dead connection) and a new one registers the
// transactional id, which bumps the epoch and aborts anything the old one left open.
func (p *Publisher) rebuildProducer(ctx context.Context) error {
	p.mu.Lock()
	if !p.rebuild {
		p.mu.Unlock()
		return nil
	}
	old := p.cl
	p.mu.Unlock()
	if old != nil {
		go old.Close()
	}
	cl, err := kgo.NewClient(p.opts...)
	if err != nil {
		return fmt.Errorf("publish: rebuild the producer: %w", err)
	}
	p.mu.Lock()
	p.cl = cl
	p.mu.Unlock()
	ictx, cancel := context.WithTimeout(ctx, p.cfg.EndTimeout)
	defer cancel()
	if _, _, err := cl.ProducerID(ictx); err != nil {
		// Still marked for a rebuild: the next Publish tries again with a new client.
		if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
			return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
		}
		return fmt.Errorf("publish: re-initialise transactional id %q: %w", p.cfg.TransactionalID, err)
	}
	p.mu.Lock()
	p.rebuild = false
	p.stats.Rebuilt++
	p.mu.Unlock()
	return nil
}
