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
	old, expired := p.cl, p.expired
	p.mu.Unlock()
	if expired {
		if err := p.confirmOwnership(ctx); err != nil {
			return err // still marked: the next call asks again
		}
	}
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
	p.rebuild, p.expired = false, false
	p.stats.Rebuilt++
	p.mu.Unlock()
	if expired {
		p.cfg.Logger.Info("transactional id registered again after Kafka forgot the producer id; no other producer held it",
			"transactional_id", p.cfg.TransactionalID, "previous_producer_id", p.last.id)
	}
	return nil
}

// confirmOwnership is asked before a producer whose id the broker forgot registers the
// transactional id again. InitProducerID fences whoever holds the id, so it may only follow
// when this organisation still owns its work and no other producer holds the id: ctx is the
// organisation's run, which ends as soon as its lease or group assignment is lost, and the
// transaction coordinator must either not know the id at all (it expired) or map it to this
// Publisher's last producer id at its epoch or the next (only the partitions forgot the
// producer id; another process registering the id would have met this producer id too, and
// this producer would have been answered PRODUCER_FENCED instead). Any
// other holder is a fence (ErrFenced); a coordinator that cannot be asked is an error, and
// nothing is registered until it answers.
func (p *Publisher) confirmOwnership(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.EndTimeout)
	defer cancel()
	txnID := p.cfg.TransactionalID
	ds, err := p.adm.DescribeTransactions(dctx, txnID)
	if err == nil && len(ds) == 0 {
		err = fmt.Errorf("transactional id %q not described", txnID)
	}
	if err != nil {
		return fmt.Errorf("publish: asking the coordinator who holds transactional id %q before registering it again: %w", txnID, err)
	}
	d := ds[txnID]
	switch {
	case errors.Is(d.Err, kerr.TransactionalIDNotFound):
		return nil
	case d.Err != nil:
		return fmt.Errorf("publish: asking the coordinator who holds transactional id %q before registering it again: %w", txnID, d.Err)
	case d.ProducerID == p.last.id && d.ProducerEpoch <= p.last.epoch+1:
		return nil // ours (+1: the abort of the failed transaction bumps the epoch under KIP-890)
	}
	return fmt.Errorf("%w: transactional id %q is now held by producer id %d epoch %d (this connector's was %d epoch %d)",
		ErrFenced, txnID, d.ProducerID, d.ProducerEpoch, p.last.id, p.last.epoch)
}
