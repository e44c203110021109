package service

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
)

// TestPlan covers every decision of the supervisor, as a table: what the service knows, what
// happened, what it does.
func TestPlan(t *testing.T) {
	boom := errors.New("boom")
	fenced := fmt.Errorf("publish: %w", publish.ErrFenced)
	cases := []struct {
		name        string
		distributed bool
		vs          []view
		in          input
		want        []action
	}{
		{"the start without a group: every organisation starts, in the file's order", false,
			[]view{{name: "a"}, {name: "b"}}, input{kind: inAssigned, want: []string{"b", "a"}},
			[]action{{kind: actAssign, name: "a"}, {kind: actAssign, name: "b"}, {kind: actStart, name: "b"}, {kind: actStart, name: "a"}, {kind: actTellOwned}}},
		{"an assignment that moves one away: stopped before anything starts", true,
			[]view{{name: "a", running: true, assigned: true}, {name: "b"}, {name: "c", running: true, assigned: true}}, input{kind: inAssigned, want: []string{"b"}},
			[]action{{kind: actUnassign, name: "a"}, {kind: actAssign, name: "b"}, {kind: actUnassign, name: "c"},
				{kind: actStop, name: "a", why: "not assigned to this replica any more"}, {kind: actStop, name: "c", why: "not assigned to this replica any more"},
				{kind: actStart, name: "b"}, {kind: actTellOwned}}},
		{"an assigned organisation pausing after a failure does not start before its pause ends", true,
			[]view{{name: "a", assigned: true, failing: true}}, input{kind: inAssigned, want: []string{"a"}},
			[]action{{kind: actTellOwned}}},
		{"one already running is left alone", true,
			[]view{{name: "a", assigned: true, running: true}}, input{kind: inAssigned, want: []string{"a"}},
			[]action{{kind: actTellOwned}}},
		{"an exit at the end of its context does nothing", false,
			[]view{{name: "a", fatal: true}}, input{kind: inExited, name: "a"}, nil},
		{"an error of an organisation of the start, without a group, stops the service", false,
			[]view{{name: "a", fatal: true}}, input{kind: inExited, name: "a", err: boom},
			[]action{{kind: actFatal, name: "a", err: boom}}},
		{"a fence stops that organisation alone, even without a group", false,
			[]view{{name: "a", fatal: true}}, input{kind: inExited, name: "a", err: fenced},
			[]action{{kind: actFail, name: "a", err: fenced}}},
		{"a lost lease is a fence too", false,
			[]view{{name: "a", fatal: true}}, input{kind: inExited, name: "a", err: lease.ErrLost},
			[]action{{kind: actFail, name: "a", err: lease.ErrLost}}},
		{"with a group, a fenced organisation is released", true,
			[]view{{name: "a", assigned: true}}, input{kind: inExited, name: "a", err: fenced},
			[]action{{kind: actUnassign, name: "a"}, {kind: actRelease, name: "a", err: fenced}, {kind: actTellOwned}}},
		{"with a group, any other error pauses it", true,
			[]view{{name: "a", assigned: true}}, input{kind: inExited, name: "a", err: boom},
			[]action{{kind: actFail, name: "a", err: boom}}},
		{"an organisation a file change added fails alone", false,
			[]view{{name: "a", fatal: true}, {name: "new"}}, input{kind: inExited, name: "new", err: boom, ranLong: true},
			[]action{{kind: actFail, name: "new", err: boom, resetRow: true}}},
		{"a tick restarts those whose pause is over and are assigned", true,
			[]view{{name: "a", failing: true, retryDue: true, assigned: true}, {name: "b", failing: true, assigned: true},
				{name: "c", failing: true, retryDue: true}},
			input{kind: inTick},
			[]action{{kind: actRetry, name: "a"}, {kind: actStart, name: "a"}, {kind: actRetry, name: "c"}}},
		{"a tick with nothing failing does nothing", false,
			[]view{{name: "a", running: true, assigned: true}}, input{kind: inTick}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := plan(c.distributed, c.vs, c.in)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("plan:\n got  %+v\n want %+v", got, c.want)
			}
		})
	}
}
