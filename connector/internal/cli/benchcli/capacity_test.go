package benchcli

import (
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/capacity"
)

// TestCapacityReportCarriesEveryFigure: the report says how it was measured (real time, a real
// broker, the machine, the command) and gives each run of a step its row with every column.
func TestCapacityReportCarriesEveryFigure(t *testing.T) {
	setup := capacity.Setup{Connector: "bin/partoo-connector", Brokers: []string{"localhost:9092"}, Organizations: []int{1, 10}, Runs: 2}.WithDefaults()
	step := func(n, run int, cpu, peak, rss, minRate float64, goroutines int) capacity.Step {
		return capacity.Step{Organizations: n, Run: run, CPUCores: cpu, CPUPerRequestMs: 1.5, PeakRSSMiB: peak, RSSMiB: rss,
			Requests: 540 * int64(n), NewConnections: 3, BrokerConnections: 2 + n, Goroutines: goroutines,
			MinRequestsPerMinute: minRate, MedianRequestsPerMinute: 270, Window: 2 * time.Minute}
	}
	steps := []capacity.Step{step(1, 1, 0.02, 40, 30, 270, 60), step(1, 2, 0.04, 42, 32, 270, 0),
		step(10, 1, 0.12, 130, 100, 269, 400), step(10, 2, 0.12, 140, 104, 250, 410)}
	md := capacityMarkdown(setup, "2 cores (nproc), Test CPU, linux/amd64", "partoo-bench -capacity -capacity-runs 2",
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), steps)
	for _, want := range []string{
		"2026-12-01", "real time against a real Kafka broker** (localhost:9092)", "2 cores (nproc), Test CPU, linux/amd64",
		"`partoo-bench -capacity -capacity-runs 2`", "over 2m0s after 45s of warm-up, 2 run(s) of each step",
		"| organisations | run | CPU (cores) | CPU per API request (ms) | peak RSS (MiB) | steady RSS (MiB) | new API connections/min | new connections, % of requests | broker connections | goroutines |",
		// 3 new connections over 2 minutes, of 540 requests: 1.5/min, 0.56 %.
		"| 1 | 1 | 0.020 | 1.500 | 40 | 30 | 1.5 | 0.56 % | 3 | 60 | 270 | 270 | 0 | yes |",
		"| 1 | 2 | 0.040 | 1.500 | 42 | 32 | 1.5 | 0.56 % | 3 | – | 270 | 270 | 0 | yes |",
		"| 10 | 2 | 0.120 | 1.500 | 140 | 104 | 1.5 | 0.06 % | 12 | 410 | 250 | 270 | 0 | **no** |",
		// Means: CPU 0.03 → 0.12, peak 41 → 135, steady 31 → 102, over 9 organisations.
		"costs 1.00 % of a core, 10.4 MiB of peak and 7.9 MiB of", "÷ 9)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if rows := strings.Count(md, "\n| 1"); rows != 4 {
		t.Errorf("%d rows, want 4 (two runs of two steps)", rows)
	}
}

func TestCommandLineQuotesWhatAShellWouldSplit(t *testing.T) {
	got := commandLine([]string{"-capacity", "-connector", "/tmp/my dir/pc", "-out", "it's", ""})
	want := `partoo-bench -capacity -connector '/tmp/my dir/pc' -out 'it'\''s' ''`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}

func TestCapacityFlagsRejectNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"-capacity", "-capacity-runs", "0"},
		{"-capacity", "-capacity-organizations", "1,0"},
		{"-capacity", "-capacity-measure", "0s"},
	} {
		var out, errs strings.Builder
		if code := run(args, &out, &errs); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs.String())
		}
	}
}
