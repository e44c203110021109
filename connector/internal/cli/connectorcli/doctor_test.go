package connectorcli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// doctorEnv points the environment at a simulator and a cluster with fresh topic names.
func doctorEnv(t *testing.T, cluster *kafkatest.Cluster, key string) (events, stateTopic string) {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{}, 3)
	gen.Populate(12, 4, time.Hour)
	url := simtest.Serve(t, sim)
	base := kafkatest.Topic(t)
	clearEnv(t)
	t.Setenv("PARTOO_API_URL", url)
	t.Setenv("PARTOO_API_KEY", key)
	t.Setenv("KAFKA_BROKERS", strings.Join(cluster.Brokers, ","))
	t.Setenv("KAFKA_EVENTS_TOPIC", base+".events")
	t.Setenv("KAFKA_STATE_TOPIC", base+".state")
	t.Setenv("KAFKA_MESSAGES_TABLE_TOPIC", base+".messages-table")
	t.Setenv("KAFKA_CONVERSATIONS_TABLE_TOPIC", base+".conversations-table")
	return base + ".events", base + ".state"
}

func doctorRun(t *testing.T) (int, string, time.Duration) {
	var out, errs bytes.Buffer
	start := time.Now()
	rc := run([]string{"doctor"}, &out, &errs)
	return rc, out.String() + errs.String(), time.Since(start)
}

// A good setup passes, with the topics absent and again once they exist.
func TestDoctorGoodSetup(t *testing.T) {
	cluster := kafkatest.New(t)
	events, st := doctorEnv(t, cluster, "k")
	rc, out, _ := doctorRun(t)
	if rc != 0 || strings.Contains(out, "✗") || !strings.Contains(out, "✓ Partoo API key") || !strings.Contains(out, "✓ Kafka") ||
		!strings.Contains(out, "absent: the connector creates it") || !strings.Contains(out, "✓ Partoo's clock: ") {
		t.Fatalf("rc %d:\n%s", rc, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := state.EnsureTopics(ctx, cluster.Admin(t), state.Topics{Events: events, State: st, EventsPartitions: 2, StatePartitions: 2}); err != nil {
		t.Fatal(err)
	}
	rc, out, _ = doctorRun(t)
	if rc != 0 || strings.Contains(out, "✗") || !strings.Contains(out, "✓ topic "+st+": state topic, 2 partitions, cleanup.policy=compact") ||
		!strings.Contains(out, "✓ read "+st) || !strings.Contains(out, "✓ topic "+events+": events topic, 2 partitions, cleanup.policy=delete, max.message.bytes=") {
		t.Fatalf("with topics: rc %d:\n%s", rc, out)
	}
}

// Each bad setup exits 1 with a ✗ line naming the problem.
func TestDoctorBadSetups(t *testing.T) {
	cluster := kafkatest.New(t)

	doctorEnv(t, cluster, "wrong-key")
	if rc, out, _ := doctorRun(t); rc != 1 || !strings.Contains(out, "✗ Partoo API key: Partoo refused it") {
		t.Errorf("wrong key: rc %d:\n%s", rc, out)
	}

	// A mistyped name is named with the variable it most likely meant (a warning: it blocks nothing).
	doctorEnv(t, cluster, "k")
	t.Setenv("PARTOO_API_ULR", "https://api.partoo.co/v2")
	if rc, out, _ := doctorRun(t); rc != 0 || !strings.Contains(out, "! configuration: environment variable PARTOO_API_ULR is not one the connector reads, and is ignored: did you mean PARTOO_API_URL?") {
		t.Errorf("mistyped variable: rc %d:\n%s", rc, out)
	}
	os.Unsetenv("PARTOO_API_ULR")

	doctorEnv(t, cluster, "k")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	if rc, out, took := doctorRun(t); rc != 1 || !strings.Contains(out, "✗ Kafka: 127.0.0.1:1 did not answer") || took > time.Minute {
		t.Errorf("unreachable broker: rc %d after %v:\n%s", rc, took, out)
	}

	_, st := doctorEnv(t, cluster, "k")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cluster.Admin(t).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, st)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	if rc, out, _ := doctorRun(t); rc != 1 || !strings.Contains(out, "✗ topic "+st+": topic "+st+" has cleanup.policy=delete") {
		t.Errorf("non-compacted state topic: rc %d:\n%s", rc, out)
	}

	// A table topic that would drop rows by retention is refused too, named.
	events, _ := doctorEnv(t, cluster, "k")
	table := strings.TrimSuffix(events, ".events") + ".messages-table"
	resp, err = cluster.Admin(t).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete")}, table)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	if rc, out, _ := doctorRun(t); rc != 1 || !strings.Contains(out, "✗ topic "+table+": topic "+table+" has cleanup.policy=compact,delete; a table topic keeps the current row") {
		t.Errorf("non-compacted messages table topic: rc %d:\n%s", rc, out)
	}

	clearEnv(t)
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	if rc, out, _ := doctorRun(t); rc != 1 || !strings.Contains(out, "✗ configuration: PARTOO_API_KEY") {
		t.Errorf("no key: rc %d:\n%s", rc, out)
	}
}

// TestDoctorNeverPrintsTheRegistryPassword: a registry that echoes the Authorization header
// in its error bodies (as some proxies do) must not put the password on doctor's report, in
// clear or in base64 — the same scrubber as run's log (issue 28: doctor printed both).
func TestDoctorNeverPrintsTheRegistryPassword(t *testing.T) {
	const user, password = "sr-user", "sr-Pa55word-xyz"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error_code":50001,"message":"upstream refused: Authorization: %s (user %s, password %s)"}`,
			r.Header.Get("Authorization"), user, password)
	}))
	defer echo.Close()
	cluster := kafkatest.New(t)
	doctorEnv(t, cluster, "k")
	t.Setenv("SCHEMA_REGISTRY_URL", echo.URL)
	t.Setenv("SCHEMA_REGISTRY_USERNAME", user)
	t.Setenv("SCHEMA_REGISTRY_PASSWORD", password)
	rc, out, _ := doctorRun(t)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	if !strings.Contains(out, "upstream refused") {
		t.Fatalf("the registry's answer is not reported (rc %d):\n%s", rc, out)
	}
	for _, leak := range []string{password, basic, strings.TrimRight(basic, "="), base64.StdEncoding.EncodeToString([]byte(password))} {
		if strings.Contains(out, leak) {
			t.Fatalf("doctor printed a form of the registry password (%q):\n%s", leak, out)
		}
	}
}
