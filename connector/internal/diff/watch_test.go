package diff_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// msg(id) is dated t0 + id seconds: a watch since t0+5s makes 1..5 old and 6.. new.
var watch5 = diff.Watch{Since: t0.Add(5 * time.Second), Scope: "*"}

func withWatch(w diff.Watch) diff.Options { return diff.Options{Watch: w} }

// TestSnapshotIsWhatExistedBeforeWatching: snapshot=true means "dated no later than the
// instant the connector started watching", whether the conversation is new to the state or
// not; everything dated later is live, including the first messages of a conversation the
// connector never walked.
func TestSnapshotIsWhatExistedBeforeWatching(t *testing.T) {
	t.Run("a conversation created while watching: live from its first message", func(t *testing.T) {
		r := diff.Diff(nil, conv, []model.Message{msg(6, "Success"), msg(7, "Sending")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if got, want := kinds(r.Events), "6:MessageCreated 7:MessageCreated"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("a conversation the first listing missed: old messages snapshots, new ones live", func(t *testing.T) {
		r := diff.Diff(nil, conv, []model.Message{msg(4, "Success"), msg(5, "Success"), msg(9, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if got, want := kinds(r.Events), "4:MessageCreated(snapshot) 5:MessageCreated(snapshot) 9:MessageCreated"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("an old message found late in a walked conversation is still a snapshot", func(t *testing.T) {
		r := diff.Diff(nil, conv, []model.Message{msg(1, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		r = diff.Diff(r.Next, conv, []model.Message{msg(1, "Success"), msg(2, "Success"), msg(8, "Success")}, diff.Complete, t0.Add(2*time.Minute), withWatch(watch5))
		if got, want := kinds(r.Events), "2:MessageCreated(snapshot) 8:MessageCreated"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("a watch recorded under another scope wins; under the same, the scope's", func(t *testing.T) {
		r := diff.Diff(nil, conv, []model.Message{msg(1, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if w, ok := r.Next.Watch(); !ok || w != watch5 {
			t.Fatalf("recorded watch %v %v, want %v", w, ok, watch5)
		}
		widened := diff.Watch{Since: t0.Add(time.Hour), Scope: "wider"} // the business filter was widened since
		w := diff.Diff(r.Next, conv, []model.Message{msg(1, "Success"), msg(8, "Success")}, diff.Complete, t0.Add(2*time.Hour), withWatch(widened))
		if got, want := kinds(w.Events), "8:MessageCreated"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		if w, _ := w.Next.Watch(); w != watch5 {
			t.Fatalf("the watch changed to %v", w)
		}
		// The same scope, its watch known better now (Partoo's clock learnt more closely).
		tighter := diff.Watch{Since: t0.Add(3 * time.Second), Scope: "*"}
		w = diff.Diff(r.Next, conv, []model.Message{msg(1, "Success"), msg(4, "Success")}, diff.Complete, t0.Add(2*time.Hour), withWatch(tighter))
		if got, want := kinds(w.Events), "4:MessageCreated"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("a state of an earlier release gets the watch with its next change only", func(t *testing.T) {
		old := diff.Diff(nil, conv, []model.Message{msg(1, "Success")}, diff.Complete, t0, diff.Options{}).Next
		if _, ok := old.Watch(); ok {
			t.Fatal("a diff without a watch recorded one")
		}
		r := diff.Diff(old, conv, []model.Message{msg(1, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if r.Changed {
			t.Fatal("an unchanged conversation is rewritten only to record the watch")
		}
		r = diff.Diff(old, conv, []model.Message{msg(1, "Success"), msg(3, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if got := kinds(r.Events); got != "3:MessageCreated(snapshot)" {
			t.Fatalf("got %s", got)
		}
		if w, ok := r.Next.Watch(); !ok || w != watch5 {
			t.Fatalf("recorded watch %v %v", w, ok)
		}
	})
	t.Run("on the instant: a snapshot (in doubt)", func(t *testing.T) {
		r := diff.Diff(nil, conv, []model.Message{msg(5, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
		if got := kinds(r.Events); got != "5:MessageCreated(snapshot)" {
			t.Fatalf("got %s", got)
		}
	})
}

func TestScopeTagAndRestoredWatch(t *testing.T) {
	if diff.ScopeTag(nil, nil) != "*" {
		t.Fatal("a whole organisation is *")
	}
	a, ab, ba := diff.ScopeTag([]string{"a"}, nil), diff.ScopeTag([]string{"a", "b"}, nil), diff.ScopeTag([]string{"b", "a", "a"}, nil)
	if a == ab || ab != ba || ab == diff.ScopeTag(nil, []int64{1}) {
		t.Fatalf("tags %s %s %s", a, ab, ba)
	}
	at := func(s int, scope string) diff.Watch {
		return diff.Watch{Since: t0.Add(time.Duration(s) * time.Second), Scope: scope}
	}
	for _, tc := range []struct {
		name     string
		recorded []diff.Watch
		scope    string
		want     int // seconds after t0; -1: not watched
	}{
		{"first start: nothing recorded", nil, "*", -1},
		{"the earliest of the scope", []diff.Watch{at(30, "*"), at(10, "*"), {}}, "*", 10},
		{"widened: the new scope was never watched", []diff.Watch{at(10, a)}, ab, -1},
		{"widened earlier: the scope since it began", []diff.Watch{at(10, a), at(20, ab), at(40, ab)}, ab, 20},
		{"back to a scope left since: not continuous", []diff.Watch{at(10, a), at(20, ab)}, a, -1},
	} {
		got, ok := diff.RestoredWatch(tc.recorded, tc.scope)
		if (tc.want < 0) == ok || (ok && !got.Equal(t0.Add(time.Duration(tc.want)*time.Second))) {
			t.Errorf("%s: got %v %v, want %d", tc.name, got, ok, tc.want)
		}
	}
}

// TestRebuiltStateStartsANewWatch: rebuild-state replays the events, which carry no watch: the
// connector that starts on the rebuilt state starts watching anew, so what was created while
// it was stopped is a snapshot (in doubt), and what comes after is live.
func TestRebuiltStateStartsANewWatch(t *testing.T) {
	r := diff.Diff(nil, conv, []model.Message{msg(1, "Success")}, diff.Complete, t0.Add(time.Minute), withWatch(watch5))
	replay := diff.NewReplay()
	for _, e := range r.Events {
		replay.Apply(e)
	}
	states := replay.States(t0.Add(2 * time.Minute))
	var recorded []diff.Watch
	for _, s := range states {
		if w, ok := s.Watch(); ok {
			recorded = append(recorded, w)
		}
	}
	if since, ok := diff.RestoredWatch(recorded, "*"); ok {
		t.Fatalf("a rebuilt state restored the watch %v", since)
	}
	restart := diff.Watch{Since: t0.Add(20 * time.Second), Scope: "*"} // the start on the rebuilt state
	r = diff.Diff(states[0], conv, []model.Message{msg(1, "Success"), msg(10, "Success"), msg(30, "Success")}, diff.Complete, t0.Add(3*time.Minute), withWatch(restart))
	if got, want := kinds(r.Events), "10:MessageCreated(snapshot) 30:MessageCreated"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
