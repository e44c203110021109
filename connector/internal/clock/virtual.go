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

// Event is virtual time for concurrent simulations, run one participant at a time: a
// participant goroutine (started with Go) runs until it waits, then the next one due runs;
// when none is due, time jumps to the earliest wake-up. Only one participant runs at any
// moment, in an order fixed by the wake-up times (then by arrival), so a simulation's result
// depends neither on the machine's speed nor on its load, nor on the Go scheduler.
//
// Participants may Wait; they must not block on anything else but a mutex held briefly (a
// channel another participant fills would block for ever: use a Wake, which the clock sees).
// HTTP requests between participants must be served in process (no sockets). Now and
// Wake.Signal may be called from anywhere.
type Event struct {
	mu       sync.Mutex
	now      time.Time
	busy     bool // a participant runs
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

// Go runs f as a new participant: it starts when the running one waits. A participant may
// start others with Go at any time. From outside the simulation (a test's goroutine), start
// every first participant in one Start call instead: a second Go from outside races with the
// first participant, which may already have let time jump ahead by the time it arrives.
func (c *Event) Go(f func()) { c.Start(f) }

// Start runs fs as new participants, all queued at the current instant before any of them
// runs. It is how a simulation begins from outside: the result then does not depend on how
// fast the calling goroutine reaches its next line.
func (c *Event) Start(fs ...func()) {
	c.mu.Lock()
	ss := make([]*sleeper, len(fs))
	for i := range fs {
		ss[i] = c.enqueue(c.now)
	}
	c.advance()
	c.mu.Unlock()
	for i, f := range fs {
		s := ss[i]
		go func() {
			<-s.wake
			defer func() {
				c.mu.Lock()
				c.busy = false
				c.advance()
				c.mu.Unlock()
			}()
			f()
		}()
	}
}

// Wait implements Clock for a participant: it hands the turn over until d has passed, ctx
// ends or wake is signalled, and returns when it has the turn again.
func (c *Event) Wait(ctx context.Context, d time.Duration, wake *Wake) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if wake.Signaled() {
		return nil
	}
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	s := c.enqueue(c.now.Add(d))
	if wake != nil {
		// A signal makes this participant due now, under the clock's lock: time cannot move
		// on between the signal and its turn.
		wake.mu.Lock()
		wake.hook = func() bool { return c.rouse(s) }
		wake.mu.Unlock()
	}
	c.busy = false
	c.advance()
	c.mu.Unlock()
	var err error
	select {
	case <-s.wake:
	case <-ctx.Done():
		c.rouse(s) // due now: wait for the turn, then return
		<-s.wake
		err = ctx.Err()
	}
	if wake != nil {
		wake.mu.Lock()
		wake.hook = nil
		wake.mu.Unlock()
	}
	return err
}

// enqueue adds a sleeper due at at. Call with mu held.
func (c *Event) enqueue(at time.Time) *sleeper {
	c.seq++
	s := &sleeper{at: at, seq: c.seq, wake: make(chan struct{})}
	heap.Push(&c.sleepers, s)
	return s
}

// rouse makes s due now if it still sleeps, and reports whether it did.
func (c *Event) rouse(s *sleeper) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.index < 0 {
		return false
	}
	if s.at.After(c.now) {
		s.at = c.now
		heap.Fix(&c.sleepers, s.index)
	}
	c.advance()
	return true
}

// advance gives the turn to the earliest sleeper when nobody runs. Call with mu held.
func (c *Event) advance() {
	if c.busy || len(c.sleepers) == 0 {
		return
	}
	s := heap.Pop(&c.sleepers).(*sleeper)
	if s.at.After(c.now) {
		c.now = s.at
	}
	c.busy = true
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
