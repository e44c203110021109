package publish

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestFenceIsToldFromATimeout: the broker answers the same errors when another process took
// the transactional id and when it aborted our transaction for outliving the timeout; the age
// of the transaction tells them apart.
func TestFenceIsToldFromATimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := &Publisher{cfg: Config{TransactionTimeout: time.Minute, Now: func() time.Time { return now }}}
	for _, tc := range []struct {
		name string
		err  error
		age  time.Duration
		want error
	}{
		{"young transaction, producer fenced", kerr.ProducerFenced, time.Second, ErrFenced},
		{"young transaction, invalid epoch", kerr.InvalidProducerEpoch, 3 * time.Second, ErrFenced},
		{"transaction older than the timeout", kerr.InvalidProducerEpoch, 61 * time.Second, ErrTransactionTimedOut},
		{"transaction at 95 % of the timeout", kerr.ProducerFenced, 57 * time.Second, ErrTransactionTimedOut},
		{"ACL", kerr.TransactionalIDAuthorizationFailed, time.Second, ErrNotAuthorized},
		{"deleted topic", kerr.UnknownTopicOrPartition, time.Second, ErrUnknownTopic},
		{"recreated topic", kerr.UnknownTopicID, time.Second, ErrUnknownTopic},
		// The broker forgot an idle id: never a fence, whatever the transaction's age.
		{"young transaction, forgotten producer id", kerr.InvalidProducerIDMapping, time.Second, ErrProducerIDExpired},
		{"old transaction, forgotten producer id", kerr.InvalidProducerIDMapping, 61 * time.Second, ErrProducerIDExpired},
		{"forgotten transactional id", kerr.TransactionalIDNotFound, time.Second, ErrProducerIDExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.rebuild = false
			err := p.classify(fmt.Errorf("publish: commit: %w", tc.err), now.Add(-tc.age))
			if !errors.Is(err, tc.want) || !errors.Is(err, tc.err) {
				t.Fatalf("classify = %v, want %v wrapping %v", err, tc.want, tc.err)
			}
			if errors.Is(tc.want, ErrTransactionTimedOut) && !p.rebuild {
				t.Fatal("a timed-out transaction must rebuild the producer")
			}
			if errors.Is(err, ErrFenced) && errors.Is(tc.want, ErrProducerIDExpired) {
				t.Fatal("a forgotten producer id was classified as a fence")
			}
			if errors.Is(tc.want, ErrProducerIDExpired) && (!p.rebuild || !p.expired) {
				t.Fatal("a forgotten producer id must rebuild the producer after confirming ownership")
			}
		})
	}
}

// TestCommitOutcome: a failed commit is trusted as not having happened only on a definitive
// refusal that came before the deadline; every other failure makes the caller re-read its state.
func TestCommitOutcome(t *testing.T) {
	for _, tc := range []struct {
		err            error
		deadlinePassed bool
		unconfirmed    bool
	}{
		{kerr.NotCoordinator, false, true}, // a coordinator that resigned after writing the commit
		{kerr.CoordinatorLoadInProgress, false, true},
		{kerr.CoordinatorNotAvailable, false, true},
		{kerr.ConcurrentTransactions, false, true}, // the commit is being completed
		{kerr.UnknownServerError, false, true},
		{kerr.RequestTimedOut, false, true},
		{context.DeadlineExceeded, true, true},
		{errors.New("broken pipe"), false, true},
		{kerr.InvalidTxnState, true, true}, // a refusal, but past the deadline: an earlier try may have committed
		{kerr.OperationNotAttempted, false, false},
		{fmt.Errorf("recreated: %w, %w", kerr.TransactionAbortable, kerr.UnknownTopicID), false, false},
		{kerr.InvalidTxnState, false, false},
		{kerr.ProducerFenced, false, false},
		{kerr.InvalidProducerEpoch, false, false},
		{kerr.InvalidProducerIDMapping, false, false}, // the coordinator has no transaction of ours
		{kerr.TransactionalIDAuthorizationFailed, false, false},
	} {
		if got := commitUnconfirmed(fmt.Errorf("publish: commit: %w", tc.err), tc.deadlinePassed); got != tc.unconfirmed {
			t.Errorf("commitUnconfirmed(%v, deadline passed %v) = %v, want %v", tc.err, tc.deadlinePassed, got, tc.unconfirmed)
		}
	}
}
