package config_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// sharedKeyFile writes an organisations file of four organisations: acme, globex and initech
// use one key (the same value, read from two variables and a file), hooli its own. acme and
// initech take PARTOO_REQUESTS_PER_MINUTE (300), globex asks for 60, hooli for 250.
func sharedKeyFile(t *testing.T) {
	t.Helper()
	dir := orgsEnv(t, "")
	keyFile := filepath.Join(dir, "globex-key")
	if err := os.WriteFile(keyFile, []byte("shared-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := `organizations:
  - name: acme
    api_key_env: KEY_ACME
  - name: globex
    api_key_file: ` + keyFile + `
    requests_per_minute: 60
  - name: initech
    api_key_env: KEY_INITECH
  - name: hooli
    api_key_env: KEY_HOOLI
    requests_per_minute: 250
`
	if err := os.WriteFile(os.Getenv("PARTOO_ORGANIZATIONS_FILE"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEY_ACME", "shared-s3cret")
	t.Setenv("KEY_INITECH", " shared-s3cret ") // trimmed: the same key
	t.Setenv("KEY_HOOLI", "own-s3cret")
}

// rates is each organisation's effective rate and how many share its key, by name.
func rates(c *config.Config) map[string][2]int {
	out := map[string][2]int{}
	for _, o := range c.Organizations {
		out[o.Name] = [2]int{c.ForOrganization(o).PartooRequestsPerMinute, o.KeySharers}
	}
	return out
}

// PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE splits a key's limit evenly among the organisations
// using it: each gets min(its own rate, limit ÷ n, rounded down); a key used by one
// organisation is capped at the whole limit. Off (the default), every budget is its own.
// The start's log line names the organisations it lowered, their own and effective rates and
// how many share the key — never the key.
func TestSharedKeySplitsTheLimit(t *testing.T) {
	sharedKeyFile(t)
	for _, c := range []struct {
		limit string
		want  map[string][2]int
	}{
		{"", map[string][2]int{"acme": {300, 3}, "globex": {60, 3}, "initech": {300, 3}, "hooli": {250, 1}}},
		// 450 ÷ 3 = 150 each, below acme's and initech's 300, above globex's 60; hooli alone: 250 < 450.
		{"450", map[string][2]int{"acme": {150, 3}, "globex": {60, 3}, "initech": {150, 3}, "hooli": {250, 1}}},
		// 100 ÷ 3 = 33 (rounded down: 99 ≤ 100); hooli alone gets the whole 100.
		{"100", map[string][2]int{"acme": {33, 3}, "globex": {33, 3}, "initech": {33, 3}, "hooli": {100, 1}}},
		// A limit above every share changes nothing.
		{"1200", map[string][2]int{"acme": {300, 3}, "globex": {60, 3}, "initech": {300, 3}, "hooli": {250, 1}}},
	} {
		t.Run("limit="+c.limit, func(t *testing.T) {
			t.Setenv("PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE", c.limit)
			cfg, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			got := rates(cfg)
			for name, w := range c.want {
				if got[name] != w {
					t.Errorf("%s: rate, sharers = %v, want %v", name, got[name], w)
				}
			}
			var log bytes.Buffer
			cfg.LogSharedKeyCaps(slog.New(slog.NewTextHandler(&log, nil)))
			checkCapLog(t, log.String(), c.want)
		})
	}
}

// checkCapLog checks the start's log: one line per organisation whose rate was lowered, with
// its own and effective rates and the number sharing its key, never a key.
func checkCapLog(t *testing.T, log string, want map[string][2]int) {
	t.Helper()
	own := map[string]int{"acme": 300, "globex": 60, "initech": 300, "hooli": 250}
	lines := 0
	for name, w := range want {
		lowered := w[0] < own[name]
		line := ""
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "organization="+name+" ") {
				line = l
			}
		}
		if lowered {
			lines++
		}
		switch {
		case lowered && line == "":
			t.Errorf("no log line for %s, lowered to %d:\n%s", name, w[0], log)
		case !lowered && line != "":
			t.Errorf("a log line for %s, not lowered: %s", name, line)
		case lowered:
			for _, attr := range []string{"requests_per_minute=" + strconv.Itoa(own[name]), "effective_requests_per_minute=" + strconv.Itoa(w[0]),
				"organizations_sharing_key=" + strconv.Itoa(w[1]), "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE"} {
				if !strings.Contains(line, attr) {
					t.Errorf("%s's line has no %s: %s", name, attr, line)
				}
			}
		}
	}
	if n := strings.Count(log, "\n"); n != lines {
		t.Errorf("%d log lines, want %d:\n%s", n, lines, log)
	}
	if strings.Contains(log, "s3cret") {
		t.Errorf("a key in the log:\n%s", log)
	}
}

// The setting's errors: one line each naming it, exit status 2 (as every configuration
// error), never a key.
func TestSharedKeyErrors(t *testing.T) {
	for _, c := range []struct {
		name, limit string
		file        bool
		want        string
	}{
		{"negative", "-300", true, "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: must be 0 (off) or a positive number of requests per minute"},
		{"not a number", "lots", true, "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: cannot parse as an integer"},
		{"without the file", "300", false, "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: only read with PARTOO_ORGANIZATIONS_FILE: " +
			"it caps the organisations of the file that share one API key; one organisation's rate is PARTOO_REQUESTS_PER_MINUTE"},
		{"negative without the file", "-1", false, "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: must be 0 (off)"},
		{"less than one each", "2", true, "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE: 2 requests/minute cannot be split among the 3 organisations " +
			"that share one API key (acme, globex, initech): each needs at least 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sharedKeyFile(t)
			if !c.file {
				t.Setenv("PARTOO_ORGANIZATIONS_FILE", "")
				t.Setenv("PARTOO_API_KEY", "one-s3cret")
			}
			t.Setenv("PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE", c.limit)
			_, err := config.Load()
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), c.want) {
				t.Fatalf("err = %v, want the one error %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line without a key: %q", err)
			}
		})
	}
	// 0 is off, with or without the file.
	sharedKeyFile(t)
	t.Setenv("PARTOO_ORGANIZATIONS_FILE", "")
	t.Setenv("PARTOO_API_KEY", "one-s3cret")
	t.Setenv("PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE", "0")
	if _, err := config.Load(); err != nil {
		t.Errorf("0 without the file: %v", err)
	}
}
