package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
)

// TestLifeTransitions walks the engine's life through its events, checking after each the
// phase shown and whether it is ready: the one transition function replaces the flags that
// encoded it.
func TestLifeTransitions(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	down := &cluster.Outage{Since: t0, Err: "dial tcp: connection refused"}
	steps := []struct {
		name  string
		ev    event
		phase Phase
		ready bool
		why   string // the readiness error's text, when not ready
	}{
		{"before anything", event{kind: -1}, PhaseStarting, false, "restoring the state"},
		{"a start step waits", event{kind: evWaiting, why: "waiting for Partoo's API"}, PhaseStarting, false, "waiting for Partoo's API"},
		{"the step is done", event{kind: evWaiting}, PhaseStarting, false, "restoring the state"},
		{"standby for the lease", event{kind: evStandby}, PhaseStandby, true, ""},
		{"a wait is not shown on a standby", event{kind: evWaiting, why: "x"}, PhaseStandby, true, ""},
		{"Kafka down on a standby: still ready to take over", event{kind: evKafka, down: down}, PhaseStandby, true, ""},
		{"lease held: restoring", event{kind: evRestoring}, PhaseRestoring, false, "Kafka does not answer"},
		{"Kafka up", event{kind: evKafka}, PhaseRestoring, false, "restoring the state"},
		{"InitProducerID waits", event{kind: evWaiting, why: "waiting for Kafka: registering"}, PhaseRestoring, false, "waiting for Kafka: registering"},
		{"a reload asked while restoring is the restore itself", event{kind: evReload}, PhaseRestoring, false, "waiting for Kafka: registering"},
		{"restored: running", event{kind: evRunning}, PhaseRunning, true, ""},
		{"Kafka down while running", event{kind: evKafka, down: down}, PhaseKafkaDown, false, "Kafka does not answer"},
		{"Kafka up again", event{kind: evKafka}, PhaseRunning, true, ""},
		{"a transaction fails", event{kind: evTxnFailed}, PhaseRunning, false, "Kafka transactions are failing"},
		{"one commits", event{kind: evTxnOK}, PhaseRunning, true, ""},
		{"a commit's outcome is unknown", event{kind: evTxnFailed}, PhaseRunning, false, "Kafka transactions are failing"},
		{"re-read the state", event{kind: evReload}, PhaseReloading, false, "Kafka transactions are failing"},
		{"Kafka answering does not end a reload", event{kind: evTxnOK}, PhaseReloading, false, "Kafka transactions are failing"},
		{"re-read", event{kind: evReloaded}, PhaseRunning, true, ""},
		{"stopped", event{kind: evStopped}, PhaseStopped, false, "stopped"},
		{"a reload after the stop changes nothing", event{kind: evReload}, PhaseStopped, false, "stopped"},
	}
	var l life
	for i, s := range steps {
		s.ev.at = t0.Add(time.Duration(i) * time.Second)
		before := l
		l = next(l, s.ev)
		if got := l.Phase(); got != s.phase {
			t.Fatalf("%d %s: phase %s, want %s", i, s.name, got, s.phase)
		}
		err := l.readiness()
		if (err == nil) != s.ready {
			t.Fatalf("%d %s: ready = %v (%v), want %v", i, s.name, err == nil, err, s.ready)
		}
		if err != nil && !contains(err.Error(), s.why) {
			t.Fatalf("%d %s: readiness %q, want it to say %q", i, s.name, err, s.why)
		}
		if before.phase != l.phase && !l.since.Equal(s.ev.at) {
			t.Fatalf("%d %s: entered %s at %v, want the event's time %v", i, s.name, l.phase, l.since, s.ev.at)
		}
		if before.phase == l.phase && !l.since.Equal(before.since) {
			t.Fatalf("%d %s: since moved without a phase change", i, s.name)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
