package publish

import (
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
		})
	}
}
