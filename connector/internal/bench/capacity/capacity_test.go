package capacity_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/capacity"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// TestCapacityMeasuresTheShippedBinary runs a short capacity step (two organisations) with the
// binary built from this tree: the figures come from the process and the simulators, not made
// up — the process used CPU and memory (its peak at least its steady resident set), each
// organisation made requests, none was throttled, it held connections to the broker and its
// /metrics named its goroutines.
func TestCapacityMeasuresTheShippedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the connector binary for about 25 s")
	}
	bin := filepath.Join(t.TempDir(), "partoo-connector")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/partoo-connector/partoo-connector/cmd/partoo-connector").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cluster := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	steps, err := capacity.Run(ctx, capacity.Setup{Connector: bin, Brokers: cluster.Brokers, Organizations: []int{2},
		Conversations: 10, Messages: 5, Warmup: 8 * time.Second, Measure: 12 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := steps[0]
	t.Logf("%+v", s)
	if s.Organizations != 2 || s.Run != 1 || s.CPUCores <= 0 || s.RSSMiB < 5 || s.MinRequestsPerMinute <= 0 || s.Throttled != 0 {
		t.Errorf("implausible step: %+v", s)
	}
	if s.PeakRSSMiB < s.RSSMiB || s.Requests <= 0 || s.CPUPerRequestMs <= 0 || s.BrokerConnections < 1 || s.Goroutines < 10 {
		t.Errorf("implausible process figures: %+v", s)
	}
	// A budget of 270/minute cannot be exceeded: more would mean the rates are miscounted.
	if s.MedianRequestsPerMinute > 1.2*capacity.FullBudget {
		t.Errorf("median %f requests/minute is above the budget", s.MedianRequestsPerMinute)
	}
}
