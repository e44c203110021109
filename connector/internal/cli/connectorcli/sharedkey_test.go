package connectorcli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
)

// PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE reaches the engines' budgets: two organisations on one
// key get half of it each, the third (its own key) its own rate. A wrong value stops run with
// exit status 2 and one line naming the variable, never a key.
func TestSharedKeyLimitReachesTheBudgets(t *testing.T) {
	writeOrgsFile(t, `organizations:
  - name: acme
    api_key_env: ORGS_KEY_ACME
  - name: globex
    api_key_env: ORGS_KEY_GLOBEX
  - name: hooli
    api_key_env: ORGS_KEY_HOOLI
`)
	t.Setenv("ORGS_KEY_ACME", "shared-s3cret")
	t.Setenv("ORGS_KEY_GLOBEX", "shared-s3cret")
	t.Setenv("ORGS_KEY_HOOLI", "own-s3cret")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE", "300")
	t.Setenv("PARTOO_REQUESTS_PER_MINUTE", "200")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts := engineOptions(cfg, nil, registry.Config{})
	if len(opts) != 3 || opts[0].Partoo.RequestsPerMinute != 150 || opts[1].Partoo.RequestsPerMinute != 150 || opts[2].Partoo.RequestsPerMinute != 200 {
		t.Fatalf("budgets: %d %d %d, want 150 150 200", opts[0].Partoo.RequestsPerMinute, opts[1].Partoo.RequestsPerMinute, opts[2].Partoo.RequestsPerMinute)
	}

	t.Setenv("PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE", "-1")
	var out, errs bytes.Buffer
	if rc := run([]string{"run"}, &out, &errs); rc != 2 {
		t.Fatalf("rc %d: %s", rc, errs.String())
	}
	want := "partoo-connector: configuration: PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: must be 0 (off) or a positive number of requests per minute"
	if got := strings.TrimSpace(errs.String()); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
