package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestTransientKafkaError: what a slow or starting broker gives is waited out at start; what
// needs an operator is not.
func TestTransientKafkaError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("publish: init transactional id %q: %w", "x", context.DeadlineExceeded), true},
		{fmt.Errorf("publish: init: %w", kerr.CoordinatorLoadInProgress), true},
		{kerr.NotCoordinator, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("%w: %w", publish.ErrNotAuthorized, kerr.TransactionalIDAuthorizationFailed), false},
		{kerr.InvalidTransactionTimeout, false},
		{kerr.TopicAuthorizationFailed, false},
		{state.ErrStateTopicNotCompacted, false},
		{errors.New("something else"), false},
	} {
		if got := transientKafkaError(tc.err); got != tc.want {
			t.Errorf("transientKafkaError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
