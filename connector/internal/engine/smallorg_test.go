//go:build unix

package engine_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// cpuTime is the CPU time the test process has used so far (user and system).
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestFewFixedIDsIdleUseAlmostNoCPU: with one or two ids in PARTOO_CONVERSATION_IDS and
// nothing changing, the connector walks them once per sweep interval and waits in between:
// measured over 6 s of process CPU time (user + system, broker and simulator included when
// they run in process), it stays under 1 % of a core. The scheduler that spun used 15–25 %.
func TestFewFixedIDsIdleUseAlmostNoCPU(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			partoosim.NewGenerator(e.sim, partoosim.Activity{}, 1).Populate(5, 3, time.Hour)
			ids := e.sim.ConversationIDs()[:n]
			want := 0
			for _, id := range ids {
				want += len(e.sim.Messages(id))
			}
			opt := e.options()
			opt.ConversationIDs = ids
			r := e.start(opt)
			e.waitEvents(t, "the fixed conversations' snapshot", func(evs []event) bool { return len(evs) >= want })
			r.waitWalks(t, int64(2*n)) // settled: past the first sweeps and their commits
			const window = 6 * time.Second
			walks, cpu0, wall0 := r.c.Walks(), cpuTime(t), time.Now()
			time.Sleep(window)
			cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
			share := float64(cpu) / float64(wall)
			t.Logf("%d fixed ids, idle: %v of CPU in %v (%.2f %% of a core), %d walks", n, cpu.Round(time.Millisecond),
				wall.Round(time.Millisecond), 100*share, r.c.Walks()-walks)
			if share > 0.01 {
				t.Fatalf("%d fixed ids with nothing to do used %.2f %% of a core (%v in %v), want < 1 %%", n, 100*share, cpu, wall)
			}
		})
	}
}

// TestSmallOrganisationFirstWalkWithinSeconds: an organisation of one or two conversations
// with old messages, on Partoo's default budget (300/min), is snapshotted within seconds of
// the start (the connector that listed in a loop took about a minute), and once it is, the
// listing takes about one request per discovery interval (2 s), not the budget, and the
// process next to no CPU (generous bound: 5 % of a core).
func TestSmallOrganisationFirstWalkWithinSeconds(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			partoosim.NewGenerator(e.sim, partoosim.Activity{}, 1).Populate(n, 3, 24*time.Hour)
			want := e.publishable()
			opt := e.options()
			opt.Partoo.RequestsPerMinute = 300
			start := time.Now()
			r := e.start(opt)
			e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= want })
			took := time.Since(start)
			listed0, walks0, cpu0, wall0 := e.sim.Counters().ByEndpoint["/v2/conversations"][200], r.c.Walks(), cpuTime(t), time.Now()
			const window = 6 * time.Second
			time.Sleep(window)
			listings := e.sim.Counters().ByEndpoint["/v2/conversations"][200] - listed0
			cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
			t.Logf("%d conversations: snapshot published %v after the start; then %d listings, %d walks and %v of CPU (%.2f %% of a core) in %v",
				n, took.Round(time.Millisecond), listings, r.c.Walks()-walks0, cpu.Round(time.Millisecond), 100*float64(cpu)/float64(wall), window)
			if share := float64(cpu) / float64(wall); share > 0.05 {
				t.Fatalf("%d conversations, nothing changing: %.2f %% of a core, want well under 5 %%", n, 100*share)
			}
			if took > 15*time.Second {
				t.Fatalf("the snapshot of %d conversations took %v, want seconds", n, took)
			}
			// 3 discoveries in 6 s; generous for a busy machine, far below the 27 of a loop.
			if listings > 8 {
				t.Fatalf("%d listings in %v, want about one per 2 s", listings, window)
			}
		})
	}
}
