//go:build unix

package engine_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
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
// nothing changing, the connector walks them once per sweep interval (2 s) and waits in
// between. The scheduler that spun picked millions of times and used a whole core. What is
// asserted is counted, not timed, so a busy machine can only make it smaller: over a 6 s
// window, at most a few picks, walks and requests per id. The process's CPU share is logged
// (well under 1 % of a core on an idle machine) but is no pass mark: speed belongs in
// benchmarks.
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
			opt.Metrics = metrics.New(metrics.Gauges{})
			r := e.start(opt)
			e.waitEvents(t, "the fixed conversations' snapshot", func(evs []event) bool { return len(evs) >= want })
			r.waitWalks(t, int64(2*n)) // settled: past the first sweeps and their commits
			const window = 6 * time.Second
			picks0, requests0 := counterSum(t, opt.Metrics, "partoo_connector_scheduler_picks_total"), e.sim.Counters().Total
			walks, cpu0, wall0 := r.c.Walks(), cpuTime(t), time.Now()
			time.Sleep(window)
			cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
			picks, requests := counterSum(t, opt.Metrics, "partoo_connector_scheduler_picks_total")-picks0, e.sim.Counters().Total-requests0
			walked := r.c.Walks() - walks
			t.Logf("%d fixed ids, idle for %v: %v picks, %d walks, %d requests, %v of CPU (%.2f %% of a core)", n, wall.Round(time.Millisecond),
				picks, walked, requests, cpu.Round(time.Millisecond), 100*float64(cpu)/float64(wall))
			// One sweep per 2 s walks each id once (a walk takes a request or two): in the
			// window, about 3 per id; 10 per id (and 10 more) is generous, millions are a spin.
			limit := float64(10*n + 10)
			if picks > limit || float64(walked) > limit || float64(requests) > 2*limit {
				t.Fatalf("%d fixed ids with nothing to do: %v picks, %d walks, %d requests in %v; want at most %v picks and walks", n, picks, walked, requests, wall, limit)
			}
		})
	}
}

// counterSum adds every series of a counter of m.
func counterSum(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, s := range series(t, m, name) {
		sum += s.counter
	}
	return sum
}

// TestSmallOrganisationFirstWalkWithinSeconds: an organisation of one or two conversations
// with old messages, on Partoo's default budget (300/min), is snapshotted within seconds of
// the start (the connector that listed in a loop took about a minute), and once it is, the
// listing takes about one request per discovery interval (2 s), not the budget. Counted, not
// timed: the listings before the snapshot was published, and those of a 6 s window after it
// (a busy machine can only make them fewer); the time and CPU are logged.
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
			// The snapshot's requests are counted, not timed (a busy machine only delays
			// them): the connector that listed in a loop spent about a minute of budget first.
			if first := listed0; first > 10 {
				t.Fatalf("%d listings before the snapshot of %d conversations was published, want a few", first, n)
			}
			// 3 discoveries in 6 s; generous for a busy machine, far below the 27 of a loop.
			if listings > 8 {
				t.Fatalf("%d listings in %v, want about one per 2 s", listings, window)
			}
		})
	}
}
