package metrics_test

import (
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
)

// Every labelled counter is exported at 0 for its known labels before it first fires.
func TestLabelledCountersStartAtZero(t *testing.T) {
	m := metrics.New(metrics.Gauges{})
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, f := range families {
		series[f.GetName()] = len(f.GetMetric())
	}
	for name, least := range map[string]int{
		"partoo_connector_transaction_failures_total":     9,
		"partoo_connector_signal_errors_total":            3,
		"partoo_connector_api_errors_total":               33,
		"partoo_connector_api_items_skipped_total":        7,
		"partoo_connector_schema_registry_requests_total": 3,
		"partoo_connector_walks_doubted_total":            3,
		"partoo_connector_records_truncated_total":        2,
		"partoo_connector_events_total":                   3,
		"partoo_connector_webhooks_total":                 12,
	} {
		if series[name] < least {
			t.Errorf("%s: %d series at the start, want at least %d", name, series[name], least)
		}
	}
}

// The pass's phase is a gauge per phase: 1 for the current one.
func TestPassPhaseGauge(t *testing.T) {
	m := metrics.New(metrics.Gauges{PassPhase: func() string { return "snapshot" }})
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "partoo_connector_pass_phase" {
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "phase" {
						got[l.GetValue()] = s.GetGauge().GetValue()
					}
				}
			}
		}
	}
	if got["snapshot"] != 1 || got["reconciliation"] != 0 || got["idle"] != 0 || len(got) != 3 {
		t.Fatalf("partoo_connector_pass_phase = %v", got)
	}
}

// Two organisations' views share one registry: each series carries its organization, and the
// figures of one never show in the other's.
func TestOrganizationsShareTheRegistry(t *testing.T) {
	one := metrics.New(metrics.Gauges{Conversations: func() float64 { return 3 }})
	two := one.For("acme", metrics.Gauges{Conversations: func() float64 { return 5 }})
	one.Aborted("timeout")
	two.Aborted("fenced")
	two.Aborted("fenced")
	families, err := one.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"partoo_connector_conversations_tracked,organization=":                         3,
		"partoo_connector_conversations_tracked,organization=acme":                     5,
		"partoo_connector_transaction_failures_total,organization=,reason=timeout":     1,
		"partoo_connector_transaction_failures_total,organization=acme,reason=fenced":  2,
		"partoo_connector_transaction_failures_total,organization=acme,reason=timeout": 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
