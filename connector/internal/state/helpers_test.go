package state_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// conversation returns the state of a conversation of n messages, as the diff builds it.
func conversation(id int64, n int) *diff.State {
	return diff.Diff(nil, id, walkOf(id, n), diff.Complete, t0, diff.Options{}).Next
}

// walkOf returns a walk of a conversation of n messages.
func walkOf(id int64, n int) []model.Message {
	walk := make([]model.Message, n)
	// Mostly terminal statuses; 1 % undocumented ("Queued"), kept raw.
	statuses := []model.Status{model.StatusSuccess, model.StatusFailed, model.StatusSending}
	for i := range walk {
		walk[i] = model.Message{ID: id*1_000_000 + int64(i)*3 + 1, ConversationID: id,
			Date:        model.Time{Time: t0.Add(time.Duration(i) * 37 * time.Second).Add(time.Duration(i%1000) * time.Microsecond)},
			ContentType: model.ContentText, SenderType: model.SenderConsumer, Status: statuses[i%3], IsDeleted: i%50 == 0}
		if i%100 == 7 {
			walk[i].Status = "Queued"
		}
	}
	return walk
}

func mustClient(t *testing.T, kopts []kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
