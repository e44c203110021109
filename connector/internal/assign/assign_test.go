package assign_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// replica plays a connector replica: it runs what it is assigned, stopping first what it lost
// (taking a while, as an engine finishing its transaction does), and records every overlap:
// an organisation started here while another replica still runs it.
type replica struct {
	name   string
	m      *assign.Member
	world  *world
	cancel context.CancelFunc
	done   chan struct{}
}

// world is what all replicas run, for the test to check.
type world struct {
	mu       sync.Mutex
	runner   map[string]string // organisation -> replica running it
	overlaps []string
}

func (w *world) start(org, rep string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if other, ok := w.runner[org]; ok && other != rep {
		w.overlaps = append(w.overlaps, fmt.Sprintf("%s started on %s while %s runs it", org, rep, other))
	}
	w.runner[org] = rep
}

func (w *world) stop(org, rep string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.runner[org] == rep {
		delete(w.runner, org)
	}
}

// counts returns how many organisations each live replica runs.
func (w *world) counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, r := range w.runner {
		out[r]++
	}
	return out
}

func join(t *testing.T, cl *kafkatest.Cluster, w *world, name, topic, group string, available []string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := assign.Join(ctx, assign.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(cl.Brokers...)}, Topic: topic, Group: group,
		SessionTimeout: 6 * time.Second}, available, "file-1")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, m: m, world: w, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r
}

func (r *replica) run(ctx context.Context) {
	defer close(r.done)
	var running []string
	for {
		select {
		case <-ctx.Done():
			for _, o := range running {
				r.world.stop(o, r.name)
			}
			return
		case want := <-r.m.Assignments():
			var kept []string
			for _, o := range running {
				if slices.Contains(want, o) {
					kept = append(kept, o)
				} else {
					time.Sleep(50 * time.Millisecond) // an engine finishing its transaction
					r.world.stop(o, r.name)
				}
			}
			for _, o := range want {
				if !slices.Contains(kept, o) {
					r.world.start(o, r.name)
					kept = append(kept, o)
				}
			}
			running = kept
			r.m.SetOwned(running)
		}
	}
}

// leave stops the replica's organisations, then leaves the group (a graceful stop).
func (r *replica) leave() {
	r.cancel()
	<-r.done
	r.m.Close()
}

func waitBalanced(t *testing.T, w *world, replicas, orgs int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := w.counts()
		total, lo, hi := 0, orgs, 0
		for _, n := range c {
			total += n
			lo, hi = min(lo, n), max(hi, n)
		}
		if len(c) == replicas && total == orgs && hi-lo <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not balanced after %v: %v (want %d organisations on %d replicas, within one)", within, c, orgs, replicas)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("org-%02d", i)
	}
	return out
}

// TestReplicasShareOrganisations: three replicas join one group and end up running 12
// organisations, four each, never two at once; a fourth joins and takes its share; one leaves
// and the others take its organisations; a file that lists one more organisation on every
// replica makes it run somewhere, and one fewer makes it stop.
func TestReplicasShareOrganisations(t *testing.T) {
	cl := kafkatest.New(t)
	topic, group := kafkatest.Topic(t), kafkatest.Topic(t)
	w := &world{runner: map[string]string{}}
	orgs := names(12)
	var reps []*replica
	for i := range 3 {
		reps = append(reps, join(t, cl, w, fmt.Sprintf("r%d", i), topic, group, orgs))
	}
	defer func() {
		for _, r := range reps {
			r.leave()
		}
	}()
	waitBalanced(t, w, 3, 12, 60*time.Second)

	reps = append(reps, join(t, cl, w, "r3", topic, group, orgs))
	waitBalanced(t, w, 4, 12, 60*time.Second)

	reps[0].leave()
	reps = reps[1:]
	waitBalanced(t, w, 3, 12, 60*time.Second)

	more := names(13)
	reps[0].m.SetAvailable(more, "file-2") // the first replica to read the new file
	kafkatest.WaitFor(t, "the group to describe two files", 30*time.Second, func() bool { return len(files(t, cl, group)) == 2 })
	for _, r := range reps[1:] {
		r.m.SetAvailable(more, "file-2")
	}
	waitBalanced(t, w, 3, 13, 60*time.Second)
	kafkatest.WaitFor(t, "the group to describe one file", 30*time.Second, func() bool {
		f := files(t, cl, group)
		return len(f) == 1 && f["file-2"] == 3
	})
	for _, r := range reps {
		r.m.SetAvailable(orgs, "file-3")
	}
	waitBalanced(t, w, 3, 12, 60*time.Second)
	if c := w.counts(); len(c) != 3 {
		t.Fatalf("counts = %v", c)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.runner["org-12"]; ok {
		t.Error("org-12, gone from every file, still runs")
	}
	if len(w.overlaps) > 0 {
		t.Errorf("organisations ran on two replicas at once: %v", w.overlaps)
	}
}

// TestRefusedJoinIsReported: a session timeout the broker refuses (below its
// group.min.session.timeout.ms) is not a silent wait: the member reports why it is not in the
// group.
func TestRefusedJoinIsReported(t *testing.T) {
	cl := kafkatest.New(t)
	if !cl.Real() {
		t.Skip("kfake does not enforce group.min.session.timeout.ms")
	}
	m, err := assign.Join(context.Background(), assign.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(cl.Brokers...)},
		Topic: kafkatest.Topic(t), Group: kafkatest.Topic(t), SessionTimeout: 2 * time.Second}, []string{"a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	kafkatest.WaitFor(t, "the refused join to be reported", 30*time.Second, func() bool { return m.GroupError() != nil })
	if m.Joined() || !strings.Contains(m.GroupError().Error(), "INVALID_SESSION_TIMEOUT") {
		t.Errorf("joined %v, error %v", m.Joined(), m.GroupError())
	}
}

// files counts the group's members by the digest of the file they read.
func files(t *testing.T, cl *kafkatest.Cluster, group string) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := assign.Describe(ctx, cl.Admin(t), group)
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for _, m := range members {
		out[m.File]++
	}
	return out
}
