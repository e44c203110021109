package service

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// Engines returns the engines that run here (or are about to, before Run), in the order of
// the configuration.
func (s *Service) Engines() []*engine.Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*engine.Engine
	for _, n := range s.order {
		if sl := s.slots[n]; sl != nil {
			if e := sl.cur.Load(); e != nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// Walks returns how many walks every engine has settled since the start.
func (s *Service) Walks() int64 {
	s.mu.Lock()
	n := s.finished
	s.mu.Unlock()
	for _, e := range s.Engines() {
		n += e.Walks()
	}
	return n
}

// Readiness says why the service is not ready (nil when every engine that runs here is; with
// a group, once it received its first assignment, even an empty one: a standby).
func (s *Service) Readiness() error {
	m := s.groupMember()
	if s.distributed() && (m == nil || !m.Joined()) {
		if m != nil && m.GroupError() != nil {
			return fmt.Errorf("joining the organisations' group: %w", m.GroupError())
		}
		return errors.New("joining the organisations' group")
	}
	var errs []error
	if !s.distributed() {
		s.mu.Lock()
		if sl := s.slots[""]; sl != nil && sl.failing() {
			errs = append(errs, errors.New(sl.stoppedReason())) // the one organisation is stopped
		}
		s.mu.Unlock()
	}
	for _, n := range s.runningNames() {
		if e := s.engine(n); e != nil {
			if err := e.Readiness(); err != nil {
				errs = append(errs, organizationError(n, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ping checks that Kafka answers (the engines share one cluster).
func (s *Service) Ping(ctx context.Context) error { return s.kc.Client().Ping(ctx) }

// Status is the one engine's report; with several, the reports of those that run here under
// their organisation names, degraded when one is or when one is failing.
func (s *Service) Status() status.Report {
	if !s.distributed() {
		if es := s.Engines(); len(es) == 1 && s.names()[0] == "" {
			return es[0].Status()
		}
	}
	ready := s.Readiness()
	// The process's own time and uptime, for when no engine runs here (one stopped on a fence,
	// a replica with no share); an engine's report, when one runs, gives the same.
	r := status.Report{Status: "ok", Ready: ready == nil, Organizations: map[string]*status.Report{},
		Time: time.Now().UTC(), Uptime: time.Since(s.began).Round(time.Second).String()}
	if s.distributed() {
		r.Role = "group member"
		if m := s.groupMember(); m == nil || !m.Joined() {
			r.Reasons = append(r.Reasons, ready.Error())
		}
	}
	for _, n := range s.runningNames() {
		e := s.engine(n)
		if e == nil {
			continue
		}
		one := e.Status()
		r.Organizations[n] = &one
		r.Time, r.Uptime = one.Time, one.Uptime
		r.ConversationsTracked += one.ConversationsTracked
		r.MessagesTracked += one.MessagesTracked
		for _, why := range one.Reasons {
			r.Reasons = append(r.Reasons, n+": "+why)
		}
	}
	s.mu.Lock()
	for _, n := range s.order {
		if sl := s.slots[n]; sl != nil && sl.failing() && sl.assigned {
			r.Reasons = append(r.Reasons, sl.stoppedReason())
		}
	}
	s.mu.Unlock()
	if len(r.Reasons) > 0 {
		r.Status = "degraded"
	}
	return r
}

func (s *Service) groupMember() *assign.Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.member
}

// runningNames are the organisations whose engine runs here (or is about to), sorted.
func (s *Service) runningNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, sl := range s.slots {
		if sl.cur.Load() != nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Service) engine(name string) *engine.Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[name]; sl != nil {
		return sl.cur.Load()
	}
	return nil
}

// Covers reports whether an engine that runs here may cover a conversation a webhook named.
func (s *Service) Covers(id int64, business string) bool {
	for _, e := range s.Engines() {
		if e.Covers(id, business) {
			return true
		}
	}
	return false
}

// Hint hands a webhook's conversation to every engine that runs here (each checks the
// conversation is its own before it walks it: schedule.Smart.Hint) and returns the most
// useful result.
func (s *Service) Hint(id int64) schedule.HintResult {
	best := schedule.HintIgnored
	for _, e := range s.Engines() {
		if r := e.Hint(id); r == schedule.HintAccepted || best == schedule.HintIgnored {
			best = r
		}
	}
	return best
}

// Target is an organisation's webhook target: its engine while it runs here; while it does
// not, hints are ignored (its owner's polling finds the change).
func (s *Service) Target(name string) Target { return Target{s: s, name: name} }

// Target forwards webhooks to one organisation's engine, wherever it is in its life.
type Target struct {
	s    *Service
	name string
}

// Covers reports whether the organisation runs here and may cover the conversation.
func (t Target) Covers(id int64, business string) bool {
	e := t.s.engine(t.name)
	return e != nil && e.Covers(id, business)
}

// Hint hands the conversation to the organisation's engine if it runs here.
func (t Target) Hint(id int64) schedule.HintResult {
	if e := t.s.engine(t.name); e != nil {
		return e.Hint(id)
	}
	return schedule.HintIgnored
}
