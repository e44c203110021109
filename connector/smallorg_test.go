//go:build unix

package connector_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/partoosim"
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
