package budget

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// Wait blocks until one request may start, and takes it, for the work whose place at the
// budget is t (nil: a request of its own, PriorityNormal); t records that a request started.
// It returns ctx.Err() if ctx ends first, in which case nothing is taken. Waiting requests are
// served earliest deadline first, a request's deadline being its arrival plus its ticket's
// Priority: a walk for a fresh change goes ahead of the Sending re-walks and background work,
// yet nothing waits for ever however busy the budget is.
func (b *Budget) Wait(ctx context.Context, t *Ticket) error {
	if t == nil {
		t = NewTicket(PriorityNormal)
	}
	start := b.clock.Now()
	b.mu.Lock()
	b.seq++
	w := &waiter{arrival: start, seq: b.seq, ticket: t, wake: clock.NewWake()}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			b.leave(w)
			return err
		}
		b.mu.Lock()
		now := b.clock.Now()
		var d time.Duration
		if first := b.first(); first != w {
			// Not our turn: the one served before us wakes us (a safety net of a minute).
			first.wake.Signal()
			d = time.Minute
		} else if at := b.readyAt(now, w.need(now)); at.After(now) {
			d = at.Sub(now) // our turn, not yet a token
			if due := w.due(); due.After(now) && due.Before(at) {
				d = due.Sub(now) // needs fewer tokens then
			}
		} else {
			b.take(now)
			b.waited += now.Sub(start)
			b.granted++
			b.remove(w)
			w.ticket.started.Store(true)
			if next := b.first(); next != nil {
				next.wake.Signal()
			}
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		if err := b.clock.Wait(ctx, d, w.wake); err != nil {
			b.leave(w)
			return err
		}
	}
}

// first returns the waiter to serve next: the earliest deadline, then the earliest arrival.
// Call with mu held.
func (b *Budget) first() *waiter {
	var best *waiter
	var bestAt time.Time
	for _, w := range b.waiters {
		at := w.due()
		if best == nil || at.Before(bestAt) || (at.Equal(bestAt) && w.seq < best.seq) {
			best, bestAt = w, at
		}
	}
	return best
}

// remove takes w out of the waiters. Call with mu held.
func (b *Budget) remove(w *waiter) bool {
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// leave removes a waiter that gave up, and hands the turn on.
func (b *Budget) leave(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.remove(w) {
		if next := b.first(); next != nil {
			next.wake.Signal()
		}
	}
}

// waiter is one request waiting in Budget.Wait.
type waiter struct {
	arrival time.Time
	seq     uint64
	ticket  *Ticket
	wake    *clock.Wake
}

// due is w's deadline: its arrival plus its priority.
func (w *waiter) due() time.Time { return w.arrival.Add(time.Duration(w.ticket.Priority())) }

// need is the tokens the bucket must hold for w to take one: a request less urgent than
// PriorityNormal leaves two to the urgent ones that may come next (a discovery and the walk it
// asks for), so that they do not wait for the bucket to refill — until its deadline, after
// which it takes the next token like any other.
func (w *waiter) need(now time.Time) float64 {
	if w.ticket.Priority() > PriorityNormal && now.Before(w.due()) {
		return 3
	}
	return 1
}
