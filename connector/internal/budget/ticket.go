package budget

import (
	"sync/atomic"
	"time"
)

// Priority is how long a request waiting for the budget lets requests that arrive after it
// go first: the budget serves the earliest arrival + Priority. Zero is the most urgent.
type Priority time.Duration

// PriorityNormal is the default; PriorityLow is background work, which yields to everything
// that arrives within a minute after it and never takes the bucket's last token.
const (
	PriorityNormal Priority = 0
	PriorityLow             = Priority(time.Minute)
)

// A Ticket is the place at the budget of a unit of work (a walk) that makes requests: its
// priority, which may be raised while its requests wait (a background walk that a fresh
// change now waits for becomes urgent), and whether one of its requests has started.
type Ticket struct {
	prio    atomic.Int64
	started atomic.Bool
}

// NewTicket returns a Ticket with priority p.
func NewTicket(p Priority) *Ticket {
	t := &Ticket{}
	t.prio.Store(int64(p))
	return t
}

// Priority returns the current priority.
func (t *Ticket) Priority() Priority { return Priority(t.prio.Load()) }

// Raise makes the priority at least as urgent as p.
func (t *Ticket) Raise(p Priority) {
	for {
		cur := t.prio.Load()
		if int64(p) >= cur || t.prio.CompareAndSwap(cur, int64(p)) {
			return
		}
	}
}

// Started reports whether a request with this ticket has been let through: everything the
// work reads from now on is read after this moment.
func (t *Ticket) Started() bool { return t.started.Load() }
