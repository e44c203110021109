package state_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestWatchTravelsInTheRawMap: the watch start is one more string of the ConversationState
// record's raw map — the schema is unchanged, so a release that does not know it decodes the
// record as before — and the index lists the watches restored.
func TestWatchTravelsInTheRawMap(t *testing.T) {
	codec, err := state.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 7, 9, 0, 0, 123456000, time.UTC)
	w := diff.Watch{Since: since, Scope: diff.ScopeTag([]string{"b1"}, nil)}
	m := model.Message{ID: 7, ConversationID: 3, Date: model.Time{Time: since.Add(time.Minute)}, SenderType: model.SenderUser, Status: model.StatusSuccess}
	st := diff.Diff(nil, 3, []model.Message{m}, diff.Complete, since.Add(2*time.Minute), diff.Options{Watch: w}).Next
	v, err := codec.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := codec.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := back.Watch(); !ok || got != w {
		t.Fatalf("watch after a round trip: %v %v, want %v (raw %v)", got, ok, w, back.Raw)
	}
	idx := state.NewIndex()
	idx.Put(back)
	idx.Put(diff.Diff(nil, 4, nil, diff.Complete, since, diff.Options{}).Next) // none recorded
	if ws := idx.Watches(); len(ws) != 1 || ws[0] != w {
		t.Fatalf("index watches %v", ws)
	}
}
