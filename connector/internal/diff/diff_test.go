package diff_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

const conv = 42

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func msg(id int64, status model.Status, opts ...func(*model.Message)) model.Message {
	m := model.Message{ID: id, ConversationID: conv, Date: model.Time{Time: t0.Add(time.Duration(id) * time.Second)},
		ContentType: model.ContentText, SenderType: model.SenderUser, Status: status, Content: fmt.Sprint("m", id)}
	for _, o := range opts {
		o(&m)
	}
	return m
}

func deleted(m *model.Message) { m.IsDeleted = true }

func kinds(evs []diff.Event) string {
	s := ""
	for _, e := range evs {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%d:%s", e.MessageID, e.Type)
		switch e.Type {
		case diff.StatusChanged:
			s += fmt.Sprintf("(%s>%s)", e.PreviousStatus, e.Status)
		case diff.MessageDeleted:
			s += "(" + e.Reason.String() + ")"
		case diff.MessageCreated:
			if e.Snapshot {
				s += "(snapshot)"
			}
		}
	}
	return s
}

// run applies walks in sequence and returns the events of each step.
type step struct {
	walk     []model.Message
	complete bool
	want     string
}

func runSteps(t *testing.T, steps []step) *diff.State {
	t.Helper()
	var st *diff.State
	for i, s := range steps {
		r := diff.Diff(st, conv, s.walk, coverage(s.complete), t0.Add(time.Duration(i)*time.Minute), diff.Options{})
		if got := kinds(r.Events); got != s.want {
			t.Fatalf("step %d: events\n got %s\nwant %s", i, got, s.want)
		}
		st = r.Next
	}
	return st
}

func TestRules(t *testing.T) {
	cases := map[string][]step{
		"first walk is a snapshot; deleted at first sight gives created then deleted": {
			{[]model.Message{msg(2, "Success", deleted), msg(1, "Success")}, true,
				"1:MessageCreated(snapshot) 2:MessageCreated(snapshot) 2:MessageDeleted(ConsumerDeleted)"},
			{[]model.Message{msg(1, "Success"), msg(2, "Success", deleted), msg(3, "Sending")}, true, "3:MessageCreated"},
		},
		"same walk twice gives nothing": {
			{[]model.Message{msg(1, "Success"), msg(2, "Sending")}, true, "1:MessageCreated(snapshot) 2:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Success"), msg(2, "Sending")}, true, ""},
			{[]model.Message{msg(2, "Sending"), msg(1, "Success")}, false, ""},
		},
		"every observed status step": {
			{[]model.Message{msg(1, "Sending")}, true, "1:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Failed")}, true, "1:StatusChanged(Sending>Failed)"},
			{[]model.Message{msg(1, "Sending")}, true, "1:StatusChanged(Failed>Sending)"},
			{[]model.Message{msg(1, "Success")}, true, "1:StatusChanged(Sending>Success)"},
		},
		"status change and deletion in one walk: status first": {
			{[]model.Message{msg(1, "Sending")}, true, "1:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Success", deleted)}, true, "1:StatusChanged(Sending>Success) 1:MessageDeleted(ConsumerDeleted)"},
			{[]model.Message{msg(1, "Success")}, true, ""}, // an undelete does not re-emit
			{[]model.Message{msg(1, "Success", deleted)}, true, ""},
		},
		"vanished only after two consecutive complete walks; partial walks never delete": {
			{[]model.Message{msg(1, "Success"), msg(2, "Success")}, true, "1:MessageCreated(snapshot) 2:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Success")}, false, ""},
			{[]model.Message{msg(1, "Success")}, false, ""},
			{[]model.Message{msg(1, "Success")}, true, ""},
			{[]model.Message{msg(1, "Success"), msg(2, "Success")}, true, ""}, // back: counter resets
			{[]model.Message{msg(1, "Success")}, true, ""},
			{[]model.Message{msg(1, "Success")}, false, ""},
			{[]model.Message{msg(1, "Success")}, true, "2:MessageDeleted(Vanished)"},
			{[]model.Message{msg(1, "Success")}, true, ""},
		},
		"a consumer-deleted message that vanishes is not deleted twice": {
			{[]model.Message{msg(1, "Success", deleted)}, true, "1:MessageCreated(snapshot) 1:MessageDeleted(ConsumerDeleted)"},
			{nil, true, ""},
			{nil, true, ""},
		},
		"unknown sender types are ignored": {
			{[]model.Message{msg(1, "Success", func(m *model.Message) { m.SenderType = "Bot" }), msg(2, "Success")}, true, "2:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Failed", func(m *model.Message) { m.SenderType = "Bot" }), msg(2, "Success")}, true, ""},
		},
		"a partial first walk keeps the snapshot open": {
			{[]model.Message{msg(1, "Success")}, false, "1:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Success"), msg(2, "Success")}, true, "2:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Success"), msg(2, "Success"), msg(3, "Success")}, true, "3:MessageCreated"},
		},
		"unknown status values are tracked raw": {
			{[]model.Message{msg(1, "Queued")}, true, "1:MessageCreated(snapshot)"},
			{[]model.Message{msg(1, "Queued")}, true, ""},
			{[]model.Message{msg(1, "Success")}, true, "1:StatusChanged(Queued>Success)"},
			{[]model.Message{msg(1, "Delivered")}, true, "1:StatusChanged(Success>Delivered)"},
		},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) { runSteps(t, steps) })
	}
}

func TestIgnoredAreCounted(t *testing.T) {
	walk := []model.Message{msg(1, "Success", func(m *model.Message) { m.SenderType = "Bot" }), msg(2, "Success"),
		msg(3, "Success", func(m *model.Message) { m.SenderType = "System" })}
	if r := diff.Diff(nil, conv, walk, diff.Complete, t0, diff.Options{}); r.Ignored != 2 || len(r.Events) != 1 {
		t.Fatalf("ignored=%d events=%d, want 2 and 1", r.Ignored, len(r.Events))
	}
}

func TestSameWalkTwiceChangesNothing(t *testing.T) {
	walk := []model.Message{msg(1, "Success"), msg(2, "Failed"), msg(3, "Sending", deleted)}
	r1 := diff.Diff(nil, conv, walk, diff.Complete, t0, diff.Options{})
	r2 := diff.Diff(r1.Next, conv, walk, diff.Complete, t0.Add(time.Hour), diff.Options{})
	if len(r2.Events) != 0 || r2.Changed {
		t.Fatalf("second diff: %d events, changed=%v", len(r2.Events), r2.Changed)
	}
	if !r2.Next.UpdatedAt.Equal(r1.Next.UpdatedAt) {
		t.Fatal("an unchanged state keeps its UpdatedAt")
	}
}

func TestEventIDsAreDeterministicAndDistinct(t *testing.T) {
	walks := [][]model.Message{
		{msg(1, "Sending")}, {msg(1, "Failed")}, {msg(1, "Sending")}, {msg(1, "Failed")}, {msg(1, "Sending", deleted)},
	}
	collect := func(detected time.Duration) []string {
		var st *diff.State
		var ids []string
		for i, w := range walks {
			r := diff.Diff(st, conv, w, diff.Complete, t0.Add(detected+time.Duration(i)*time.Second), diff.Options{})
			for _, e := range r.Events {
				ids = append(ids, e.ID)
			}
			st = r.Next
		}
		return ids
	}
	a, b := collect(0), collect(time.Hour) // observed at other times, e.g. after a crash
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("ids depend on when the change was observed:\n%v\n%v", a, b)
	}
	seen := map[string]bool{}
	for _, id := range a {
		if seen[id] {
			t.Fatalf("duplicate id %s among %v (Sending>Failed happens twice and must get two ids)", id, a)
		}
		seen[id] = true
		if len(id) != 36 || id[14] != '5' {
			t.Fatalf("id %q is not a UUID v5", id)
		}
	}
	if len(a) != 6 {
		t.Fatalf("%d events, want 6", len(a))
	}
}

// TestPropertyOrderAndReconstruction drives random histories through the diff: events must be
// ordered by (date, id) with created < status < deleted per message, a partial walk must never
// delete, and replaying the events must rebuild exactly the statuses of the last complete walk.
func TestPropertyOrderAndReconstruction(t *testing.T) {
	statuses := []model.Status{"Sending", "Success", "Failed"}
	for seed := uint64(0); seed < 300; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 1))
		truth := map[int64]model.Message{}
		nextID := int64(1)
		var st *diff.State
		seen := map[int64]model.Status{} // reconstructed from events
		gone := map[int64]bool{}
		for round := 0; round < 30; round++ {
			// Mutate the truth.
			for k := rnd.IntN(4); k > 0; k-- {
				m := msg(nextID, statuses[rnd.IntN(3)])
				m.Date = model.Time{Time: t0.Add(time.Duration(rnd.IntN(1000)) * time.Second)}
				truth[nextID] = m
				nextID++
			}
			for id, m := range truth {
				switch r := rnd.Float64(); {
				case r < 0.1:
					m.Status = statuses[rnd.IntN(3)]
				case r < 0.13:
					m.IsDeleted = true
				case r < 0.15:
					delete(truth, id)
					continue
				}
				truth[id] = m
			}
			// Walk it, maybe partially.
			walk := make([]model.Message, 0, len(truth))
			for _, m := range truth {
				walk = append(walk, m)
			}
			sort.Slice(walk, func(i, j int) bool { return walk[i].ID < walk[j].ID })
			complete := rnd.Float64() < 0.7
			if !complete && len(walk) > 0 {
				walk = walk[:rnd.IntN(len(walk))]
			}
			r := diff.Diff(st, conv, walk, coverage(complete), t0, diff.Options{})
			for i, e := range r.Events {
				if i > 0 {
					p := r.Events[i-1]
					if e.Date.Before(p.Date) || (e.Date.Equal(p.Date) && (e.MessageID < p.MessageID || (e.MessageID == p.MessageID && e.Type <= p.Type))) {
						t.Fatalf("seed %d: events out of order: %s", seed, kinds(r.Events))
					}
				}
				switch e.Type {
				case diff.MessageCreated:
					if _, dup := seen[e.MessageID]; dup {
						t.Fatalf("seed %d: message %d created twice", seed, e.MessageID)
					}
					seen[e.MessageID] = e.Message.Status
				case diff.StatusChanged:
					if seen[e.MessageID] != e.PreviousStatus {
						t.Fatalf("seed %d: status chain broken for %d: have %s, event says %s", seed, e.MessageID, seen[e.MessageID], e.PreviousStatus)
					}
					seen[e.MessageID] = e.Status
				case diff.MessageDeleted:
					if e.Reason == diff.Vanished {
						if !complete {
							t.Fatalf("seed %d: a partial walk reported a vanished message", seed)
						}
						gone[e.MessageID] = true
					}
				}
			}
			st = r.Next
			if complete {
				for _, m := range walk {
					if seen[m.ID] != m.Status {
						t.Fatalf("seed %d: message %d reconstructed as %s, truth %s", seed, m.ID, seen[m.ID], m.Status)
					}
				}
			}
		}
	}
}

func coverage(complete bool) diff.Coverage {
	if complete {
		return diff.Complete
	}
	return diff.Partial
}

// TestWalkWithUndecodableMessages: a walk that read every page but had to leave undecodable
// messages out ends the snapshot (later messages are live), yet never infers a deletion: the
// message it misses may be one it could not read.
func TestWalkWithUndecodableMessages(t *testing.T) {
	r1 := diff.Diff(nil, conv, []model.Message{msg(1, model.StatusSuccess), msg(2, model.StatusSuccess)}, diff.AllPages, t0, diff.Options{})
	if got := kinds(r1.Events); got != "1:MessageCreated(snapshot) 2:MessageCreated(snapshot)" || !r1.Next.SnapshotDone {
		t.Fatalf("first walk: %s, snapshot done %v", got, r1.Next.SnapshotDone)
	}
	// Message 2 now fails to decode (left out) in three walks in a row: no deletion.
	st := r1.Next
	for i := 0; i < 3; i++ {
		r := diff.Diff(st, conv, []model.Message{msg(1, model.StatusSuccess), msg(3, model.StatusSending)}, diff.AllPages, t0, diff.Options{})
		if i == 0 && kinds(r.Events) != "3:MessageCreated" {
			t.Fatalf("walk %d: %s, want a live MessageCreated for 3", i, kinds(r.Events))
		}
		if i > 0 && len(r.Events) != 0 {
			t.Fatalf("walk %d: %s, want nothing", i, kinds(r.Events))
		}
		st = r.Next
	}
	if st.Find(2) < 0 {
		t.Fatal("message 2 left the state")
	}
}

// A delete reason's name parses back to it; "Unknown" (no reason) does not parse.
func TestDeleteReasonNamesRoundTrip(t *testing.T) {
	for _, r := range []diff.DeleteReason{diff.ConsumerDeleted, diff.Vanished} {
		if got, ok := diff.ParseDeleteReason(r.String()); !ok || got != r {
			t.Errorf("ParseDeleteReason(%q) = %v, %v", r.String(), got, ok)
		}
	}
	for _, s := range []string{"Unknown", "", "vanished"} {
		if _, ok := diff.ParseDeleteReason(s); ok {
			t.Errorf("ParseDeleteReason(%q) parsed", s)
		}
	}
}

// With an organisation, the same change in the same conversation id gets another id in each
// organisation; without one, the id is the one earlier releases gave (pinned here).
func TestEventIDsAreScopedByOrganization(t *testing.T) {
	walk := []model.Message{msg(7, "Success")}
	id := func(org int64) string {
		return diff.Diff(nil, 42, walk, diff.Complete, t0, diff.Options{Organization: org}).Events[0].ID
	}
	if a, b := id(1), id(2); a == b || a == id(0) {
		t.Fatalf("organisations 1 and 2 share ids: %s %s (none: %s)", a, b, id(0))
	}
	// The id the previous release (ef76f95) gives this change: UUID v5 of "partoo:42:7:created".
	if got, want := id(0), "39009cc4-4009-5413-8f5c-1f96b617704d"; got != want {
		t.Fatalf("without an organisation the id is %s, earlier releases gave %s", got, want)
	}
}

// An organisation without an id among several is scoped by its name: its ids are neither the
// unscoped ones nor any numeric organisation's, even for a name made of digits.
func TestEventIDsAreScopedByOrganizationName(t *testing.T) {
	walk := []model.Message{msg(7, "Success")}
	id := func(org int64, name string) string {
		return diff.Diff(nil, 42, walk, diff.Complete, t0, diff.Options{Organization: org, OrganizationName: name}).Events[0].ID
	}
	seen := map[string]string{}
	for _, c := range []struct {
		org  int64
		name string
	}{{0, ""}, {1, ""}, {12, ""}, {0, "acme"}, {0, "globex"}, {0, "1"}, {0, "12"}} {
		got := id(c.org, c.name)
		what := fmt.Sprintf("org %d name %q", c.org, c.name)
		if other, dup := seen[got]; dup {
			t.Fatalf("%s and %s share the event id %s", what, other, got)
		}
		seen[got] = what
	}
	if id(5, "acme") != id(5, "") {
		t.Fatal("with an org_id the name must not change the ids (org_id scopes them)")
	}
	if got, want := id(0, ""), "39009cc4-4009-5413-8f5c-1f96b617704d"; got != want {
		t.Fatalf("without an organisation the id is %s, earlier releases gave %s", got, want)
	}
}
