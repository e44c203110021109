package freshness_test

import (
	"context"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/cmd/partoo-bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoosim"
)

// TestSchedulerBeatsTheSweep is the acceptance check of the scheduler on a small organisation
// (the full-size figures come from cmd/partoo-bench): at equal budget its median detection
// lag is at least 10 times lower than the naive sweep's, webhooks bring it under 2 s, and no
// strategy misses a change or earns a 429.
func TestSchedulerBeatsTheSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates hours")
	}
	setup := freshness.Setup{Conversations: 2000, MessagesPerConv: 10, Warmup: 5 * time.Minute, Active: 40 * time.Minute,
		Cooldown: 20 * time.Minute, Seed: 3}
	results := map[string]freshness.Result{}
	for _, s := range []string{freshness.Naive, freshness.Scheduler, freshness.Webhooks} {
		r, err := freshness.Run(context.Background(), setup, s)
		if err != nil {
			t.Fatal(err)
		}
		results[s] = r
		t.Logf("%-22s p50 %-8v p99 %-8v changes %d detected %d coalesced %d missed %d req/change %.2f 429s %d",
			s, r.Percentile(0, .5), r.Percentile(0, .99), r.Changes, r.Detected, r.Coalesced, r.Missed, r.RequestsPerChange(), r.Throttled)
		if r.Missed != 0 || r.Throttled != 0 {
			t.Errorf("%s: %d missed, %d 429s", s, r.Missed, r.Throttled)
		}
		if r.Detected+r.Coalesced+r.Missed != r.Changes || r.Detected < r.Changes/2 {
			t.Errorf("%s: %d detected + %d coalesced of %d changes", s, r.Detected, r.Coalesced, r.Changes)
		}
	}
	naive, sched, hooks := results[freshness.Naive].Percentile(0, .5), results[freshness.Scheduler].Percentile(0, .5), results[freshness.Webhooks].Percentile(0, .5)
	if sched*10 > naive {
		t.Errorf("scheduler p50 %v is not 10× better than the sweep's %v", sched, naive)
	}
	if hooks > 2*time.Second {
		t.Errorf("with webhooks p50 %v, want < 2 s", hooks)
	}
	for _, typ := range []diff.EventType{diff.MessageCreated, diff.StatusChanged} {
		if results[freshness.Scheduler].Percentile(typ, .5) < 0 {
			t.Errorf("no %s detected", typ)
		}
	}
}

// TestIDOrderFallsBack: with the listing in id order the scheduler must notice and still catch
// every change, within budget.
func TestIDOrderFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates hours")
	}
	setup := freshness.Setup{Conversations: 1000, MessagesPerConv: 10, Warmup: 5 * time.Minute, Active: 30 * time.Minute,
		Cooldown: 15 * time.Minute, Seed: 4, Order: partoosim.OrderID}
	r, err := freshness.Run(context.Background(), setup, freshness.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("id order: p50 %v p99 %v missed %d 429s %d", r.Percentile(0, .5), r.Percentile(0, .99), r.Missed, r.Throttled)
	if r.Missed != 0 || r.Throttled != 0 || r.Detected < r.Changes*8/10 || r.Percentile(0, .5) > 30*time.Second {
		t.Fatalf("id order: %+v", r)
	}
}
