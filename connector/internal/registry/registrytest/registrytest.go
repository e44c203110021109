// Package registrytest hands tests the real schema registry of the run.
//
// SCHEMA_REGISTRY_TEST_URL is the registry's Confluent-compatible base URL; `make test` sets it
// to the Apicurio Registry started by deploy/local-schema-registry/registry.sh. Without it the
// registry tests skip, unless SCHEMA_REGISTRY_REQUIRE_REAL=1 (also set by `make test`), which
// makes them fail: a run that asked for the registry can never pass without it.
//
// The variable is not SCHEMA_REGISTRY_URL on purpose: tests that start the connector with the
// process environment must not switch it to the registry format by accident.
package registrytest

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	EnvURL         = "SCHEMA_REGISTRY_TEST_URL"
	EnvRequireReal = "SCHEMA_REGISTRY_REQUIRE_REAL"
)

// RequireReal reports whether the run demands the real registry.
func RequireReal() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvRequireReal))) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// URL returns the registry's base URL, or skips t (fails it when the run requires the registry).
func URL(t testing.TB) string {
	t.Helper()
	u := strings.TrimSpace(os.Getenv(EnvURL))
	if u == "" {
		if RequireReal() {
			t.Fatalf("%s=1 but %s is not set: this run requires the real schema registry", EnvRequireReal, EnvURL)
		}
		t.Skipf("no schema registry: set %s (make test starts one)", EnvURL)
	}
	return strings.TrimRight(u, "/")
}

var seq atomic.Int64

// Topic returns a topic name no other test of any run uses, so that subjects never collide in
// a registry shared by the whole run.
func Topic(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}
