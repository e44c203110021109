package connector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/partoo/partootest"
)

// TestCrashSafety runs the connector as a separate process and SIGKILLs it at random moments
// while the simulator keeps changing messages. At the end a read_committed consumer must see
// every message created exactly once, a status chain per message that is unbroken, matches
// the final truth and never invents a transition, and each deletion exactly once.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a process 24 times")
	}
	e := newEnv(t)
	start := e.processStarter(t)

	gen := partootest.NewGenerator(e.sim, partootest.Activity{
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

func checkExactlyOnce(t *testing.T, e *env, evs []event, truth []partootest.Change) {
	t.Helper()
	// Ground truth per message: the sequence of statuses it went through.
	history := map[int64][]partoo.Status{}
	vanished := map[int64]bool{}
	for _, c := range truth {
		switch c.Type {
		case partootest.ChangeCreated, partootest.ChangeStatusChanged:
			history[c.MessageID] = append(history[c.MessageID], c.Status)
		case partootest.ChangeVanished:
			vanished[c.MessageID] = true
		}
	}
	ids := map[string]bool{}
	type seen struct {
		created  int
		deleted  int
		reason   string
		statuses []partoo.Status
		conv     string
	}
	per := map[int64]*seen{}
	for _, ev := range evs {
		id := ev.Body["event_id"].(string)
		if ids[id] {
			t.Fatalf("duplicate event %s: %s of message %d", id, ev.Type, ev.msgID())
		}
		ids[id] = true
		m := ev.msgID()
		s := per[m]
		if s == nil {
			s = &seen{conv: ev.Key}
			per[m] = s
		}
		if s.deleted > 0 {
			t.Fatalf("message %d: %s after its deletion", m, ev.Type)
		}
		switch ev.Type {
		case "MessageCreated":
			s.created++
			s.statuses = append(s.statuses, partoo.Status(ev.Body["message"].(map[string]any)["status_raw"].(string)))
		case "StatusChanged":
			if s.created == 0 {
				t.Fatalf("message %d: StatusChanged before MessageCreated", m)
			}
			last := s.statuses[len(s.statuses)-1]
			if prev := partoo.Status(ev.Body["previous_status_raw"].(string)); prev != last {
				t.Fatalf("message %d: status chain broken: recorded %s, event says previous %s (a lost or duplicated event)", m, last, prev)
			}
			s.statuses = append(s.statuses, partoo.Status(ev.Body["status_raw"].(string)))
		case "MessageDeleted":
			if s.created == 0 {
				t.Fatalf("message %d: MessageDeleted before MessageCreated", m)
			}
			s.deleted++
			s.reason = ev.Body["reason"].(string)
		}
	}
	lost, checked := 0, 0
	for _, cid := range e.sim.ConversationIDs() {
		for _, msg := range e.sim.Messages(cid) {
			if !msg.SenderType.Known() {
				if per[msg.ID] != nil {
					t.Fatalf("message %d with sender_type %s must be ignored", msg.ID, msg.SenderType)
				}
				continue
			}
			checked++
			s := per[msg.ID]
			if s == nil {
				lost++
				t.Errorf("message %d (conversation %d) never reached Kafka", msg.ID, cid)
				continue
			}
			if s.created != 1 {
				t.Errorf("message %d created %d times", msg.ID, s.created)
			}
			if s.conv != fmt.Sprint(cid) {
				t.Errorf("message %d keyed %s, want %d", msg.ID, s.conv, cid)
			}
			if got := s.statuses[len(s.statuses)-1]; got != msg.Status {
				t.Errorf("message %d: events end in %s, Partoo says %s", msg.ID, got, msg.Status)
			}
			if !isSubsequence(s.statuses, history[msg.ID]) {
				t.Errorf("message %d: observed %v is not a subsequence of the truth %v", msg.ID, s.statuses, history[msg.ID])
			}
			if msg.IsDeleted != (s.deleted == 1) || (msg.IsDeleted && s.reason != "ConsumerDeleted") {
				t.Errorf("message %d: is_deleted=%v but %d deletions (%s)", msg.ID, msg.IsDeleted, s.deleted, s.reason)
			}
		}
	}
	for m := range vanished {
		if s := per[m]; s != nil && s.deleted != 1 {
			t.Errorf("vanished message %d has %d deletions", m, s.deleted)
		}
	}
	if lost > 0 || checked == 0 {
		t.Fatalf("%d of %d messages lost", lost, checked)
	}
	t.Logf("checked %d messages: none lost, none duplicated", checked)
}

func isSubsequence(sub, seq []partoo.Status) bool {
	j := 0
	for _, s := range seq {
		if j < len(sub) && sub[j] == s {
			j++
		}
	}
	return j == len(sub)
}

// processStarter builds the connector binary and returns a function that starts it as a
// separate process configured for this env.
func (e *env) processStarter(t *testing.T) func() *exec.Cmd {
	bin := filepath.Join(t.TempDir(), "partoo-connector")
	build := exec.Command("go", "build", "-o", bin, "github.com/partoo-connector/partoo-connector/cmd/partoo-connector")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	envv := append(os.Environ(),
		"PARTOO_API_URL="+e.url, "PARTOO_API_KEY=k", "PARTOO_REQUESTS_PER_MINUTE=100000", "PARTOO_PER_PAGE=7",
		"KAFKA_BROKERS="+strings.Join(e.cluster.Brokers, ","), "KAFKA_EVENTS_TOPIC="+e.topics.Events,
		"KAFKA_STATE_TOPIC="+e.topics.State, "KAFKA_TRANSACTIONAL_ID="+e.txnID, "KAFKA_EVENTS_PARTITIONS=3",
		"KAFKA_STATE_PARTITIONS=3", "LOG_LEVEL=warn", "LOG_FORMAT=text", "HTTP_ADDR=127.0.0.1:0")
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

// prefixWriter forwards a child's log lines to the test log.
type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.t.Log("connector: " + line)
		}
	}
	return len(b), nil
}

// TestGracefulShutdown: SIGTERM while walking and committing exits 0 within 10 s, and a restart
// emits no duplicate.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	start := e.processStarter(t)
	gen := partootest.NewGenerator(e.sim, partootest.Activity{MessagesPerSecond: 20, StatusDelayMax: 2 * time.Second, DeleteRatio: 0.4}, 3)
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
