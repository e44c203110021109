package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// A failed transaction is not over when the broker says so. A broker that was fenced by its
// controller (a single node frozen longer than broker.session.timeout.ms) can complete a
// transaction in its coordinator while skipping the markers of partitions whose leader it
// cannot find ("… likely deleted already and hence can be skipped"). Those records stay open
// (a hanging transaction), and the next COMMIT marker of the same producer id on that partition
// commits them: the records of an aborted transaction become visible after the walks were
// redone, and every event in them is published twice.
//
// So after any transaction that failed once records were sent, the Publisher does not begin
// another until it has closed what the failed one may have left open (settle): it asks the
// partitions of both topics for an open transaction of its own producer id
// (DescribeProducers), writes the missing marker itself (WriteTxnMarkers, as Kafka's
// `kafka-transactions.sh abort` does) with the outcome the coordinator recorded, and waits until
// the partitions' last stable offset has moved past it. Writing markers needs the ClusterAction
// permission on the cluster.

// outcome is how the coordinator ended a failed transaction.
type outcome int

const (
	outcomeUnknown outcome = iota
	outcomeAbort
	outcomeCommit
)

func (o outcome) String() string {
	switch o {
	case outcomeAbort:
		return "abort"
	case outcomeCommit:
		return "commit"
	}
	return "unknown"
}

// failedTxn is a transaction that failed after records may have reached the broker.
type failedTxn struct {
	producerID int64
	epoch      int16
	uncertain  bool    // the commit was sent and not clearly refused
	outcome    outcome // learnt before the producer is re-initialised; abort unless uncertain
}

// ErrHangingTransaction: a transaction of this connector's producer is still open on a
// partition after a failure and the connector cannot tell how it ended, so it does not commit
// again. Returned by Publish and Settle, with the partitions.
var ErrHangingTransaction = errors.New("a failed transaction of this producer is still open on a partition")

// lastOutcome asks the coordinator how the failed transaction ended, before the producer is
// re-initialised (which forgets it). A transaction still Ongoing was never committed: the
// re-initialisation aborts it.
func lastOutcome(ctx context.Context, adm *kadm.Client, txnID string, f *failedTxn) (outcome, string, error) {
	ds, err := adm.DescribeTransactions(ctx, txnID)
	if err != nil {
		return outcomeUnknown, "", err
	}
	d, ok := ds[txnID]
	if !ok {
		return outcomeUnknown, "", fmt.Errorf("transactional id %q not described", txnID)
	}
	if d.Err != nil {
		return outcomeUnknown, "", d.Err
	}
	if d.ProducerID != f.producerID {
		return outcomeUnknown, d.State, nil
	}
	return outcomeOf(d.State), d.State, nil
}

// outcomeOf maps a coordinator's transaction state to how the transaction ends: Ongoing (the
// commit never arrived: the re-initialisation aborts it) and the abort states abort; the
// commit states commit; Empty or Dead say nothing about it.
func outcomeOf(state string) outcome {
	switch state {
	case "Ongoing", "PrepareAbort", "CompleteAbort", "PrepareEpochFence":
		return outcomeAbort
	case "PrepareCommit", "CompleteCommit":
		return outcomeCommit
	}
	return outcomeUnknown
}

// openTxn is an open transaction of our producer on one partition.
type openTxn struct {
	kadm.DescribedProducer
}

// findOpen lists the open transactions of producerID, at epoch maxEpoch or older, on every
// partition of topics. A newer epoch is another process that fenced this one: never touched.
func findOpen(ctx context.Context, adm *kadm.Client, topics []string, producerID int64, maxEpoch int16) ([]openTxn, error) {
	set := make(kadm.TopicsSet)
	for _, t := range topics {
		set.Add(t)
	}
	described, err := adm.DescribeProducers(ctx, set)
	if err != nil {
		return nil, err
	}
	var open []openTxn
	var errs []error
	for _, t := range described {
		for _, p := range t.Partitions {
			if p.Err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", p.Topic, p.Partition, p.Err))
				continue
			}
			if d, ok := p.ActiveProducers[producerID]; ok && d.CurrentTxnStartOffset >= 0 && d.ProducerEpoch <= maxEpoch {
				open = append(open, openTxn{d})
			}
		}
	}
	return open, errors.Join(errs...)
}

// writeMarkers closes the open transactions with the given outcome: one marker per partition,
// with the producer epoch and coordinator epoch the partition has (as kafka-transactions.sh
// abort does).
func writeMarkers(ctx context.Context, adm *kadm.Client, open []openTxn, commit bool) error {
	markers := make([]kadm.TxnMarkers, 0, len(open))
	for _, o := range open {
		markers = append(markers, kadm.TxnMarkers{ProducerID: o.ProducerID, ProducerEpoch: o.ProducerEpoch, Commit: commit,
			CoordinatorEpoch: o.CoordinatorEpoch, Topics: kadm.TopicsSet{o.Topic: {o.Partition: {}}}})
	}
	// One request per marker: a request's markers for the same producer id would be merged
	// in the answer.
	var errs []error
	for _, m := range markers {
		resps, err := adm.WriteTxnMarkers(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resps.EachPartition(func(r kadm.TxnMarkersPartitionResponse) {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("marker on %s[%d]: %w", r.Topic, r.Partition, r.Err))
			}
		})
	}
	return errors.Join(errs...)
}

// stableAfter reports whether the last stable offset (read_committed end) of each partition
// has moved past its open transaction's first offset.
func stableAfter(ctx context.Context, adm *kadm.Client, open []openTxn) (bool, error) {
	topics := map[string]bool{}
	for _, o := range open {
		topics[o.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	lso, err := adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return false, err
	}
	for _, o := range open {
		l, ok := lso.Lookup(o.Topic, o.Partition)
		if !ok || l.Err != nil || l.Offset <= o.CurrentTxnStartOffset {
			return false, nil
		}
	}
	return true, nil
}

// closeHanging closes every open transaction producerID (epoch maxEpoch or older) left on the
// topics, with the given outcome, and returns once the last stable offsets are past them. It
// returns how many it closed.
func closeHanging(ctx context.Context, adm *kadm.Client, log *slog.Logger, topics []string, producerID int64, maxEpoch int16, out outcome) (int, error) {
	var closed []openTxn
	backoff := 100 * time.Millisecond
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
			backoff = min(2*backoff, 2*time.Second)
			return nil
		}
	}
	for {
		open, err := findOpen(ctx, adm, topics, producerID, maxEpoch)
		if err == nil && len(open) == 0 {
			break
		}
		if err == nil {
			if out != outcomeAbort && out != outcomeCommit {
				return len(closed), fmt.Errorf("%w: %s (the coordinator did not say how it ended; close it with kafka-transactions.sh)", ErrHangingTransaction, describeOpen(open))
			}
			err = writeMarkers(ctx, adm, open, out == outcomeCommit)
			if errors.Is(err, kerr.ClusterAuthorizationFailed) {
				return len(closed), fmt.Errorf("%w: %s: writing its marker needs ClusterAction on the cluster for the connector's Kafka user (or close it with kafka-transactions.sh abort): %w", ErrHangingTransaction, describeOpen(open), err)
			}
			if err == nil {
				for _, o := range open {
					log.Warn("hanging transaction: a failed transaction of this connector's producer was still open on a partition (the broker skipped its marker); the connector wrote the marker itself",
						"outcome", out.String(), "topic", o.Topic, "partition", o.Partition, "first_offset", o.CurrentTxnStartOffset,
						"producer_id", o.ProducerID, "producer_epoch", o.ProducerEpoch, "coordinator_epoch", o.CoordinatorEpoch)
				}
				closed = append(closed, open...)
			}
		}
		if err != nil && ctx.Err() != nil {
			return len(closed), fmt.Errorf("closing what the failed transaction left open: %w", err)
		}
		if werr := wait(); werr != nil {
			return len(closed), fmt.Errorf("closing what the failed transaction left open: %w", errors.Join(werr, err))
		}
	}
	for len(closed) > 0 {
		ok, err := stableAfter(ctx, adm, closed)
		if ok {
			break
		}
		if werr := wait(); werr != nil {
			return len(closed), fmt.Errorf("waiting for the last stable offset to pass the closed transaction: %w", errors.Join(werr, err))
		}
	}
	return len(closed), nil
}

func describeOpen(open []openTxn) string {
	s := ""
	for i, o := range open {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s[%d] from offset %d (producer %d/%d)", o.Topic, o.Partition, o.CurrentTxnStartOffset, o.ProducerID, o.ProducerEpoch)
	}
	return s
}
