package diff_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// walkAt is one walk of the evidence tests: when, what it saw, and what the diff may know.
type walkAt struct {
	at      time.Duration // after t0
	walk    []model.Message
	cov     diff.Coverage
	counted bool
	want    string
}

func applyWalks(t *testing.T, st *diff.State, opt diff.Options, walks []walkAt) (*diff.State, []diff.Result) {
	t.Helper()
	var out []diff.Result
	for i, w := range walks {
		o := opt
		o.Counted = w.counted
		r := diff.Diff(st, conv, w.walk, w.cov, t0.Add(w.at), o)
		if got := kinds(r.Events); got != w.want {
			t.Fatalf("walk %d: events\n got %s\nwant %s", i, got, w.want)
		}
		out = append(out, r)
		st = r.Next
	}
	return st, out
}

var three = []model.Message{msg(1, "Success"), msg(2, "Success"), msg(3, "Sending")}

const snap3 = "1:MessageCreated(snapshot) 2:MessageCreated(snapshot) 3:MessageCreated(snapshot)"

// An empty (or nearly empty) page is what a glitch looks like: without Partoo's count to vouch
// for it, however often it comes, it is no evidence of deletion.
func TestEmptyWalksWithoutCountNeverDelete(t *testing.T) {
	walks := []walkAt{{0, three, diff.Complete, false, snap3}}
	for i := 1; i <= 10; i++ {
		walks = append(walks, walkAt{time.Duration(i) * time.Hour, nil, diff.Complete, false, ""})
	}
	walks = append(walks, walkAt{11 * time.Hour, three[:1], diff.Complete, false, ""}) // 2 of 3 missing: most
	_, res := applyWalks(t, nil, diff.Options{}, walks)
	for i, r := range res[1:] {
		if !r.Suspect || r.Absent == 0 {
			t.Fatalf("walk %d: suspect=%v absent=%d, want a suspect walk", i+1, r.Suspect, r.Absent)
		}
	}
	// Absences were not counted: once the glitch is over, one missing message still needs two walks.
	_, _ = applyWalks(t, res[len(res)-1].Next, diff.Options{}, []walkAt{
		{12 * time.Hour, three[:2], diff.Complete, false, ""},
		{13 * time.Hour, three[:2], diff.Complete, false, "3:MessageDeleted(Vanished)"},
	})
}

// With Partoo's count vouching for the walk, an emptied conversation is deleted — after the
// walks and the time the options ask for, never at once.
func TestAbsenceNeedsWalksAndTime(t *testing.T) {
	opt := diff.Options{VanishAfterWalks: 2, VanishConfirmAfter: 5 * time.Minute}
	_, res := applyWalks(t, nil, opt, []walkAt{
		{0, three, diff.Complete, true, snap3},
		{time.Minute, nil, diff.Complete, true, ""},     // first miss
		{2 * time.Minute, nil, diff.Complete, true, ""}, // two walks, but 1 min < 5 min
		{4 * time.Minute, nil, diff.AllPages, true, ""}, // not complete: no evidence
		{5 * time.Minute, nil, diff.Partial, false, ""}, // partial: no evidence
		{6 * time.Minute, nil, diff.Complete, true, "1:MessageDeleted(Vanished) 2:MessageDeleted(Vanished) 3:MessageDeleted(Vanished)"},
		{7 * time.Minute, nil, diff.Complete, true, ""},
	})
	for _, e := range res[5].Events {
		if e.AbsentWalks != 3 || !e.AbsentSince.Equal(t0.Add(time.Minute)) {
			t.Fatalf("evidence of %d: %d walks since %v, want 3 since %v", e.MessageID, e.AbsentWalks, e.AbsentSince, t0.Add(time.Minute))
		}
	}
	// A message seen again restarts its clock.
	_, _ = applyWalks(t, nil, opt, []walkAt{
		{0, three, diff.Complete, true, snap3},
		{time.Minute, three[:2], diff.Complete, true, ""},
		{2 * time.Minute, three, diff.Complete, true, ""},
		{7 * time.Minute, three[:2], diff.Complete, true, ""},
		{8 * time.Minute, three[:2], diff.Complete, true, ""}, // 2 walks, 1 min
		{12 * time.Minute, three[:2], diff.Complete, true, "3:MessageDeleted(Vanished)"},
	})
}

// A message that comes back after a Vanished deletion is created again with new event ids:
// consumers that deduplicate on event_id converge to the truth.
func TestComebackAfterVanishedGetsNewEventIDs(t *testing.T) {
	st, res := applyWalks(t, nil, diff.Options{}, []walkAt{
		{0, three, diff.Complete, true, snap3},
		{time.Minute, three[:2], diff.Complete, true, ""},
		{2 * time.Minute, three[:2], diff.Complete, true, "3:MessageDeleted(Vanished)"},
		{3 * time.Minute, three, diff.Complete, true, "3:MessageCreated"},
		{4 * time.Minute, []model.Message{three[0], three[1], msg(3, "Success")}, diff.Complete, true, "3:StatusChanged(Sending>Success)"},
		{5 * time.Minute, three[:2], diff.Complete, true, ""},
		{6 * time.Minute, three[:2], diff.Complete, true, "3:MessageDeleted(Vanished)"},
		{7 * time.Minute, three, diff.Complete, true, "3:MessageCreated"},
	})
	ids := map[string]int{}
	for i, r := range res {
		for _, e := range r.Events {
			if j, dup := ids[e.ID]; dup {
				t.Fatalf("event id %s of walk %d already used by walk %d (%s)", e.ID, i, j, kinds(r.Events))
			}
			ids[e.ID] = i
		}
	}
	// The rebuilt state (from the events) knows the generations too.
	rp := diff.NewReplay()
	for _, r := range res {
		for _, e := range r.Events {
			rp.Apply(e)
		}
	}
	rebuilt := rp.States(t0)[0]
	if r := diff.Diff(rebuilt, conv, three, diff.Complete, t0.Add(time.Hour), diff.Options{}); len(r.Events) != 0 {
		t.Fatalf("after a replay: %s", kinds(r.Events))
	}
	r := diff.Diff(st, conv, three[:2], diff.Complete, t0.Add(time.Hour), diff.Options{})
	r = diff.Diff(r.Next, conv, three[:2], diff.Complete, t0.Add(2*time.Hour), diff.Options{})
	r2 := diff.Diff(rebuilt, conv, three[:2], diff.Complete, t0.Add(time.Hour), diff.Options{})
	r2 = diff.Diff(r2.Next, conv, three[:2], diff.Complete, t0.Add(2*time.Hour), diff.Options{})
	if len(r.Events) != 1 || len(r2.Events) != 1 || r.Events[0].ID != r2.Events[0].ID {
		t.Fatalf("the third deletion: live %v, rebuilt %v: want the same new id", r.Events, r2.Events)
	}
	if _, used := ids[r.Events[0].ID]; used {
		t.Fatal("the third deletion reuses an event id")
	}
}

// An undecodable message whose id is known is present: a walk that accounts for every
// message by id, readable or not, is evidence, and never makes the unreadable one vanish.
func TestUnreadableMessagesArePresent(t *testing.T) {
	opt := diff.Options{}
	st, _ := applyWalks(t, nil, opt, []walkAt{{0, three, diff.Complete, true, snap3}})
	walk := func(at time.Duration, msgs []model.Message, unreadable []int64, want string) *diff.State {
		t.Helper()
		o := opt
		o.Counted, o.Unreadable = true, unreadable
		r := diff.Diff(st, conv, msgs, diff.Complete, t0.Add(at), o)
		if got := kinds(r.Events); got != want {
			t.Fatalf("at %v: events %s, want %s", at, got, want)
		}
		st = r.Next
		return st
	}
	// Message 2 turns unreadable, 3 vanishes for real: only 3 is deleted.
	walk(time.Minute, three[:1], []int64{2}, "")
	walk(2*time.Minute, three[:1], []int64{2}, "3:MessageDeleted(Vanished)")
	walk(3*time.Minute, three[:1], []int64{2}, "")
	if st.Find(2) < 0 {
		t.Fatal("the unreadable message left the state")
	}
	// Readable again, unchanged: nothing.
	walk(4*time.Minute, three[:2], nil, "")
}
