package service

import (
	"context"
	"errors"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
)

// reconfigure applies a new configuration (Update): it builds the engines of new and changed
// organisations first — refusing the whole configuration, with the previous one still
// running, when one cannot be built —, then stops the removed and changed ones, and lets the
// group (or, without one, this process) run the result.
func (s *Service) reconfigure(ctx context.Context, u update) {
	s.mu.Lock()
	fresh, err := s.buildChanged(u)
	if err != nil {
		s.mu.Unlock()
		s.cfg.Logger.Error("the new organisations configuration is refused; the previous one keeps running", "err", err)
		return
	}
	keep := map[string]bool{}
	var names []string
	for _, opt := range u.engines {
		keep[opt.Organization] = true
		names = append(names, opt.Organization)
	}
	var stopping, replaced []*slot
	for name, sl := range s.slots {
		if !keep[name] || fresh[name] != nil {
			stopping = append(stopping, sl)
			if sl.next != nil {
				sl.next.Close()
				sl.next = nil
			}
		}
		if fresh[name] != nil {
			replaced = append(replaced, sl)
		}
	}
	s.mu.Unlock()
	added, removed, changed := 0, 0, len(replaced)
	s.stopEach(stopping, "removed or changed in the organisations file")
	s.mu.Lock()
	for name := range s.slots {
		if !keep[name] {
			s.slots[name].metrics.SetStopped("")
			delete(s.slots, name)
			removed++
		}
	}
	for name, sl := range fresh {
		if old := s.slots[name]; old != nil {
			sl.assigned = old.assigned
			sl.metrics.SetStopped("") // the changed entry starts afresh
		} else {
			added++
		}
		s.slots[name] = sl
	}
	s.order = names
	m := s.member
	s.mu.Unlock()
	s.cfg.Logger.Info("organisations file changed", "added", added, "removed", removed, "changed", changed, "organizations", len(names))
	if m == nil {
		s.apply(ctx, names)
		return
	}
	s.mu.Lock()
	var assigned []string
	for _, n := range s.order {
		if sl := s.slots[n]; sl != nil && sl.assigned {
			assigned = append(assigned, n)
		}
	}
	s.mu.Unlock()
	_ = s.decide(ctx, input{kind: inAssigned, want: assigned}) // the new and changed ones start
	m.SetAvailable(names, s.fileDigest())
}

// buildChanged returns the slots of the organisations that are new or changed in u, their
// engines built, or the errors of those that cannot be built (and none). Call with s.mu held.
func (s *Service) buildChanged(u update) (map[string]*slot, error) {
	fresh := map[string]*slot{}
	var errs []error
	for _, opt := range u.engines {
		old := s.slots[opt.Organization]
		if old != nil && old.version == u.versions[opt.Organization] {
			continue
		}
		sl := s.newSlot(opt, u.versions[opt.Organization])
		e, err := engine.New(sl.opt)
		if err != nil {
			errs = append(errs, organizationError(opt.Organization, err))
			continue
		}
		s.keep(sl, e)
		fresh[sl.name] = sl
	}
	if len(errs) > 0 {
		for _, sl := range fresh {
			if sl.next != nil {
				sl.next.Close()
			}
		}
		return nil, errors.Join(errs...)
	}
	return fresh, nil
}
