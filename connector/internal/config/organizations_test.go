package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// orgsEnv clears the configuration, sets the brokers and writes body as the organisations
// file; it returns the file's directory.
func orgsEnv(t *testing.T, body string) string {
	t.Helper()
	clearConfigEnv(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "organizations.yaml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("PARTOO_ORGANIZATIONS_FILE", f)
	return dir
}

// A valid file: every field read, the defaults from the environment, the keys from a file and
// from a variable, and each organisation's own topics and transactional id.
func TestOrganizationsFileIsRead(t *testing.T) {
	dir := orgsEnv(t, "")
	key := filepath.Join(dir, "acme-key")
	if err := os.WriteFile(key, []byte("acme-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := `organizations:
  - name: acme
    api_key_file: ` + key + `
    org_id: 123
    business_ids: ["5409c35a97bbc544d8e26737", " "]
    conversation_ids: [1, 2]
    requests_per_minute: 120
    budget_reserve: 0.2
    webhook_secret_env: HOOK_ACME
  - name: globex-2
    api_key_env: PARTOO_KEY_GLOBEX
`
	if err := os.WriteFile(os.Getenv("PARTOO_ORGANIZATIONS_FILE"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARTOO_KEY_GLOBEX", "globex-s3cret")
	t.Setenv("HOOK_ACME", "hook-s3cret")
	t.Setenv("PARTOO_REQUESTS_PER_MINUTE", "200")
	t.Setenv("KAFKA_STATE_TOPIC", "st")
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Organizations) != 2 {
		t.Fatalf("organisations %+v", c.Organizations)
	}
	a, g := c.Organizations[0], c.Organizations[1]
	if a.Name != "acme" || a.APIKey.Reveal() != "acme-s3cret" || a.OrgID != 123 || len(a.BusinessIDs) != 1 ||
		len(a.ConversationIDs) != 2 || a.RequestsPerMinute != 120 || a.BudgetReserve != 0.2 || a.WebhookSecret.Reveal() != "hook-s3cret" {
		t.Errorf("acme %+v", a)
	}
	if g.Name != "globex-2" || g.APIKey.Reveal() != "globex-s3cret" || g.OrgID != 0 || g.RequestsPerMinute != 200 || g.BudgetReserve != 0.1 || !g.WebhookSecret.IsZero() {
		t.Errorf("globex %+v", g)
	}
	if env := strings.Join(c.OrganizationEnv(), ","); env != "HOOK_ACME,PARTOO_KEY_GLOBEX" {
		t.Errorf("variables the file names: %s", env)
	}
	environ := []string{"PARTOO_KEY_GLOBEX=x", "HOOK_ACME=y", "PARTOO_KEY_OTHER=z"}
	if u := config.UnknownVars(environ, c.OrganizationEnv()...); len(u) != 1 || u[0].Name != "PARTOO_KEY_OTHER" {
		t.Errorf("unknown variables %+v", u)
	}
	oc := c.ForOrganization(g)
	tp := oc.Topics()
	if oc.KafkaTransactionalID != "partoo-connector-st.globex-2" || tp.State != "st.globex-2" || tp.Events != "partoo.messages.events" ||
		tp.MessagesTable.Name != "partoo.messages.table.globex-2" || tp.ConversationsTable.Name != "partoo.conversations.table.globex-2" {
		t.Errorf("globex's topics %+v, transactional id %s", tp, oc.KafkaTransactionalID)
	}
	if oc.PartooAPIKey.Reveal() != "globex-s3cret" || oc.PartooRequestsPerMinute != 200 || len(oc.Organizations) != 0 {
		t.Errorf("globex's configuration %+v", oc)
	}
	// JSON is YAML too.
	if err := os.WriteFile(os.Getenv("PARTOO_ORGANIZATIONS_FILE"), []byte(`{"organizations":[{"name":"a","api_key_env":"PARTOO_KEY_GLOBEX"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load(); err != nil || c.Organizations[0].Name != "a" {
		t.Fatalf("JSON file: %v", err)
	}
}

// Every problem of the file is reported at once, one line each, naming the organisation (index
// and name) and the field; no secret is ever in an error.
func TestOrganizationsFileErrors(t *testing.T) {
	dir := orgsEnv(t, "")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	body := `organizations:
  - name: acme
    api_key_env: PARTOO_KEY_ACME
  - name: acme
    api_key_env: PARTOO_KEY_ACME
    api_key: s3cret-inline
  - name: Bad_Name
    api_key_file: ` + empty + `
    org_id: 7
  - api_key_file: s3cret-as-a-path
    org_id: 7
    requests_per_minute: 0
    budget_reserve: 2
    conversation_ids: [1, -2]
  - name: both
    api_key_file: /nonexistent/key
    api_key_env: PARTOO_KEY_ACME
    business_ids: "not-a-list"
    org_id: "12"
  - name: nokey
    api_key_env: s3cret-in-the-env-field
    webhook_secret_env: HOOK
  - name: samehook
    webhook_secret_env: HOOK
  - name: organizations
    api_key_env: PARTOO_KEY_ACME
    state_owner_check: maybe
`
	if err := os.WriteFile(os.Getenv("PARTOO_ORGANIZATIONS_FILE"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK", "hook-s3cret")
	t.Setenv("PARTOO_API_KEY", "s3cret-env")
	t.Setenv("PARTOO_BUSINESS_IDS", "b1")
	t.Setenv("WEBHOOK_SECRET", "s3cret-hook")
	const f = "PARTOO_ORGANIZATIONS_FILE: "
	want := []string{
		"PARTOO_API_KEY: not read with PARTOO_ORGANIZATIONS_FILE: set it per organisation in the file (api_key_file or api_key_env)",
		"PARTOO_BUSINESS_IDS: not read with PARTOO_ORGANIZATIONS_FILE: set it per organisation in the file (business_ids)",
		f + `organizations[0] "acme": api_key_env: PARTOO_KEY_ACME is not set`,
		f + `organizations[1] "acme": api_key: unknown field`,
		f + `organizations[1] "acme": name: the name of organizations[0] "acme" too`,
		f + `organizations[1] "acme": api_key_env: PARTOO_KEY_ACME is not set`,
		f + `organizations[2] "Bad_Name": name: must match [a-z0-9][a-z0-9-]{0,39}`,
		f + `organizations[2] "Bad_Name": api_key_file: ` + empty + ` is empty`,
		f + `organizations[3]: name: required`,
		f + `organizations[3]: api_key_file: cannot read the file: a path is expected (never the secret itself)`,
		f + `organizations[3]: org_id: 7 is the org_id of organizations[2] "Bad_Name" too`,
		f + `organizations[3]: conversation_ids: must be positive conversation ids`,
		f + `organizations[3]: requests_per_minute: must be at least 1`,
		f + `organizations[3]: budget_reserve: must be between 0 and 0.9`,
		f + `organizations[4] "both": api_key_file: set together with api_key_env; set only one`,
		f + `organizations[4] "both": org_id: must be an integer`,
		f + `organizations[4] "both": business_ids: must be a list of strings`,
		f + `organizations[5] "nokey": api_key_env: must name an environment variable (upper case, digits and _), never hold the secret itself`,
		f + `organizations[6] "samehook": api_key_file: required: api_key_file (a mounted Secret) or api_key_env (a variable holding it)`,
		f + `organizations[6] "samehook": webhook_secret: the same as organizations[5] "nokey"'s`,
		f + `organizations[7] "organizations": name: "organizations" is reserved: <state topic>.organizations is the topic of the replicas' group`,
		f + `organizations[7] "organizations": api_key_env: PARTOO_KEY_ACME is not set`,
		f + `organizations[7] "organizations": state_owner_check: must be fail or adopt`,
		"WEBHOOK_SECRET: not read with PARTOO_ORGANIZATIONS_FILE: set it per organisation in the file (webhook_secret_file or webhook_secret_env)",
	}
	_, err := config.Load()
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a secret in the errors:\n%v", err)
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			found = found || strings.HasPrefix(e.Error(), w)
		}
		if !found {
			t.Errorf("no error %q", w)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
}

// The file's own shape: unreadable, not YAML, no list, an empty list, unknown top-level fields.
func TestOrganizationsFileShape(t *testing.T) {
	for body, want := range map[string]string{
		"organizations: [":            "PARTOO_ORGANIZATIONS_FILE: neither YAML nor JSON",
		"- name: acme":                "PARTOO_ORGANIZATIONS_FILE: must be a mapping with an organizations list",
		"organizations: []":           "PARTOO_ORGANIZATIONS_FILE: organizations: the list is empty",
		"organisations: []":           `PARTOO_ORGANIZATIONS_FILE: unknown field "organisations"`,
		"organizations: {name: acme}": "PARTOO_ORGANIZATIONS_FILE: organizations: must be a list of organisations",
		"organizations:\n  - name: a\n  - name: a\nname: x": `PARTOO_ORGANIZATIONS_FILE: unknown field "name"`,
	} {
		orgsEnv(t, body)
		_, err := config.Load()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want prefix %q", body, err, want)
		}
	}
	orgsEnv(t, "")
	t.Setenv("PARTOO_ORGANIZATIONS_FILE", "/nonexistent/organizations.yaml")
	if _, err := config.Load(); err == nil || err.Error() != "PARTOO_ORGANIZATIONS_FILE: cannot read the file: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}
