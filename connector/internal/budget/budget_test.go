package budget_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// TestReserveLeavesAShareUnused: with a 10 % reserve, a greedy caller gets 270 of 300
// requests a minute.
func TestReserveLeavesAShareUnused(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := budget.New(budget.Config{RequestsPerMinute: 300, Reserve: 0.1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	end := clk.Now().Add(10 * time.Minute)
	n := 0
	for clk.Now().Before(end) {
		if err := b.Wait(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if perMin := float64(n) / 10; perMin < 265 || perMin > 272 {
		t.Fatalf("%.1f requests a minute, want 270 (300 less 10 %%)", perMin)
	}
	if _, err := budget.New(budget.Config{Reserve: 0.95}); err == nil {
		t.Fatal("a reserve of 95 % must be refused")
	}
}

// TestLimitBelowTheBurst: a limit below the default burst of 5 (a small organisation's share
// of a shared key) is valid, and holds: 3 requests a minute.
func TestLimitBelowTheBurst(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := budget.New(budget.Config{RequestsPerMinute: 3, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	end := clk.Now().Add(10 * time.Minute)
	n := 0
	for clk.Now().Before(end) {
		if err := b.Wait(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 27 || n > 31 {
		t.Fatalf("%d requests in 10 minutes, want about 30", n)
	}
}

// TestBudgetServesEarliestDeadlineFirst: requests waiting for the budget are served by
// arrival + priority. A fresh request overtakes a queue of background ones and gets its token
// at once (background work leaves it one); with more fresh requests coming than the budget
// serves, a Sending-like one (priority 3 s) and background ones (a minute) still get through
// ahead of every fresh request that arrived after their deadline: nothing starves.
func TestBudgetServesEarliestDeadlineFirst(t *testing.T) {
	clk := clock.NewEvent(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := budget.New(budget.Config{RequestsPerMinute: 60, Clock: clk}) // a token a second
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type req struct {
		arrived, served time.Time
		prio            budget.Priority
	}
	var mu sync.Mutex
	reqs := map[string]*req{}
	wait := func(name string, p budget.Priority) {
		r := &req{arrived: clk.Now(), prio: p}
		mu.Lock()
		reqs[name] = r
		mu.Unlock()
		clk.Go(func() {
			if b.Wait(ctx, budget.NewTicket(p)) == nil {
				mu.Lock()
				r.served = clk.Now()
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	clk.Go(func() {
		defer close(done)
		for i := 0; i < 5; i++ { // the burst
			_ = b.Wait(ctx, nil)
		}
		for i := 0; i < 8; i++ {
			wait(fmt.Sprint("background ", i), budget.PriorityLow)
		}
		_ = clock.Sleep(ctx, clk, 3500*time.Millisecond) // three background requests served meanwhile
		wait("fresh", budget.PriorityNormal)
		wait("sending", budget.Priority(3*time.Second))
		// Fresh requests keep coming for 100 s, two a second: twice what the budget serves.
		for i := 0; i < 200; i++ {
			_ = clock.Sleep(ctx, clk, 500*time.Millisecond)
			wait(fmt.Sprint("later ", i), budget.PriorityNormal)
		}
		_ = clock.Sleep(ctx, clk, 2*time.Minute)
	})
	<-done
	mu.Lock()
	defer mu.Unlock()
	if f := reqs["fresh"]; f.served.IsZero() || f.served.Sub(f.arrived) > 100*time.Millisecond {
		t.Errorf("the fresh request waited %v behind background work, want no wait", f.served.Sub(f.arrived))
	}
	for name, r := range reqs {
		if r.served.IsZero() {
			t.Errorf("%s never served", name)
			continue
		}
		if r.prio == budget.PriorityNormal {
			continue
		}
		deadline := r.arrived.Add(time.Duration(r.prio))
		for other, o := range reqs {
			if o.prio == budget.PriorityNormal && o.arrived.After(deadline) && o.served.Before(r.served) {
				t.Errorf("%s (deadline %v) was served after %s, which arrived at %v", name, deadline.Format("15:04:05"), other, o.arrived.Format("15:04:05"))
				break
			}
		}
	}
}

// TestTicketTellsWhetherWorkStarted: a ticket's priority can be raised while its request
// waits, and it says when one of its requests got through.
func TestTicketTellsWhetherWorkStarted(t *testing.T) {
	b, err := budget.New(budget.Config{RequestsPerMinute: 60, Clock: clock.NewManual(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	tk := budget.NewTicket(budget.PriorityLow)
	tk.Raise(budget.Priority(time.Second))
	tk.Raise(budget.PriorityLow) // never lowered
	if tk.Priority() != budget.Priority(time.Second) || tk.Started() {
		t.Fatalf("priority %v, started %v", tk.Priority(), tk.Started())
	}
	if err := b.Wait(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	if !tk.Started() {
		t.Fatal("a request went through, yet the ticket does not say so")
	}
}
