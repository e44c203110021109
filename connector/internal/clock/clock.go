// Package clock is the connector's time: the wall clock in production, virtual clocks in tests
// and benchmarks. Every wait in the connector is written once, with Wait, whatever the clock:
// it ends when a duration has passed, when a context ends, or when a Wake is signalled.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Wait blocks until d has passed (nil), ctx ends (ctx.Err()) or wake — which may be nil —
	// is signalled (nil). A signal sent while nobody waits is kept for the next Wait.
	Wait(ctx context.Context, d time.Duration, wake *Wake) error
}

// Sleep waits d on c, or until ctx ends.
func Sleep(ctx context.Context, c Clock, d time.Duration) error { return c.Wait(ctx, d, nil) }

// Wake ends a Wait early, from any goroutine. Create it with NewWake.
type Wake struct {
	ch chan struct{} // a pending signal, for clocks that wait on channels

	mu   sync.Mutex
	hook func() bool // set while a clock.Event participant waits; true when it woke it
}

// NewWake returns a Wake with no signal pending.
func NewWake() *Wake { return &Wake{ch: make(chan struct{}, 1)} }

// Signal ends the current Wait on w, or the next one if none is in progress. It never blocks.
func (w *Wake) Signal() {
	w.mu.Lock()
	hook := w.hook
	w.hook = nil
	w.mu.Unlock()
	if hook != nil && hook() {
		return
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Signaled consumes a signal sent while nobody waited, and reports whether there was one.
// Clocks outside this package call it to honour wakes in their Wait.
func (w *Wake) Signaled() bool {
	if w == nil {
		return false
	}
	select {
	case <-w.ch:
		return true
	default:
		return false
	}
}

func (w *Wake) channel() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.ch
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Wait implements Clock.
func (Real) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wake.Signaled() || d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake.channel():
		return nil
	case <-t.C:
		return nil
	}
}

// Shifted is another party's clock: c's time moved by By (negative: behind). It waits as c
// does. The simulator uses it to run Partoo's clock off the connector's.
type Shifted struct {
	Clock Clock
	By    time.Duration
}

// Now returns the shifted time.
func (s Shifted) Now() time.Time { return s.Clock.Now().Add(s.By) }

// Wait implements Clock: durations are the same on both clocks.
func (s Shifted) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	return s.Clock.Wait(ctx, d, wake)
}
