package benchcli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/capacity"
)

// parseSteps reads -capacity-organizations: comma-separated counts.
func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-capacity-organizations: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runCapacity measures how many organisations one replica carries and writes capacity.md.
func runCapacity(setup capacity.Setup, out string, stdout, stderr io.Writer) int {
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		fmt.Fprintln(stderr, "partoo-bench: -capacity needs -connector and KAFKA_BROKERS")
		return 2
	}
	setup = setup.WithDefaults()
	setup.Log = stderr
	fmt.Fprintf(stderr, "partoo-bench: capacity run (%v organisations) against %s\n", setup.Organizations, strings.Join(setup.Brokers, ","))
	steps, err := capacity.Run(context.Background(), setup)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench:", err)
		return 1
	}
	report := capacityMarkdown(setup, steps)
	if !printReport(report, out, "capacity.md", stdout, stderr) {
		return 1
	}
	return 0
}

func capacityMarkdown(setup capacity.Setup, steps []capacity.Step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Organisations per replica\n\n")
	fmt.Fprintf(&b, "`make bench-capacity`, %s, %d cores (%s/%s). One connector process (the shipped binary) runs an\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "organisations file of N organisations, each with its own simulator at Partoo's 300 requests/minute\n")
	fmt.Fprintf(&b, "(%d conversations × %d messages, %.1f new messages/s, %v median latency), against a real Kafka broker on the\n",
		setup.Conversations, setup.Messages, setup.Activity, setup.Latency)
	fmt.Fprintf(&b, "same machine; measured over %v after %v of warm-up, in real time. CPU is the process's user + system time ÷\n", setup.Measure, setup.Warmup)
	fmt.Fprintf(&b, "wall time; memory its resident set at the end. The simulators and the broker share the machine.\n\n")
	b.WriteString("| organisations | CPU (cores) | CPU per organisation | memory (MiB) | memory per organisation | requests/min, slowest organisation | median | 429s | full budget each |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n")
	for _, s := range steps {
		full := "yes"
		if !s.Carried() {
			full = "**no**"
		}
		fmt.Fprintf(&b, "| %d | %.3f | %.2f %% | %.0f | %.1f | %.0f | %.0f | %d | %s |\n", s.Organizations, s.CPUCores,
			100*s.CPUCores/float64(s.Organizations), s.RSSMiB, s.RSSMiB/float64(s.Organizations),
			s.MinRequestsPerMinute, s.MedianRequestsPerMinute, s.Throttled, full)
	}
	if len(steps) >= 2 {
		first, last := steps[0], steps[len(steps)-1]
		dn := float64(last.Organizations - first.Organizations)
		fmt.Fprintf(&b, "\nEach organisation added between %d and %d costs %.2f %% of a core and %.1f MiB (the difference between\n",
			first.Organizations, last.Organizations, 100*(last.CPUCores-first.CPUCores)/dn, (last.RSSMiB-first.RSSMiB)/dn)
		fmt.Fprintf(&b, "the two rows ÷ %d). Full budget: every organisation made at least 95 %% of %.0f requests/minute (300 less\n", int(dn), capacity.FullBudget)
		b.WriteString("the default 10 % reserve).\n")
	}
	return b.String()
}
