package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
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

func checkExactlyOnce(t *testing.T, e *env, evs []event, truth []partoosim.Change) {
	t.Helper()
	broken, pending, checked := exactlyOnceProblems(e, evs, truth, nil)
	for _, p := range append(broken, pending...) {
		t.Error(p)
	}
	if len(broken)+len(pending) > 0 || checked == 0 {
		t.Fatalf("%d problems over %d messages", len(broken)+len(pending), checked)
	}
	t.Logf("checked %d messages: none lost, none duplicated", checked)
}

// exactlyOnceProblems compares the events with the simulator's ground truth. expect tells
// which messages must be published (nil: every message with a known sender_type); the others
// must have no event. broken lists what can never heal (a duplicate, a broken status chain, an
// event for a message that must not have one); pending lists what may still be on its way (a
// message not yet published, or not yet in its final status).
func exactlyOnceProblems(e *env, evs []event, truth []partoosim.Change, expect func(conv int64, m model.Message) bool) (broken, pending []string, checked int) {
	if expect == nil {
		expect = func(_ int64, m model.Message) bool { return m.SenderType.Known() }
	}
	// Ground truth per message: the sequence of statuses it went through.
	history := map[int64][]model.Status{}
	vanished := map[int64]bool{}
	for _, c := range truth {
		switch c.Type {
		case partoosim.ChangeCreated, partoosim.ChangeStatusChanged:
			history[c.MessageID] = append(history[c.MessageID], c.Status)
		case partoosim.ChangeVanished:
			vanished[c.MessageID] = true
		}
	}
	ids := map[string]event{}
	type seen struct {
		created  int
		deleted  int
		reason   string
		statuses []model.Status
		conv     string
	}
	per := map[int64]*seen{}
	for _, ev := range evs {
		id := ev.Body["event_id"].(string)
		m := ev.msgID()
		if first, dup := ids[id]; dup {
			broken = append(broken, fmt.Sprintf("duplicate event %s: %s of message %d at [%d]@%d (producer %s) and [%d]@%d (producer %s)",
				id, ev.Type, m, first.Partition, first.Offset, first.Producer, ev.Partition, ev.Offset, ev.Producer))
			continue
		}
		ids[id] = ev
		s := per[m]
		if s == nil {
			s = &seen{conv: ev.Key}
			per[m] = s
		}
		if s.deleted > 0 {
			broken = append(broken, fmt.Sprintf("message %d: %s after its deletion", m, ev.Type))
		}
		switch ev.Type {
		case "MessageCreated":
			s.created++
			s.statuses = append(s.statuses, model.Status(ev.Body["message"].(map[string]any)["status_raw"].(string)))
		case "StatusChanged":
			if s.created == 0 {
				broken = append(broken, fmt.Sprintf("message %d: StatusChanged before MessageCreated", m))
				continue
			}
			last := s.statuses[len(s.statuses)-1]
			if prev := model.Status(ev.Body["previous_status_raw"].(string)); prev != last {
				broken = append(broken, fmt.Sprintf("message %d: status chain broken: recorded %s, event says previous %s (a lost or duplicated event)", m, last, prev))
			}
			s.statuses = append(s.statuses, model.Status(ev.Body["status_raw"].(string)))
		case "MessageDeleted":
			if s.created == 0 {
				broken = append(broken, fmt.Sprintf("message %d: MessageDeleted before MessageCreated", m))
			}
			s.deleted++
			s.reason = ev.Body["reason"].(string)
		}
	}
	for _, cid := range e.sim.ConversationIDs() {
		for _, msg := range e.sim.Messages(cid) {
			s := per[msg.ID]
			if !expect(cid, msg) {
				if s != nil {
					broken = append(broken, fmt.Sprintf("message %d (conversation %d, sender_type %s) must not be published", msg.ID, cid, msg.SenderType))
				}
				continue
			}
			checked++
			if s == nil {
				pending = append(pending, fmt.Sprintf("message %d (conversation %d) never reached Kafka", msg.ID, cid))
				continue
			}
			if s.created != 1 {
				broken = append(broken, fmt.Sprintf("message %d created %d times", msg.ID, s.created))
			}
			if s.conv != fmt.Sprint(cid) {
				broken = append(broken, fmt.Sprintf("message %d keyed %s, want %d", msg.ID, s.conv, cid))
			}
			if !isSubsequence(s.statuses, history[msg.ID]) {
				broken = append(broken, fmt.Sprintf("message %d: observed %v is not a subsequence of the truth %v", msg.ID, s.statuses, history[msg.ID]))
			}
			if got := s.statuses[len(s.statuses)-1]; got != msg.Status {
				pending = append(pending, fmt.Sprintf("message %d: events end in %s, Partoo says %s", msg.ID, got, msg.Status))
			}
			if s.deleted > 1 || (s.deleted == 1 && (!msg.IsDeleted || s.reason != "ConsumerDeleted")) {
				broken = append(broken, fmt.Sprintf("message %d: is_deleted=%v but %d deletions (%s)", msg.ID, msg.IsDeleted, s.deleted, s.reason))
			} else if msg.IsDeleted && s.deleted == 0 {
				pending = append(pending, fmt.Sprintf("message %d: deleted in Partoo, no MessageDeleted yet", msg.ID))
			}
		}
	}
	for m := range vanished {
		if s := per[m]; s != nil && s.deleted > 1 {
			broken = append(broken, fmt.Sprintf("vanished message %d has %d deletions", m, s.deleted))
		} else if s != nil && s.deleted == 0 {
			pending = append(pending, fmt.Sprintf("vanished message %d has no deletion yet", m))
		}
	}
	return broken, pending, checked
}

func isSubsequence(sub, seq []model.Status) bool {
	j := 0
	for _, s := range seq {
		if j < len(sub) && sub[j] == s {
			j++
		}
	}
	return j == len(sub)
}

// binDir holds the connector binary built for this test run; TestMain removes it.
var binDir string

// connectorBinary builds the connector once per test binary run.
var connectorBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "partoo-connector")
	build := exec.Command("go", "build", "-o", bin, "github.com/partoo-connector/partoo-connector/cmd/partoo-connector")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	// The built binary names its franz-go version (a test binary of connectorcli cannot: its
	// build information lists no dependencies).
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.Contains(string(out), " franz-go=v1.") {
		return "", fmt.Errorf("%s version: %q, %v", bin, out, err)
	}
	return bin, nil
})

// processStarter builds the connector binary and returns a function that starts it as a
// separate process configured for this env; extra variables override the defaults.
func (e *env) processStarter(t *testing.T, extra ...string) func() *exec.Cmd {
	bin, err := connectorBinary()
	if err != nil {
		t.Fatal(err)
	}
	envv := append(os.Environ(),
		"PARTOO_API_URL="+e.url, "PARTOO_API_KEY=k", "PARTOO_REQUESTS_PER_MINUTE=100000", "PARTOO_PER_PAGE=7",
		"KAFKA_BROKERS="+strings.Join(e.cluster.Brokers, ","), "KAFKA_EVENTS_TOPIC="+e.topics.Events,
		"KAFKA_STATE_TOPIC="+e.topics.State, "KAFKA_TRANSACTIONAL_ID="+e.txnID, "KAFKA_EVENTS_PARTITIONS=3",
		"KAFKA_STATE_PARTITIONS=3", "LOG_LEVEL=warn", "LOG_FORMAT=text", "HTTP_ADDR=127.0.0.1:0",
		// Vanished deletions confirmed over seconds, not the default 5 minutes.
		"PARTOO_VANISH_CONFIRM_AFTER=2s")
	envv = append(envv, extra...) // later entries win
	return func() *exec.Cmd {
		cmd := exec.Command(bin, "run")
		cmd.Env = envv
		cmd.Stderr = &prefixWriter{t: t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

}

// prefixWriter forwards a child's log lines to the test log, and keeps them.
type prefixWriter struct {
	t   *testing.T
	mu  sync.Mutex
	all strings.Builder
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.all.Write(b)
	w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.t.Log("connector: " + line)
		}
	}
	return len(b), nil
}

// String returns everything written so far.
func (w *prefixWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
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
	if took > 10*time.Second {
		t.Fatalf("took %v to stop, want < 10 s", took)
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
