package partootest

import (
	"context"
	"sync"
	"time"
)

// ManualClock is a virtual clock for single-goroutine tests: Now is fixed until Advance or
// Sleep moves it, and Sleep returns at once after moving it forward by d. It implements
// partoo.Clock.
type ManualClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

// NewManualClock starts at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the virtual time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep moves the clock forward by d and returns, unless ctx is already done.
func (c *ManualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.mu.Lock()
		c.now = c.now.Add(d)
		c.slept += d
		c.mu.Unlock()
	}
	return nil
}

// Slept returns the total virtual time spent in Sleep.
func (c *ManualClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// ScaledClock runs Factor times faster than the wall clock: a virtual minute passes in
// 60/Factor real seconds. Concurrent code keeps its real interleaving, so it suits tests of
// rate limits with many goroutines. It implements partoo.Clock.
type ScaledClock struct {
	factor    float64
	realStart time.Time
	virtStart time.Time
}

// NewScaledClock starts at virtual time start, running factor times faster than real time.
func NewScaledClock(start time.Time, factor float64) *ScaledClock {
	return &ScaledClock{factor: factor, realStart: time.Now(), virtStart: start}
}

// Now returns the virtual time.
func (c *ScaledClock) Now() time.Time {
	return c.virtStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.factor))
}

// Sleep waits d of virtual time.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(d) / c.factor))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
