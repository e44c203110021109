package diff

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Replaying the events of a history of walks gives back the state the diff recorded, so the
// next walk emits nothing.
func TestReplayRebuildsTheRecordedState(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	msg := func(id int64, st model.Status, del bool) model.Message {
		return model.Message{ID: id, ConversationID: 9, Date: model.Time{Time: now.Add(time.Duration(id) * time.Second)},
			SenderType: model.SenderUser, ContentType: "Carousel", Status: st, IsDeleted: del}
	}
	walks := [][]model.Message{
		{msg(1, model.StatusSending, false), msg(2, "Delivered", false), msg(3, model.StatusSuccess, true)},
		{msg(1, model.StatusSuccess, false), msg(2, "Delivered", true), msg(3, model.StatusSuccess, true), msg(4, model.StatusFailed, false)},
		{msg(1, model.StatusFailed, false), msg(4, model.StatusFailed, false)}, // 2 and 3 absent
		{msg(1, model.StatusFailed, false), msg(4, model.StatusSending, false)},
	}
	var prev *State
	replay := NewReplay()
	events := 0
	for i, w := range walks {
		res := Diff(prev, 9, w, Complete, now.Add(time.Duration(i)*time.Minute), Options{})
		for _, e := range res.Events {
			replay.Apply(e)
			events++
		}
		prev = res.Next
	}
	states := replay.States(now)
	if len(states) != 1 {
		t.Fatalf("%d states", len(states))
	}
	got := states[0]
	// Every recorded message is rebuilt as recorded (the count of absences aside, which events
	// do not carry); the rebuilt state may keep more only of deleted messages that later left
	// the state without an event (a deleted message that vanishes emits nothing).
	for _, rec := range prev.Messages {
		i := got.Find(rec.ID)
		if i < 0 {
			t.Fatalf("message %d is missing from the rebuilt state %+v", rec.ID, got)
		}
		rec.setMissed(0)
		if got.Messages[i] != rec || got.StatusOf(got.Messages[i]) != prev.StatusOf(rec) {
			t.Fatalf("message %d rebuilt as %+v, recorded %+v", rec.ID, got.Messages[i], rec)
		}
	}
	for _, m := range got.Messages {
		if prev.Find(m.ID) < 0 && !m.Deleted() {
			t.Fatalf("message %d is in the rebuilt state only, and not deleted", m.ID)
		}
	}
	// The next walks on the rebuilt state emit nothing.
	st := got
	for i := 0; i < 3; i++ {
		res := Diff(st, 9, walks[len(walks)-1], Complete, now.Add(time.Hour), Options{})
		if len(res.Events) != 0 {
			t.Fatalf("walk %d after a rebuild emitted %v", i, res.Events)
		}
		st = res.Next
	}
	_ = events
}

// A resnapshot request re-emits every recorded message as a snapshot, with ids derived from
// the request: the same for the same request, new for another, never the original's.
func TestResnapshotReemitsWithRequestIDs(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	walk := []model.Message{
		{ID: 1, ConversationID: 3, SenderType: model.SenderUser, Status: model.StatusSuccess},
		{ID: 2, ConversationID: 3, SenderType: model.SenderConsumer, Status: model.StatusSuccess, IsDeleted: true},
	}
	first := Diff(nil, 3, walk, Complete, now, Options{})
	ids := func(res Result) map[string]bool {
		m := map[string]bool{}
		for _, e := range res.Events {
			if e.Type != MessageCreated || !e.Snapshot {
				t.Fatalf("unexpected %+v", e)
			}
			m[e.ID] = true
		}
		return m
	}
	r1 := Diff(first.Next, 3, walk, Complete, now, Options{Resnapshot: "req-1"})
	again := Diff(first.Next, 3, walk, Complete, now, Options{Resnapshot: "req-1"})
	r2 := Diff(first.Next, 3, walk, Complete, now, Options{Resnapshot: "req-2"})
	a, b, c := ids(r1), ids(again), ids(r2)
	if len(a) != 2 || len(c) != 2 {
		t.Fatalf("re-emitted %d and %d events, want 2 each", len(a), len(c))
	}
	for id := range a {
		if !b[id] || c[id] {
			t.Fatalf("event id %s: same request must give the same ids, another request other ids", id)
		}
	}
	for _, e := range first.Events {
		if a[e.ID] {
			t.Fatalf("a re-emitted event reuses the original id %s", e.ID)
		}
	}
	if !sameState(first.Next, r1.Next) {
		t.Fatal("a resnapshot must not change the state")
	}
}
