package clock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestEventClockWakesExactly: with every participant waiting, time jumps to the earliest
// wake-up; a Wake signalled by a participant ends another's Wait at that very instant.
func TestEventClockWakesExactly(t *testing.T) {
	c := clock.NewEvent(t0)
	w := clock.NewWake()
	var mu sync.Mutex
	var woke, signalled time.Time
	var wg sync.WaitGroup
	wg.Add(2)
	c.Start(func() {
		defer wg.Done()
		_ = c.Wait(context.Background(), time.Hour, w)
		mu.Lock()
		woke = c.Now()
		mu.Unlock()
	}, func() {
		defer wg.Done()
		_ = c.Wait(context.Background(), 90*time.Second, nil)
		mu.Lock()
		signalled = c.Now()
		mu.Unlock()
		w.Signal()
		_ = c.Wait(context.Background(), 10*time.Minute, nil)
	})
	wg.Wait()
	if want := t0.Add(90 * time.Second); !woke.Equal(want) || !signalled.Equal(want) {
		t.Fatalf("woke at %v, signalled at %v; want both at %v", woke, signalled, want)
	}
	if got := c.Now(); !got.Equal(t0.Add(90*time.Second + 10*time.Minute)) {
		t.Fatalf("time ended at %v", got)
	}
}

// TestEventClockStartQueuesTogether: participants started together begin at the same
// instant. Started one by one from outside, with the starting goroutine slow (a busy machine),
// the first one's wait moves time on before the second arrives — why simulations begin with
// Start.
func TestEventClockStartQueuesTogether(t *testing.T) {
	begins := func(start func(c *clock.Event, first, second func())) time.Time {
		c := clock.NewEvent(t0)
		var began time.Time
		var wg sync.WaitGroup
		wg.Add(2)
		start(c, func() {
			defer wg.Done()
			_ = c.Wait(context.Background(), time.Hour, nil)
		}, func() {
			defer wg.Done()
			began = c.Now()
		})
		wg.Wait()
		return began
	}
	if got := begins(func(c *clock.Event, first, second func()) { c.Start(first, second) }); !got.Equal(t0) {
		t.Fatalf("started together, the second participant began at %v, want %v", got, t0)
	}
	late := begins(func(c *clock.Event, first, second func()) {
		c.Go(first)
		// The test goroutine is slow to reach its next line: by then the first has waited.
		for deadline := time.Now().Add(30 * time.Second); c.Now().Equal(t0) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		c.Go(second)
	})
	if !late.After(t0) {
		t.Fatalf("started one by one with a slow caller, the second began at %v: the hazard Start avoids did not show", late)
	}
}

// TestWakeSentBeforeWaitIsKept: a signal with nobody waiting ends the next Wait at once, on
// every clock.
func TestWakeSentBeforeWaitIsKept(t *testing.T) {
	for name, c := range map[string]clock.Clock{"real": clock.Real{}, "manual": clock.NewManual(t0), "scaled": clock.NewScaled(t0, 1)} {
		w := clock.NewWake()
		w.Signal()
		start := time.Now()
		before := c.Now()
		if err := c.Wait(context.Background(), time.Hour, w); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > time.Second || c.Now().Sub(before) > time.Second {
			t.Fatalf("%s: a pending wake did not end the wait at once", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (clock.Real{}).Wait(ctx, time.Hour, nil); err != context.Canceled {
		t.Fatalf("cancelled wait = %v", err)
	}
}
