package partootest

import (
	"container/heap"
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

// EventClock is virtual time for concurrent simulations: time stands still while any
// participant goroutine runs, and when every one of them is asleep it jumps to the earliest
// wake-up. The result depends neither on the machine's speed nor on its load.
//
// Participants are the goroutines started with Go. Only they may call Sleep, and they must
// block on nothing else for long (a mutex held briefly is fine; a channel another participant
// fills is not): the clock cannot see such waits and would stand still for ever. HTTP
// requests between participants must be served in process (no sockets). Now may be called
// from anywhere.
type EventClock struct {
	mu       sync.Mutex
	now      time.Time
	running  int
	seq      uint64
	sleepers sleeperHeap
}

// NewEventClock starts at t, with no participant.
func NewEventClock(t time.Time) *EventClock { return &EventClock{now: t} }

// Now returns the virtual time.
func (c *EventClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Go runs f in a new participant goroutine.
func (c *EventClock) Go(f func()) {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			c.running--
			c.advance()
			c.mu.Unlock()
		}()
		f()
	}()
}

// Sleep blocks the calling participant for d of virtual time, or until ctx ends.
func (c *EventClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	c.mu.Lock()
	c.seq++
	s := &sleeper{at: c.now.Add(d), seq: c.seq, wake: make(chan struct{})}
	heap.Push(&c.sleepers, s)
	c.running--
	c.advance()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if s.index >= 0 { // still asleep: leave the heap and run again
			heap.Remove(&c.sleepers, s.index)
			c.running++
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// advance wakes the earliest sleeper when nobody runs. Call with mu held.
func (c *EventClock) advance() {
	if c.running > 0 || len(c.sleepers) == 0 {
		return
	}
	s := heap.Pop(&c.sleepers).(*sleeper)
	if s.at.After(c.now) {
		c.now = s.at
	}
	c.running++
	close(s.wake)
}

type sleeper struct {
	at    time.Time
	seq   uint64
	index int // in the heap; -1 once popped
	wake  chan struct{}
}

type sleeperHeap []*sleeper

func (h sleeperHeap) Len() int { return len(h) }
func (h sleeperHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h sleeperHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sleeperHeap) Push(x any) {
	s := x.(*sleeper)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sleeperHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	s.index = -1
	return s
}
