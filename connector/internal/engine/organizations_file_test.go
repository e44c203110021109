package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// fileOrg is one organisation of TestOrganizationsFileOneProcess: its simulator (its own key)
// and how the file lists it.
type fileOrg struct {
	name  string
	orgID int64 // 0: left out, so its event ids are scoped by its name
	env   *env
}

// TestOrganizationsFileOneProcess: the connector binary runs the three organisations of a
// PARTOO_ORGANIZATIONS_FILE in one process. Their simulators (one key each, behind one API
// URL) have overlapping conversation ids. Each organisation's events — in the shared events
// topic, told apart by their organization header — are exactly once against its own ground
// truth; no event_id is shared across organisations; each organisation's state topic holds
// its own conversations only; and each has its own table topics.
func TestOrganizationsFileOneProcess(t *testing.T) {
	orgs := []*fileOrg{{name: "acme", orgID: 4242}, {name: "globex"}, {name: "7"}}
	base := newEnv(t)
	router := map[string]http.Handler{}
	for i, o := range orgs {
		sim := partoosim.New(partoosim.Config{APIKey: "key-" + o.name, RequestsPerMinute: -1})
		o.env = &env{t: t, sim: sim, cluster: base.cluster, topics: base.topics, txnID: base.txnID}
		router["key-"+o.name] = o.env.sim.Handler()
		gen := partoosim.NewGenerator(o.env.sim, partoosim.Activity{DeleteRatio: 0.3}, uint64(11+i))
		gen.Populate(8+4*i, 5, time.Hour) // 8, 12, 16 conversations: the ids overlap, and differ
	}
	if shared := overlapping(orgs[0].env.sim, orgs[1].env.sim); shared == 0 {
		t.Fatal("the simulators share no conversation id: the test would not show isolation")
	}
	if shared := sharedMessages(orgs); shared == 0 {
		t.Fatal("no conversation and message id pair is in two simulators: unscoped event ids would not collide either")
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := router[r.Header.Get("x-APIKey")]
		if !ok {
			h = orgs[0].env.sim.Handler() // answers 401
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)

	p := startProc(t, base.processStarter(t, "PARTOO_API_URL="+api.URL+"/v2", "PARTOO_API_KEY=",
		"PARTOO_ORGANIZATIONS_FILE="+writeOrganizationsFile(t, orgs), "PARTOO_REQUESTS_PER_MINUTE=60000"))
	defer p.stop(t)
	for i, o := range orgs { // each organisation changes while the process runs
		gen := partoosim.NewGenerator(o.env.sim, partoosim.Activity{MessagesPerSecond: 5, DeleteRatio: 0.3}, uint64(70+i))
		for range 15 {
			gen.Tick()
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !organizationsExactlyOnce(t, base, orgs, time.Now().After(deadline)) {
		if err := p.alive(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
	for _, o := range orgs {
		checkOwnState(t, base.cluster, base.topics.State+"."+o.name, o.env.sim)
		for _, table := range []string{base.topics.MessagesTable.Name, base.topics.ConversationsTable.Name} {
			recs, err := base.cluster.ReadCommitted(kafkatest.Context(t, time.Minute), t, table+"."+o.name)
			if err != nil || len(recs) == 0 {
				t.Errorf("organisation %s: table topic %s.%s: %d records, %v", o.name, table, o.name, len(recs), err)
			}
		}
	}
}

// writeOrganizationsFile writes the organisations file of orgs (keys from variables) and sets
// the variables.
func writeOrganizationsFile(t *testing.T, orgs []*fileOrg) string {
	f := filepath.Join(t.TempDir(), "organizations.yaml")
	rewriteOrganizationsFile(t, f, orgs)
	return f
}

// rewriteOrganizationsFile replaces the file at once (as Kubernetes swaps a mounted
// ConfigMap) with the organisations file of orgs, and sets their key variables.
func rewriteOrganizationsFile(t *testing.T, path string, orgs []*fileOrg) {
	var b strings.Builder
	b.WriteString("organizations:\n")
	for _, o := range orgs {
		v := "ORGS_TEST_KEY_" + strings.ToUpper(o.name)
		t.Setenv(v, "key-"+o.name) // inherited by the process (processStarter reads os.Environ)
		fmt.Fprintf(&b, "  - name: %q\n    api_key_env: %s\n", o.name, v)
		if o.orgID != 0 {
			fmt.Fprintf(&b, "    org_id: %d\n", o.orgID)
		}
	}
	replaceFile(t, path, b.String())
}

func replaceFile(t *testing.T, path, body string) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// organizationsExactlyOnce reads the shared events topic and checks each organisation's
// events against its own ground truth. It fails the test on what can never heal (a duplicate,
// an event_id two organisations share, an event without its organisation), and on what is
// still pending when last is set; it returns true once every organisation is complete.
// Events of the unchecked organisations may be there too (their event ids are checked).
func organizationsExactlyOnce(t *testing.T, base *env, orgs []*fileOrg, last bool, unchecked ...string) bool {
	t.Helper()
	per := map[string][]event{}
	owner := map[string]string{}
	for _, ev := range base.readEvents(t) {
		org := ev.Headers["organization"]
		id := ev.Body["event_id"].(string)
		if other, ok := owner[id]; ok && other != org {
			t.Fatalf("event_id %s is both %s's and %s's", id, other, org)
		}
		owner[id] = org
		per[org] = append(per[org], ev)
	}
	done := true
	for _, o := range orgs {
		evs := per[o.name]
		for _, ev := range evs {
			want := any(nil)
			if o.orgID != 0 {
				want = o.orgID
			}
			if got := ev.Body["organization_id"]; got != want {
				t.Fatalf("organisation %s: an event with organization_id %v", o.name, got)
			}
		}
		broken, pending, checked := exactlyOnceProblems(o.env, evs, o.env.sim.Changes(0), nil)
		if len(broken) > 0 {
			t.Fatalf("organisation %s: exactly-once broken:\n%s", o.name, strings.Join(broken, "\n"))
		}
		if len(pending) > 0 || checked == 0 {
			if last {
				t.Fatalf("organisation %s: %d of %d messages not (fully) published:\n%s", o.name, len(pending), checked, strings.Join(pending, "\n"))
			}
			done = false
			continue
		}
		t.Logf("organisation %s: %d events, %d messages exactly once", o.name, len(evs), checked)
	}
	for _, name := range unchecked {
		delete(per, name) // may have published: only their event ids were checked
	}
	if n := len(per) - len(orgs); n > 0 || len(per[""]) > 0 {
		t.Fatalf("events of no organisation of the file: %d without the header, %d other names", len(per[""]), n)
	}
	return done
}

// checkOwnState checks that a state topic holds exactly the conversations of its
// organisation's simulator, and that some of them are another simulator's ids too.
func checkOwnState(t *testing.T, c *kafkatest.Cluster, topic string, sim *partoosim.Sim) {
	t.Helper()
	recs, err := c.ReadCommitted(kafkatest.Context(t, time.Minute), t, topic)
	if err != nil {
		t.Fatalf("state topic %s: %v", topic, err)
	}
	own := map[int64]bool{}
	for _, id := range sim.ConversationIDs() {
		own[id] = true
	}
	seen := map[int64]bool{}
	for _, r := range recs {
		id, err := strconv.ParseInt(string(r.Key), 10, 64)
		if err != nil {
			t.Fatalf("state topic %s: key %q", topic, r.Key)
		}
		if !own[id] {
			t.Errorf("state topic %s holds conversation %d, which its organisation does not have", topic, id)
		}
		seen[id] = true
	}
	if len(seen) != len(own) {
		t.Errorf("state topic %s holds %d conversations, its organisation has %d", topic, len(seen), len(own))
	}
}

// overlapping counts the conversation ids two simulators share.
func overlapping(a, b *partoosim.Sim) int {
	n := 0
	for _, id := range a.ConversationIDs() {
		if _, ok := b.Conversation(id); ok {
			n++
		}
	}
	return n
}

// sharedMessages counts the (conversation, message) id pairs found in more than one
// organisation's simulator: the changes whose unscoped event ids would collide.
func sharedMessages(orgs []*fileOrg) int {
	seen := map[[2]int64]int{}
	for _, o := range orgs {
		for _, c := range o.env.sim.ConversationIDs() {
			for _, m := range o.env.sim.Messages(c) {
				seen[[2]int64{c, m.ID}]++
			}
		}
	}
	n := 0
	for _, k := range seen {
		if k > 1 {
			n++
		}
	}
	return n
}
