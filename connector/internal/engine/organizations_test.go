package engine_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
)

// TestTwoOrganizationsInOneProcess: one process (package service) runs two engines side by
// side for two simulated organisations whose conversation ids overlap, on one Kafka cluster
// with two transactional ids and their own topics, sharing the metrics registry. Each
// organisation's events are exactly once against its own simulator's ground truth, although
// the same conversation ids key both.
func TestTwoOrganizationsInOneProcess(t *testing.T) {
	acme, globex := newEnv(t), newEnv(t)
	globex.cluster = acme.cluster // one Kafka cluster (kfake makes one per env)
	for i, e := range []*env{acme, globex} {
		gen := partoosim.NewGenerator(e.sim, partoosim.Activity{DeleteRatio: 0.3}, uint64(7+i))
		gen.Populate(10, 6, time.Hour)
	}
	overlap := 0
	for _, id := range acme.sim.ConversationIDs() {
		if _, ok := globex.sim.Conversation(id); ok {
			overlap++
		}
	}
	if overlap == 0 {
		t.Fatal("the two simulators share no conversation id: the test would not show isolation")
	}

	m := metrics.New(metrics.Gauges{})
	a, g := acme.options(), globex.options()
	a.Organization, g.Organization = "acme", "globex"
	svc, err := service.New(service.Config{Engines: []engine.Options{a, g}, Metrics: m, Logger: a.Logger})
	if err != nil {
		t.Fatal(err)
	}
	alive := runService(t, svc)
	// Both organisations change while they run.
	for i, e := range []*env{acme, globex} {
		gen := partoosim.NewGenerator(e.sim, partoosim.Activity{MessagesPerSecond: 5, DeleteRatio: 0.3}, uint64(70+i))
		for range 20 {
			gen.Tick()
		}
	}
	for _, e := range []*env{acme, globex} {
		waitExactlyOnce(t, e, nil, 90*time.Second, alive)
	}
	// Each organisation's events are counted under its own label.
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "partoo_connector_events_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["type"] == "MessageCreated" {
				created[labels["organization"]] = s.GetCounter().GetValue()
			}
		}
	}
	for _, org := range []string{"acme", "globex"} {
		if created[org] == 0 {
			t.Errorf("no MessageCreated counted for organization %q: %v", org, created)
		}
	}
	if st := svc.Status(); len(st.Organizations) != 2 || st.Organizations["acme"] == nil || st.Organizations["globex"] == nil {
		t.Errorf("/status of two organisations: %+v", st)
	}
}

// TestAnOrganizationThatStopsStopsTheProcess: an error that needs an operator in one engine
// (here a rejected API key) stops the others too, and the error names the organisation.
func TestAnOrganizationThatStopsStopsTheProcess(t *testing.T) {
	acme, globex := newEnv(t), newEnv(t)
	globex.cluster = acme.cluster
	a, g := acme.options(), globex.options()
	a.Organization, g.Organization = "acme", "globex"
	g.Partoo.APIKey = secret.New("wrong")
	svc, err := service.New(service.Config{Engines: []engine.Options{a, g}, Logger: a.Logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "organization globex: Partoo API key check") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the process did not stop within 60 s of one organisation's fatal error")
	}
}

// runService runs svc until the test ends (then requires a clean stop), and returns a check
// for waits that fails the test once the service stopped.
func runService(t *testing.T, svc *service.Service) (alive func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service stopped with %v", err)
		}
	})
	return func() error {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the service stopped: %v", err)
		default:
		}
		return nil
	}
}

// TestAFencedOrganisationStopsAlone: another producer registers one organisation's
// transactional id (a real fence: a newer epoch). That organisation stops on its next
// transaction — alone: the other goes on publishing, the process does not exit. /status says
// why and since when, partoo_connector_organization_stopped{reason="fenced"} is 1, and after
// its pause the organisation starts again (registering its id once more) and publishes what it
// missed, exactly once.
func TestAFencedOrganisationStopsAlone(t *testing.T) {
	acme, globex := newEnv(t), newEnv(t)
	globex.cluster = acme.cluster
	populate(acme, 3)
	populate(globex, 3)
	m := metrics.New(metrics.Gauges{})
	a, g := acme.options(), globex.options()
	a.Organization, g.Organization = "acme", "globex"
	svc, err := service.New(service.Config{Engines: []engine.Options{a, g}, Metrics: m, Logger: a.Logger})
	if err != nil {
		t.Fatal(err)
	}
	alive := runService(t, svc)
	for _, e := range []*env{acme, globex} {
		waitExactlyOnce(t, e, nil, 90*time.Second, alive)
	}
	fencer, err := publish.New(publish.Config{Base: a.Kafka, TransactionalID: acme.txnID, EventsTopic: acme.topics.Events, StateTopic: acme.topics.State})
	if err != nil {
		t.Fatal(err)
	}
	defer fencer.Close()
	if err := fencer.Init(kafkaCtx(t)); err != nil {
		t.Fatal(err)
	}
	addMessage := func(e *env, text string) {
		t.Helper()
		if _, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: e.sim.ConversationIDs()[0], SenderType: model.SenderConsumer,
			ContentType: model.ContentText, Status: model.StatusSuccess, Content: text, Date: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	addMessage(acme, "after the fence")
	stopped := func() (float64, string) {
		return gaugeValue(t, m, "partoo_connector_organization_stopped", map[string]string{"organization": "acme", "reason": "fenced"}),
			strings.Join(svc.Status().Reasons, "\n")
	}
	for began := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		alive()
		if v, why := stopped(); v == 1 && strings.Contains(why, "acme: stopped (fenced) since ") {
			t.Logf("/status while fenced: %s", why)
			if st := svc.Status(); st.Time.IsZero() || st.Uptime == "" {
				t.Fatalf("/status while an organisation is stopped has no time or uptime: %+v", st)
			}
			break
		}
		if time.Since(began) > 2*time.Minute {
			v, why := stopped()
			t.Fatalf("acme not reported stopped as fenced within 2 minutes (gauge %v, reasons %q)", v, why)
		}
	}
	addMessage(globex, "the other organisation goes on")
	waitExactlyOnce(t, globex, nil, 90*time.Second, alive)
	// After its pause acme starts again and publishes what it missed.
	waitExactlyOnce(t, acme, nil, 3*time.Minute, alive)
	for began := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if v, _ := stopped(); v == 0 {
			break
		}
		if time.Since(began) > time.Minute {
			t.Fatal("acme publishes again but is still reported stopped")
		}
	}
}

// gaugeValue reads one gauge series of m with exactly the given labels (-1: none).
func gaugeValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	for _, s := range series(t, m, name) {
		if maps.Equal(s.labels, labels) {
			return s.gauge
		}
	}
	return -1
}
