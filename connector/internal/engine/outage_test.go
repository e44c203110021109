package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/status"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// TestKafkaOutageIsToldAndWaitedOut: when the broker stops answering, /readyz, /status and
// partoo_connector_ready all say so within 10 s, /status with Kafka as the reason; no walk
// starts while it lasts (the budget is kept); and once the broker answers again the connector
// is ready and publishes by itself.
func TestKafkaOutageIsToldAndWaitedOut(t *testing.T) {
	if testing.Short() {
		t.Skip("freezes a broker")
	}
	t.Parallel()
	b := kafkatest.NewPrivate(t)
	e := newEnvOn(t, &b.Cluster)
	populate(e, 5)
	opt := e.options()
	m := metrics.New(metrics.Gauges{})
	opt.Metrics = m
	r := e.start(opt)
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
	ready := func() float64 {
		fams, _ := m.Registry.Gather()
		for _, f := range fams {
			if f.GetName() == "partoo_connector_ready" {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	if r.c.Readiness() != nil || ready() != 1 {
		t.Fatalf("not ready before the outage: %v, gauge %v", r.c.Readiness(), ready())
	}

	b.Freeze()
	frozen := time.Now()
	var st status.Report
	for {
		st = r.c.Status()
		if st.Status == "degraded" && len(st.Reasons) > 0 && strings.Contains(strings.Join(st.Reasons, ";"), "Kafka does not answer") &&
			r.c.Readiness() != nil && ready() == 0 {
			break
		}
		if time.Since(frozen) > time.Minute { // about 6 s idle; a busy machine gets slack
			b.Thaw()
			t.Fatalf("a minute into the outage: status %q %q, ready %v (%v), gauge %v", st.Status, st.Reasons, r.c.Readiness() == nil, r.c.Readiness(), ready())
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := time.Since(frozen)
	t.Logf("outage told after %v: %q; readiness: %v", seen.Round(100*time.Millisecond), st.Reasons, r.c.Readiness())
	// No walk starts while Kafka does not answer (those in flight may finish).
	walks := r.c.Walks()
	time.Sleep(4 * time.Second)
	if n := r.c.Walks() - walks; n > 16 {
		b.Thaw()
		t.Fatalf("%d walks during the outage: the walks go on", n)
	}
	b.Thaw()
	thawed := time.Now()
	for r.c.Readiness() != nil || r.c.Status().Status != "ok" {
		if time.Since(thawed) > 2*time.Minute {
			t.Fatalf("not ready 2 minutes after the broker came back: %v %q", r.c.Readiness(), r.c.Status().Reasons)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("ready again %v after the broker came back", time.Since(thawed).Round(100*time.Millisecond))
	before := len(e.readEvents(t))
	ids := e.sim.ConversationIDs()
	if _, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[0], SenderType: "Consumer", Content: "after the outage"}); err != nil {
		t.Fatal(err)
	}
	e.waitEvents(t, "the message sent after the outage", func(evs []event) bool { return len(evs) > before })
	checkExactlyOnce(t, e, e.readEvents(t), e.sim.Changes(0))
	r.stop(t)
}
