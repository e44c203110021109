package publish

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RefusedError is a transaction that failed because Kafka refused some of its records for
// what they are (too large, invalid), not for the state of the cluster: redoing the same
// conversations would fail again. Nothing of the transaction is visible; the caller can
// publish the other conversations at once without ConversationIDs. Err is the transaction's
// error (matching the package's sentinels as usual).
type RefusedError struct {
	ConversationIDs []int64
	Err             error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Kafka refused records of conversation(s) %v: %v", e.ConversationIDs, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// recordRefusal reports whether a produce error is about the record itself.
func recordRefusal(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// conversationKey is the key of a record's conversation id in its Context.
type conversationKey struct{}

// refusals collects the conversations whose records were refused in one transaction.
type refusals struct{ ids []int64 }

func (r *refusals) note(rec *kgo.Record, err error) {
	if rec == nil || !recordRefusal(err) {
		return
	}
	id, _ := rec.Context.Value(conversationKey{}).(int64)
	if id == 0 || slices.Contains(r.ids, id) {
		return
	}
	r.ids = append(r.ids, id)
}

// wrap returns err as a *RefusedError when records were refused.
func (r *refusals) wrap(err error) error {
	if len(r.ids) == 0 || err == nil {
		return err
	}
	return &RefusedError{ConversationIDs: r.ids, Err: err}
}
