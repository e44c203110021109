package service

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
)

// The supervisor's decisions are made by plan, a pure function of what the service knows of
// its organisations (view) and what just happened (input); the loop (Run) only executes the
// actions it returns, in order. Table tests cover every decision (plan_test.go), as
// assign.Plan's do for the group's.

// view is what plan knows of one organisation.
type view struct {
	name     string
	running  bool // its engine runs here (or is stopping)
	assigned bool // this replica should run it (always, without a group)
	failing  bool // stopped on an error, waiting for its pause to end
	retryDue bool // failing, and the pause is over
	fatal    bool // an error stops the service (an organisation of the start, without a group)
}

// inputKind is what happened.
type inputKind int

const (
	inAssigned inputKind = iota // the group's assignment (or, without one, every organisation) is want
	inExited                    // name's engine returned on its own with err
	inTick                      // a second passed: failed organisations whose pause is over start again
)

type input struct {
	kind    inputKind
	want    []string // inAssigned
	name    string   // inExited
	err     error    // inExited: nil when its context ended
	ranLong bool     // inExited: it ran longer than retryPauseMax (a new failure, not one more in a row)
}

// actionKind is what the loop does.
type actionKind int

const (
	actAssign    actionKind = iota // mark name assigned (or not: unassign)
	actUnassign                    //
	actStop                        // stop name's engine and wait for it (why)
	actStart                       // start name's engine
	actRelease                     // give name back to the group (another replica fenced it)
	actFail                        // record err and pause before the next start (resetRow: a new failure)
	actRetry                       // the pause is over: clear the failure
	actFatal                       // stop the service with err
	actTellOwned                   // tell the group what runs here
)

type action struct {
	kind     actionKind
	name     string
	why      string
	err      error
	resetRow bool
}

// plan decides what the loop does after in, given the organisations vs (in the configuration's
// order) and whether a group spreads them.
func plan(distributed bool, vs []view, in input) []action {
	switch in.kind {
	case inAssigned:
		return planAssigned(vs, in.want)
	case inExited:
		return planExited(distributed, vs, in)
	case inTick:
		var out []action
		for _, v := range vs {
			if v.failing && v.retryDue {
				out = append(out, action{kind: actRetry, name: v.name})
				if v.assigned && !v.running {
					out = append(out, action{kind: actStart, name: v.name})
				}
			}
		}
		return out
	}
	return nil
}

// planAssigned stops what is no longer wanted first (each finishes or aborts its
// transaction), then starts the wanted organisations that do not run and are not pausing
// after a failure, then tells the group what runs (which, when that shrank, makes the member
// rejoin: the revocation is done).
func planAssigned(vs []view, want []string) []action {
	wanted := map[string]bool{}
	for _, n := range want {
		wanted[n] = true
	}
	var out, stops, starts []action
	for _, v := range vs {
		switch {
		case wanted[v.name] && !v.assigned:
			out = append(out, action{kind: actAssign, name: v.name})
		case !wanted[v.name] && v.assigned:
			out = append(out, action{kind: actUnassign, name: v.name})
		}
		if !wanted[v.name] && v.running {
			stops = append(stops, action{kind: actStop, name: v.name, why: "not assigned to this replica any more"})
		}
		if wanted[v.name] && !v.running && !v.failing {
			starts = append(starts, action{kind: actStart, name: v.name})
		}
	}
	sort.SliceStable(starts, func(i, j int) bool { return index(want, starts[i].name) < index(want, starts[j].name) })
	return append(append(append(out, stops...), starts...), action{kind: actTellOwned})
}

func index(names []string, n string) int {
	for i, x := range names {
		if x == n {
			return i
		}
	}
	return len(names)
}

// planExited handles an engine that returned on its own. Without a group, an error of an
// organisation of the start stops the service — except a fence, which stops that
// organisation alone. With a group, a fenced organisation is released to the group; any other
// error (and, without a group, a fence, or an error of an organisation a file change added or
// changed) is retried after a pause.
func planExited(distributed bool, vs []view, in input) []action {
	if in.err == nil {
		return nil
	}
	var v view
	for _, x := range vs {
		if x.name == in.name {
			v = x
		}
	}
	fenced := isFence(in.err)
	switch {
	case v.fatal && !fenced:
		return []action{{kind: actFatal, name: in.name, err: in.err}}
	case distributed && fenced:
		return []action{{kind: actUnassign, name: in.name}, {kind: actRelease, name: in.name, err: in.err}, {kind: actTellOwned}}
	}
	return []action{{kind: actFail, name: in.name, err: in.err, resetRow: in.ranLong}}
}

// isFence reports an error by which another producer or replica took the organisation.
func isFence(err error) bool {
	return errors.Is(err, publish.ErrFenced) || errors.Is(err, lease.ErrLost)
}

// views are what plan knows of the organisations of the latest configuration, in its order.
// Call with s.mu held.
func (s *Service) views(now time.Time) []view {
	out := make([]view, 0, len(s.order))
	for _, n := range s.order {
		sl := s.slots[n]
		if sl == nil {
			continue
		}
		out = append(out, view{name: n, running: sl.running != nil, assigned: sl.assigned, failing: sl.failing(),
			retryDue: sl.failing() && now.After(sl.retryAt), fatal: sl.fatal})
	}
	return out
}

// decide plans what follows in and executes it.
func (s *Service) decide(ctx context.Context, in input) error {
	s.mu.Lock()
	acts := plan(s.distributed(), s.views(time.Now()), in)
	s.mu.Unlock()
	return s.execute(ctx, acts)
}

// execute carries out the actions in order; consecutive stops run in parallel (each finishes
// or aborts its transaction).
func (s *Service) execute(ctx context.Context, acts []action) error {
	for i := 0; i < len(acts); i++ {
		a := acts[i]
		switch a.kind {
		case actStop:
			group := []*slot{s.slotOf(a.name)}
			for i+1 < len(acts) && acts[i+1].kind == actStop {
				i++
				group = append(group, s.slotOf(acts[i].name))
			}
			s.stopEach(group, a.why)
		case actTellOwned:
			s.tellOwned()
		case actRelease:
			s.cfg.Logger.Warn("organisation fenced: another replica runs it now; released to the group", "organization", a.name, "err", a.err)
			if m := s.groupMember(); m != nil {
				m.Release(a.name)
			}
		case actFatal:
			return organizationError(a.name, a.err)
		default:
			s.mu.Lock()
			s.apply1(ctx, a)
			s.mu.Unlock()
		}
	}
	return nil
}

// apply1 executes an action on one slot's bookkeeping. Call with s.mu held.
func (s *Service) apply1(ctx context.Context, a action) {
	sl := s.slots[a.name]
	if sl == nil {
		return
	}
	switch a.kind {
	case actAssign, actUnassign:
		sl.assigned = a.kind == actAssign
	case actStart:
		if sl.running == nil {
			s.start(ctx, sl)
		}
	case actFail:
		if a.resetRow {
			sl.failures = 0
		}
		s.failed(sl, a.err)
	case actRetry:
		sl.retryAt = time.Time{}
		sl.metrics.SetStopped("")
	}
}

func (s *Service) slotOf(name string) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[name]
}
