package engine_test

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// TestCrashSafety runs the connector as a separate process and SIGKILLs it at random moments
// while the simulator keeps changing messages. At the end a read_committed consumer must see
// every message created exactly once, a status chain per message that is unbroken, matches
// the final truth and never invents a transition, and each deletion exactly once.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a process 24 times")
	}
	crashSafety(t, newEnv(t))
}

// TestCrashSafetyConcurrent is the same with 8 walks in flight, each request taking ~40 ms,
// so the kills land between walks read, batched and committed together.
func TestCrashSafetyConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a process 24 times")
	}
	e := newEnv(t)
	e.sim.SetFaults(partoosim.Faults{Latency: 40 * time.Millisecond, LatencyP99: 120 * time.Millisecond})
	crashSafety(t, e, "PARTOO_MAX_IN_FLIGHT=8")
	if n := e.sim.Counters().MaxConcurrent; n < 8 {
		t.Errorf("at most %d requests were in flight at once, want 8", n)
	}
}

func crashSafety(t *testing.T, e *env, extraEnv ...string) {
	start := e.processStarter(t, extraEnv...)

	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{
		MessagesPerSecond: 15, NewConversationShare: 0.1, DeleteRatio: 0.4,
		StatusDelayMin: 100 * time.Millisecond, StatusDelayMax: 2 * time.Second,
		FailureRatio: 0.3, RetryRatio: 0.8, RetryDelayMax: 6 * time.Second, DeleteDelayMax: 4 * time.Second,
	}, 11)
	gen.Populate(12, 8, time.Hour)
	genCtx, stopGen := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	go func() { defer close(genDone); _ = gen.Run(genCtx, 20*time.Millisecond) }()
	defer stopGen()

	rnd := rand.New(rand.NewPCG(5, 5))
	const kills = 24
	for i := 0; i < kills; i++ {
		cmd := start()
		time.Sleep(time.Duration(300+rnd.IntN(1700)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if i%6 == 5 { // now and then a message disappears from the API altogether
			ids := e.sim.ConversationIDs()
			if msgs := e.sim.Messages(ids[rnd.IntN(len(ids))]); len(msgs) > 1 {
				_ = e.sim.VanishMessage(msgs[rnd.IntN(len(msgs)-1)].ID)
			}
		}
	}
	stopGen()
	<-genDone
	// Let every pending transition play out in the simulator, then one last, clean run.
	final := start()
	time.Sleep(8 * time.Second)
	_ = final.Process.Signal(syscall.SIGTERM)
	if err := final.Wait(); err != nil {
		t.Fatalf("the final run did not stop cleanly: %v", err)
	}

	evs := e.readEvents(t)
	truth := e.sim.Changes(0)
	t.Logf("%d kills, %d ground-truth changes, %d events", kills, len(truth), len(evs))
	checkExactlyOnce(t, e, evs, truth)
}

// TestGracefulShutdown: SIGTERM while walking and committing exits 0 within 10 s, and a restart
// emits no duplicate.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	start := e.processStarter(t)
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{MessagesPerSecond: 20, StatusDelayMax: 2 * time.Second, DeleteRatio: 0.4}, 3)
	gen.Populate(20, 10, time.Hour)
	ctx, stopGen := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	go func() { defer close(genDone); _ = gen.Run(ctx, 20*time.Millisecond) }()
	defer stopGen()

	cmd := start()
	e.waitEvents(t, "events flowing", func(evs []event) bool { return len(evs) > 100 })
	began := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	took := time.Since(began)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	// Within Kubernetes' default grace period (30 s) even on a busy machine; about 1 s idle.
	if took > 25*time.Second {
		t.Fatalf("took %v to stop, want well within the 30 s grace period", took)
	}
	t.Logf("stopped %v after SIGTERM", took.Round(time.Millisecond))
	stopGen()
	<-genDone

	cmd = start()
	time.Sleep(6 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	checkExactlyOnce(t, e, e.readEvents(t), e.sim.Changes(0))
}
