package connectorcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
)

// writeOrgsFile writes body as PARTOO_ORGANIZATIONS_FILE (after clearing the environment).
func writeOrgsFile(t *testing.T, body string) {
	t.Helper()
	clearEnv(t)
	f := filepath.Join(t.TempDir(), "organizations.yaml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARTOO_ORGANIZATIONS_FILE", f)
}

// The file maps onto one engine per organisation, named, each with its own key, budget,
// filters, state topic (and so signal and lease topics), table topics and transactional id;
// the events topic is shared. Without the file, one unnamed engine as before.
func TestOrganizationsFileMapsToEngines(t *testing.T) {
	writeOrgsFile(t, `organizations:
  - name: acme
    api_key_env: ORGS_KEY_ACME
    org_id: 5
    conversation_ids: [3]
    requests_per_minute: 100
    state_owner_check: adopt
  - name: globex
    api_key_env: ORGS_KEY_GLOBEX
    business_ids: [b1]
    budget_reserve: 0.3
`)
	t.Setenv("ORGS_KEY_ACME", "ka")
	t.Setenv("ORGS_KEY_GLOBEX", "kg")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("KAFKA_TRANSACTIONAL_ID", "txn")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts := engineOptions(cfg, nil, registry.Config{})
	if len(opts) != 2 {
		t.Fatalf("%d engines", len(opts))
	}
	a, g := opts[0], opts[1]
	for _, c := range []struct{ what, got, want string }{
		{"names", a.Organization + "," + g.Organization, "acme,globex"},
		{"keys", a.Partoo.APIKey.Reveal() + "," + g.Partoo.APIKey.Reveal(), "ka,kg"},
		{"transactional ids", a.TransactionalID + "," + g.TransactionalID, "txn.acme,txn.globex"},
		{"state topics", a.Topics.State + "," + g.Topics.State, "partoo.messages.state.acme,partoo.messages.state.globex"},
		{"signal topic", signal.Topic(g.Topics.State), "partoo.messages.state.globex.signals"},
		{"lease topic", lease.DefaultTopic(g.Topics.State), "partoo.messages.state.globex.lease"},
		{"messages tables", a.Topics.MessagesTable.Name + "," + g.Topics.MessagesTable.Name, "partoo.messages.table.acme,partoo.messages.table.globex"},
		{"conversations tables", g.Topics.ConversationsTable.Name, "partoo.conversations.table.globex"},
		{"events topics", a.Topics.Events + "," + g.Topics.Events, "partoo.messages.events,partoo.messages.events"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.what, c.got, c.want)
		}
	}
	if a.OrganizationID != 5 || g.OrganizationID != 0 || len(a.ConversationIDs) != 1 || len(g.BusinessIDs) != 1 ||
		a.Partoo.RequestsPerMinute != 100 || g.Partoo.RequestsPerMinute != 300 || g.Partoo.BudgetReserve != 0.3 || a.Partoo.BudgetReserve != 0.1 ||
		a.StateOwnerCheck != "adopt" || g.StateOwnerCheck != "fail" {
		t.Errorf("per-organisation settings: acme %+v, globex %+v", a, g)
	}

	clearEnv(t)
	t.Setenv("PARTOO_API_KEY", "k")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	cfg, err = config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if opts := engineOptions(cfg, nil, registry.Config{}); len(opts) != 1 || opts[0].Organization != "" ||
		opts[0].TransactionalID != "partoo-connector-partoo.messages.state" || opts[0].Topics.State != "partoo.messages.state" {
		t.Errorf("one organisation: %+v", opts)
	}
}

// run refuses a wrong file with every problem on its own line, and exit status 2.
func TestRunRefusesAWrongOrganizationsFile(t *testing.T) {
	writeOrgsFile(t, "organizations:\n  - name: acme\n    api_key_env: ORGS_UNSET_KEY\n  - name: acme\n    api_key_file: /nonexistent/key\n")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("PARTOO_ORG_ID", "3")
	var out, errs bytes.Buffer
	if rc := run([]string{"run"}, &out, &errs); rc != 2 {
		t.Fatalf("rc %d: %s", rc, errs.String())
	}
	want := []string{
		"partoo-connector: configuration: PARTOO_ORG_ID: not read with PARTOO_ORGANIZATIONS_FILE: set it per organisation in the file (org_id)",
		`partoo-connector: configuration: PARTOO_ORGANIZATIONS_FILE: organizations[0] "acme": api_key_env: ORGS_UNSET_KEY is not set`,
		`partoo-connector: configuration: PARTOO_ORGANIZATIONS_FILE: organizations[1] "acme": name: the name of organizations[0] "acme" too: every organisation needs its own`,
		`partoo-connector: configuration: PARTOO_ORGANIZATIONS_FILE: organizations[1] "acme": api_key_file: cannot read /nonexistent/key: no such file or directory`,
	}
	if got := strings.TrimSpace(errs.String()); got != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// doctor checks every organisation's key and budget (and topics), one line per organisation
// and check, named after it.
func TestDoctorChecksEveryOrganization(t *testing.T) {
	cluster := kafkatest.New(t)
	sim := partoosim.New(partoosim.Config{APIKey: "good", RequestsPerMinute: -1})
	partoosim.NewGenerator(sim, partoosim.Activity{}, 3).Populate(5, 3, time.Hour)
	writeOrgsFile(t, "organizations:\n  - name: acme\n    api_key_env: ORGS_KEY_ACME\n    requests_per_minute: 120\n  - name: globex\n    api_key_env: ORGS_KEY_GLOBEX\n")
	t.Setenv("ORGS_KEY_ACME", "good")
	t.Setenv("ORGS_KEY_GLOBEX", "wrong")
	t.Setenv("PARTOO_API_URL", simtest.Serve(t, sim))
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	base := kafkatest.Topic(t)
	t.Setenv("KAFKA_EVENTS_TOPIC", base+".events")
	t.Setenv("KAFKA_STATE_TOPIC", base+".state")
	rc, out, _ := doctorRun(t)
	for _, w := range []string{
		"✓ [acme] Partoo API key: accepted",
		"✓ [acme] budget: 108 requests/minute",
		"✓ [acme] topic " + base + ".state.acme: absent: the connector creates it",
		"✗ [globex] Partoo API key: Partoo refused it",
		"! [globex] webhooks: off (no webhook_secret_file or webhook_secret_env)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no line %q", w)
		}
	}
	if rc != 1 || strings.Contains(out, "ORGS_KEY") || t.Failed() {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
}

// resnapshot with the organisations file acts on the organisation it names: without
// --organization (or with one the file lacks) it refuses, naming the choices; with it, the
// request goes to that organisation's signal topic.
func TestResnapshotNamesTheOrganization(t *testing.T) {
	c := kafkatest.New(t) // before writeOrgsFile clears the environment (KAFKA_BROKERS)
	writeOrgsFile(t, `organizations:
  - name: acme
    api_key_env: ORGS_KEY_ACME
  - name: globex
    api_key_env: ORGS_KEY_GLOBEX
`)
	t.Setenv("ORGS_KEY_ACME", "ka")
	t.Setenv("ORGS_KEY_GLOBEX", "kg")
	t.Setenv("KAFKA_BROKERS", strings.Join(c.Brokers, ","))
	state := kafkatest.Topic(t)
	t.Setenv("KAFKA_STATE_TOPIC", state)
	for _, args := range [][]string{{}, {"--organization", "initech"}} {
		var out, errs bytes.Buffer
		if rc := run(append([]string{"resnapshot", "--all"}, args...), &out, &errs); rc != 2 || !strings.Contains(errs.String(), "--organization NAME, one of acme, globex") {
			t.Fatalf("resnapshot %v: rc %d, %q", args, rc, errs.String())
		}
	}
	ctx := kafkatest.Context(t, time.Minute)
	if err := signal.EnsureTopic(ctx, c.Admin(t), signal.Topic(state+".globex"), -1); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if rc := run([]string{"resnapshot", "--all", "--organization", "globex"}, &out, &errs); rc != 0 || !strings.Contains(out.String(), signal.Topic(state+".globex")) {
		t.Fatalf("resnapshot --organization globex: rc %d, %q %q", rc, out.String(), errs.String())
	}
}
