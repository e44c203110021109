package config_test

import (
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

func TestUnknownVariablesAreNamedWithTheirLikelyMeaning(t *testing.T) {
	env := []string{
		"PARTOO_API_ULR=https://x", "KAFKA_BROKER=k:9092", "PARTOO_APIKEY=s", "LOG_LEVLE=debug", "SCHEDULER_FOO_BAR_BAZ=1",
		// Ours, other programs', and Kubernetes' service variables: not reported.
		"PARTOO_API_URL=https://y", "KAFKA_BROKERS=k:9092", "HTTP_PROXY=http://p:3128", "KAFKA_REQUIRE_REAL=1",
		"KAFKA_SERVICE_HOST=10.0.0.1", "KAFKA_PORT=tcp://10.0.0.1:9092", "KAFKA_PORT_9092_TCP_ADDR=10.0.0.1",
		"PARTOO_CONNECTOR_SERVICE_PORT_HTTP=8080", "PATH=/bin", "HOME=/root",
	}
	got := map[string]string{}
	for _, u := range config.UnknownVars(env) {
		got[u.Name] = u.Suggest
	}
	want := map[string]string{
		"PARTOO_API_ULR": "PARTOO_API_URL", "KAFKA_BROKER": "KAFKA_BROKERS", "PARTOO_APIKEY": "PARTOO_API_KEY",
		"LOG_LEVLE": "LOG_LEVEL", "SCHEDULER_FOO_BAR_BAZ": "",
	}
	if len(got) != len(want) {
		t.Fatalf("reported %v, want %v", got, want)
	}
	for n, s := range want {
		if g, ok := got[n]; !ok || g != s {
			t.Errorf("%s: suggested %q (reported %v), want %q", n, g, ok, s)
		}
	}
}
