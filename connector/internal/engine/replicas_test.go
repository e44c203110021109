package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// TestOrganizationsSpreadOverReplicas is the scenario: 3 replicas, 12 organisations
// (one API serving 12 keys, the conversation ids overlap), each organisation changing all
// along. The organisations spread 4/4/4 over the replicas; kill -9 of one moves its four to
// the others, which publish for each within 30 s; the killed one comes back and the spread
// is even again; a rolling restart of all three (SIGTERM, start, wait until the group is
// even) follows; and at the end every organisation's events are exactly once against its own
// ground truth.
func TestOrganizationsSpreadOverReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three connector processes for about two minutes")
	}
	base := newEnv(t)
	orgs := make([]*fileOrg, 12)
	router := map[string]http.Handler{}
	var gens []*partoosim.Generator
	for i := range orgs {
		o := &fileOrg{name: fmt.Sprintf("o%02d", i)}
		if i%2 == 0 {
			o.orgID = int64(9000 + i)
		}
		sim := partoosim.New(partoosim.Config{APIKey: "key-" + o.name, RequestsPerMinute: -1})
		o.env = &env{t: t, sim: sim, cluster: base.cluster, topics: base.topics, txnID: base.txnID}
		router["key-"+o.name] = sim.Handler()
		gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: 1, StatusDelayMax: 2 * time.Second, DeleteRatio: 0.2}, uint64(100+i))
		gen.Populate(4, 3, time.Hour)
		gens = append(gens, gen)
		orgs[i] = o
	}
	if overlapping(orgs[0].env.sim, orgs[1].env.sim) == 0 {
		t.Fatal("the simulators share no conversation id: the test would not show isolation")
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := router[r.Header.Get("x-APIKey")]
		if !ok {
			h = orgs[0].env.sim.Handler() // answers 401
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	genCtx, stopGen := context.WithCancel(context.Background())
	var genWG sync.WaitGroup
	for _, g := range gens {
		genWG.Add(1)
		go func() { defer genWG.Done(); _ = g.Run(genCtx, 50*time.Millisecond) }()
	}
	defer func() { stopGen(); genWG.Wait() }()

	start := base.processStarter(t, "PARTOO_API_URL="+api.URL+"/v2", "PARTOO_API_KEY=",
		"PARTOO_ORGANIZATIONS_FILE="+writeOrganizationsFile(t, orgs), "PARTOO_REQUESTS_PER_MINUTE=3000",
		"KAFKA_LEADER_ELECTION=true", "KAFKA_LEASE_SESSION_TIMEOUT=6s", "LOG_LEVEL=info")
	group := base.txnID + ".organizations"
	watch := watchOrganizationRecords(t, base)
	adm := base.cluster.Admin(t)
	replicas := []*proc{startProc(t, start), startProc(t, start), startProc(t, start)}
	waitSpread(t, adm, group, 3, len(orgs), 90*time.Second)
	kafkatest.WaitFor(t, "every organisation to publish", 90*time.Second, func() bool { return len(watch.orgsAfter(time.Time{})) == len(orgs) })

	// kill -9 of one replica: its organisations publish again within 30 s, on the others.
	victim := replicas[0]
	moved := victim.runningOrganizations()
	if len(moved) != 4 {
		t.Fatalf("the first replica runs %v, want 4 organisations", moved)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-victim.done
	victim.gone = true
	var worst time.Duration
	for _, name := range moved {
		var at time.Time
		kafkatest.WaitFor(t, "organisation "+name+" to publish after the kill", 60*time.Second, func() bool {
			var ok bool
			at, ok = watch.firstAfter(name, killed)
			return ok
		})
		worst = max(worst, at.Sub(killed))
	}
	t.Logf("failover: the killed replica's 4 organisations each published again within %v of kill -9", worst.Round(100*time.Millisecond))
	if worst > 30*time.Second {
		t.Errorf("failover took %v, want under 30 s", worst)
	}
	waitSpread(t, adm, group, 2, len(orgs), 60*time.Second)
	replicas[0] = startProc(t, start) // Kubernetes restarts it
	waitSpread(t, adm, group, 3, len(orgs), 60*time.Second)

	// A rolling restart, one replica at a time, as a Deployment's rollout does.
	for i := range replicas {
		replicas[i].stop(t)
		replicas[i] = startProc(t, start)
		waitSpread(t, adm, group, 3, len(orgs), 60*time.Second)
	}
	rolled := time.Now()
	kafkatest.WaitFor(t, "every organisation to publish after the rolling restart", 60*time.Second, func() bool {
		return len(watch.orgsAfter(rolled)) == len(orgs)
	})

	stopGen()
	genWG.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for !organizationsExactlyOnce(t, base, orgs, time.Now().After(deadline)) {
		for _, p := range replicas {
			if err := p.alive(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
	}
	for _, p := range replicas {
		p.stop(t)
	}
}

// waitSpread waits until the group has n members and every organisation is assigned once,
// within one of even, as the group's coordinator describes it.
func waitSpread(t *testing.T, adm *kadm.Client, group string, n, orgs int, within time.Duration) {
	t.Helper()
	var last []assign.Described
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		members, err := assign.Describe(ctx, adm, group)
		cancel()
		if err == nil {
			last = members
			seen, lo, hi := map[string]bool{}, orgs, 0
			for _, m := range members {
				for _, o := range m.Organizations {
					seen[o] = true
				}
				lo, hi = min(lo, len(m.Organizations)), max(hi, len(m.Organizations))
			}
			if len(members) == n && len(seen) == orgs && hi-lo <= 1 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group %s is not %d members sharing %d organisations within one after %v: %+v (%v)", group, n, orgs, within, last, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var startedOrg = regexp.MustCompile(`(starting|stopping) an organisation.* organization=(\S+)`)

// runningOrganizations reads the replica's log: the organisations it started and has not
// stopped since.
func (p *proc) runningOrganizations() []string {
	running := map[string]bool{}
	for _, m := range startedOrg.FindAllStringSubmatch(p.logs.String(), -1) {
		running[m[2]] = m[1] == "starting"
	}
	var out []string
	for n, on := range running {
		if on {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// orgRecords watches the events topic: when each organisation's records produced after a
// moment became readable.
type orgRecords struct {
	mu   sync.Mutex
	seen map[string][]seenRecord
}

func watchOrganizationRecords(t *testing.T, e *env) *orgRecords {
	w := &orgRecords{seen: map[string][]seenRecord{}}
	cl := e.cluster.Client(t, kgo.ConsumeTopics(e.topics.Events), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			w.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				for _, h := range r.Headers {
					if h.Key == "organization" {
						w.seen[string(h.Value)] = append(w.seen[string(h.Value)], seenRecord{r.Timestamp, now})
					}
				}
			})
			w.mu.Unlock()
		}
	}()
	return w
}

// firstAfter returns when the organisation's first record produced after t0 became readable.
func (w *orgRecords) firstAfter(org string, t0 time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.seen[org] {
		if r.produced.After(t0) {
			return r.readable, true
		}
	}
	return time.Time{}, false
}

// orgsAfter returns the organisations with a record produced after t0.
func (w *orgRecords) orgsAfter(t0 time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for org, rs := range w.seen {
		for _, r := range rs {
			if r.produced.After(t0) {
				out = append(out, org)
				break
			}
		}
	}
	return out
}
