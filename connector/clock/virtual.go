package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Manual is a virtual clock for single-goroutine tests: Now stands still until Advance or a
// Wait moves it; Wait returns at once, after moving it forward by d (or not at all when a wake
// signal is pending).
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual starts at t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the virtual time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Wait implements Clock.
func (c *Manual) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wake.Signaled() || d <= 0 {
		return nil
	}
	c.Advance(d)
	return nil
}

// Scaled runs Factor times faster than the wall clock: a virtual minute passes in 60/Factor
// real seconds. Concurrent code keeps its real interleaving.
type Scaled struct {
	factor    float64
	realStart time.Time
	virtStart time.Time
}

// NewScaled starts at virtual time start, running factor times faster than real time.
func NewScaled(start time.Time, factor float64) *Scaled {
	return &Scaled{factor: factor, realStart: time.Now(), virtStart: start}
}

// Now returns the virtual time.
func (c *Scaled) Now() time.Time {
	return c.virtStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.factor))
}

// Wait implements Clock.
func (c *Scaled) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	return Real{}.Wait(ctx, time.Duration(float64(d)/c.factor), wake)
}

// Event is virtual time for concurrent simulations: time stands still while any participant
// goroutine runs, and when every one of them waits it jumps to the earliest wake-up. The
// result depends neither on the machine's speed nor on its load.
//
// Participants are the goroutines started with Go. Only they may Wait, and they must block on
// nothing else for long (a mutex held briefly is fine; a channel another participant fills is
// not — use a Wake, which the clock sees): the clock could not tell they are blocked. HTTP
// requests between participants must be served in process (no sockets). Now may be called
// from anywhere.
type Event struct {
	mu       sync.Mutex
	now      time.Time
	running  int
	seq      uint64
	sleepers sleeperHeap
}

// NewEvent starts at t, with no participant.
func NewEvent(t time.Time) *Event { return &Event{now: t} }

// Now returns the virtual time.
func (c *Event) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Go runs f in a new participant goroutine.
func (c *Event) Go(f func()) {
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

// Wait implements Clock for a participant.
func (c *Event) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wake.Signaled() || d <= 0 {
		return nil
	}
	c.mu.Lock()
	c.seq++
	s := &sleeper{at: c.now.Add(d), seq: c.seq, wake: make(chan struct{})}
	heap.Push(&c.sleepers, s)
	c.running--
	if wake != nil {
		// A signal wakes this participant under the clock's lock, so time cannot move on
		// between the signal and the participant running again.
		wake.mu.Lock()
		wake.hook = func() bool { return c.rouse(s) }
		wake.mu.Unlock()
	}
	c.advance()
	c.mu.Unlock()
	select {
	case <-s.wake:
	case <-ctx.Done():
		c.rouse(s)
		<-s.wake
		if wake != nil {
			wake.mu.Lock()
			wake.hook = nil
			wake.mu.Unlock()
		}
		return ctx.Err()
	}
	if wake != nil {
		wake.mu.Lock()
		wake.hook = nil
		wake.mu.Unlock()
	}
	return nil
}

// rouse wakes s now if it still sleeps, and reports whether it did.
func (c *Event) rouse(s *sleeper) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.index < 0 {
		return false
	}
	heap.Remove(&c.sleepers, s.index)
	c.running++
	close(s.wake)
	return true
}

// advance wakes the earliest sleeper when nobody runs. Call with mu held.
func (c *Event) advance() {
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
	index int // in the heap; -1 once out
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
