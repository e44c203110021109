package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

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
	f := newFleet(t, base)
	for i := range 12 {
		orgID := int64(0)
		if i%2 == 0 {
			orgID = int64(9000 + i)
		}
		f.add(fmt.Sprintf("o%02d", i), orgID)
	}
	orgs := f.orgs
	if overlapping(orgs[0].env.sim, orgs[1].env.sim) == 0 {
		t.Fatal("the simulators share no conversation id: the test would not show isolation")
	}
	stopGen := f.generate()
	defer stopGen()

	start := base.processStarter(t, "PARTOO_API_URL="+f.api.URL+"/v2", "PARTOO_API_KEY=",
		"PARTOO_ORGANIZATIONS_FILE="+writeOrganizationsFile(t, orgs), "PARTOO_REQUESTS_PER_MINUTE=3000",
		"KAFKA_LEADER_ELECTION=true", "KAFKA_LEASE_SESSION_TIMEOUT=6s", "LOG_LEVEL=info")
	group := base.txnID + ".organizations"
	watch := watchRecords(t, base)
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
	if worst > 90*time.Second { // "at all", on a busy machine; about 6 s on an idle one
		t.Errorf("failover took %v, want well under 90 s", worst)
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
	waitOrganizationsExactlyOnce(t, base, orgs, replicas, 2*time.Minute)
}

// waitOrganizationsExactlyOnce waits until every organisation's events are exactly once
// against its own ground truth (organizationsExactlyOnce), the replicas alive all along, then
// stops them cleanly.
func waitOrganizationsExactlyOnce(t *testing.T, base *env, orgs []*fileOrg, replicas []*proc, within time.Duration, unchecked ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !organizationsExactlyOnce(t, base, orgs, time.Now().After(deadline), unchecked...) {
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

// fleet is organisations served by one API (one simulator per key, their conversation ids
// overlapping), each changing while generate runs.
type fleet struct {
	t    *testing.T
	base *env
	api  *httptest.Server
	orgs []*fileOrg

	mu     sync.Mutex
	router map[string]http.Handler
	gens   []*partoosim.Generator
}

func newFleet(t *testing.T, base *env) *fleet {
	f := &fleet{t: t, base: base, router: map[string]http.Handler{}}
	f.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h, ok := f.router[r.Header.Get("x-APIKey")]
		f.mu.Unlock()
		if !ok {
			http.Error(w, `{"errors":{"json":"unknown key"}}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.api.Close)
	return f
}

// add serves a new organisation (a few conversations, the first ids shared with the others).
func (f *fleet) add(name string, orgID int64) *fileOrg {
	o := &fileOrg{name: name, orgID: orgID}
	sim := partoosim.New(partoosim.Config{APIKey: "key-" + name, RequestsPerMinute: -1})
	o.env = &env{t: f.t, sim: sim, cluster: f.base.cluster, topics: f.base.topics, txnID: f.base.txnID}
	f.mu.Lock()
	defer f.mu.Unlock()
	gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: 1, StatusDelayMax: 2 * time.Second, DeleteRatio: 0.2}, uint64(100+len(f.orgs)))
	gen.Populate(4, 3, time.Hour)
	f.router["key-"+name] = sim.Handler()
	f.gens = append(f.gens, gen)
	f.orgs = append(f.orgs, o)
	return o
}

// generate makes every organisation change until the returned function is called.
func (f *fleet) generate() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	f.mu.Lock()
	for _, g := range f.gens {
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Run(ctx, 50*time.Millisecond) }()
	}
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// TestOrganizationsFileChangesWithoutRestart: two replicas share three organisations; an
// organisation added to the file starts on one of them, one removed stops, and neither
// touches the others (no other organisation stops); a file that does not validate is logged
// and ignored while everything goes on; each remaining organisation is exactly once.
func TestOrganizationsFileChangesWithoutRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two connector processes for about a minute")
	}
	base := newEnv(t)
	f := newFleet(t, base)
	a, b, c, d := f.add("a", 0), f.add("b", 21), f.add("c", 0), f.add("d", 0)
	stopGen := f.generate()
	defer stopGen()
	file := writeOrganizationsFile(t, []*fileOrg{a, b, c, d}) // every key variable set for the processes
	rewriteOrganizationsFile(t, file, []*fileOrg{a, b, c})
	settings := []string{"PARTOO_API_URL=" + f.api.URL + "/v2", "PARTOO_API_KEY=",
		"PARTOO_ORGANIZATIONS_FILE=" + file, "PARTOO_ORGANIZATIONS_RELOAD_INTERVAL=1s", "PARTOO_REQUESTS_PER_MINUTE=3000",
		"KAFKA_LEADER_ELECTION=true", "LOG_LEVEL=info"}
	start := base.processStarter(t, settings...)
	group := base.txnID + ".organizations"
	watch := watchRecords(t, base)
	adm := base.cluster.Admin(t)
	replicas := []*proc{startProc(t, start), startProc(t, start)}
	waitSpread(t, adm, group, 2, 3, 60*time.Second)
	kafkatest.WaitFor(t, "a, b and c to publish", 60*time.Second, func() bool { return len(watch.orgsAfter(time.Time{})) == 3 })
	// doctor names the replicas and what each runs.
	bin, _ := connectorBinary()
	doctor := exec.Command(bin, "doctor")
	doctor.Env = base.processEnv(settings...)
	out, _ := doctor.CombinedOutput()
	if !regexp.MustCompile(`✓ organisations group: 2 replica\(s\) in \S+: .*: [12] \[[abc ]+\]; .*: [12] \[[abc ]+\]`).Match(out) {
		t.Errorf("doctor does not show the two replicas and their organisations:\n%s", out)
	}
	stops := func() map[string]int {
		n := map[string]int{}
		for _, p := range replicas {
			for _, m := range stoppedOrg.FindAllStringSubmatch(p.logs.String(), -1) {
				n[m[1]]++
			}
		}
		return n
	}
	before := stops()            // the start moved some: the second replica came later
	stopped := func() []string { // the organisations stopped since before
		var out []string
		for name, n := range stops() {
			if n > before[name] {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}

	rewriteOrganizationsFile(t, file, []*fileOrg{a, b, c, d})
	added := time.Now()
	kafkatest.WaitFor(t, "d, added to the file, to publish", 60*time.Second, func() bool {
		_, ok := watch.firstAfter("d", added)
		return ok
	})
	waitSpread(t, adm, group, 2, 4, 30*time.Second)
	// d itself may move once: the replicas read the file at different moments, and the first
	// to read it may get d before the group can balance.
	if s := slices.DeleteFunc(stopped(), func(n string) bool { return n == "d" }); len(s) > 0 {
		t.Fatalf("adding d stopped %v", s)
	}
	before = stops()

	rewriteOrganizationsFile(t, file, []*fileOrg{b, c, d})
	kafkatest.WaitFor(t, "a, removed from the file, to stop", 30*time.Second, func() bool { return len(stopped()) > 0 })
	waitSpread(t, adm, group, 2, 3, 30*time.Second)
	if s := stopped(); len(s) != 1 || s[0] != "a" {
		t.Fatalf("removing a stopped %v, want [a]", s)
	}

	replaceFile(t, file, "organizations:\n  - name: Not_Valid\n")
	for _, p := range replicas {
		p.waitLog(t, "organisations file refused", time.Now(), 30*time.Second)
	}
	refused := time.Now()
	kafkatest.WaitFor(t, "b, c and d to go on publishing beside the refused file", 60*time.Second, func() bool {
		return len(watch.orgsAfter(refused)) == 3
	})
	if s := stopped(); len(s) != 1 {
		t.Fatalf("a refused file stopped %v", s)
	}
	rewriteOrganizationsFile(t, file, []*fileOrg{b, c, d})

	stopGen()
	waitOrganizationsExactlyOnce(t, base, []*fileOrg{b, c, d}, replicas, 90*time.Second, "a")
}

var stoppedOrg = regexp.MustCompile(`stopping an organisation.* organization=(\S+)`)

// TestOneProcessSurvivesABadOrganisationAdded: without leader election one process runs the
// file's organisations; an organisation added later whose key Partoo rejects does not stop the
// process (as it would at the start): it is logged, named, and retried, and the
// others go on publishing.
func TestOneProcessSurvivesABadOrganisationAdded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a connector process for about 20 s")
	}
	base := newEnv(t)
	f := newFleet(t, base)
	a := f.add("a", 0)
	bad := &fileOrg{name: "bad", env: a.env} // its key is not one the API knows
	stopGen := f.generate()
	defer stopGen()
	file := writeOrganizationsFile(t, []*fileOrg{a, bad})
	rewriteOrganizationsFile(t, file, []*fileOrg{a})
	p := startProc(t, base.processStarter(t, "PARTOO_API_URL="+f.api.URL+"/v2", "PARTOO_API_KEY=",
		"PARTOO_ORGANIZATIONS_FILE="+file, "PARTOO_ORGANIZATIONS_RELOAD_INTERVAL=1s", "PARTOO_REQUESTS_PER_MINUTE=3000", "LOG_LEVEL=info"))
	watch := watchRecords(t, base)
	kafkatest.WaitFor(t, "a to publish", 60*time.Second, func() bool { return len(watch.orgsAfter(time.Time{})) == 1 })

	rewriteOrganizationsFile(t, file, []*fileOrg{a, bad})
	began := time.Now()
	p.waitLog(t, "organisation stopped on an error", began, 30*time.Second)
	after := time.Now()
	kafkatest.WaitFor(t, "a to go on publishing beside the failing organisation", 30*time.Second, func() bool {
		_, ok := watch.firstAfter("a", after)
		return ok && p.alive() == nil
	})
	if !strings.Contains(p.logs.String(), "organization=bad") {
		t.Error("the failing organisation is not named in the log")
	}
	p.stop(t)
}
