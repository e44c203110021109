package benchcli

import (
	"context"
	"fmt"
	"io"
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
// command is the command line, named by the report.
func runCapacity(setup capacity.Setup, command, out string, stdout, stderr io.Writer) int {
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		fmt.Fprintln(stderr, "partoo-bench: -capacity needs -connector and KAFKA_BROKERS")
		return 2
	}
	setup = setup.WithDefaults()
	setup.Log = stderr
	fmt.Fprintf(stderr, "partoo-bench: capacity run (%v organisations, %d run(s) each, %v warm-up, %v window) against %s\n",
		setup.Organizations, setup.Runs, setup.Warmup, setup.Measure, strings.Join(setup.Brokers, ","))
	steps, err := capacity.Run(context.Background(), setup)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench:", err)
		return 1
	}
	report := capacityMarkdown(setup, capacity.Machine(), command, time.Now(), steps)
	if !printReport(report, out, "capacity.md", stdout, stderr) {
		return 1
	}
	return 0
}

// commandLine is partoo-bench's command line as a shell would take it back.
func commandLine(args []string) string {
	out := []string{"partoo-bench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// capacityMarkdown is capacity.md: how it was measured (in real time, on which machine, with
// which command), then one row per run of a step.
func capacityMarkdown(setup capacity.Setup, machine, command string, now time.Time, steps []capacity.Step) string {
	var b strings.Builder
	b.WriteString("# Organisations per replica\n\n")
	fmt.Fprintf(&b, "Measured %s in **real time against a real Kafka broker** (%s), on %s, by\n`%s`\n(`make bench-capacity` runs it with the defaults).\n\n",
		now.UTC().Format("2006-01-02"), strings.Join(setup.Brokers, ","), machine, command)
	fmt.Fprintf(&b, "One connector process (the shipped binary) runs an organisations file of N organisations, each with its own\n")
	fmt.Fprintf(&b, "simulator at Partoo's 300 requests/minute (%d conversations × %d messages, %.1f new messages/s, %v median\n",
		setup.Conversations, setup.Messages, setup.Activity, setup.Latency)
	fmt.Fprintf(&b, "latency), all behind one HTTP server; measured over %v after %v of warm-up, %d run(s) of each step in a row.\n", setup.Measure, setup.Warmup, setup.Runs)
	b.WriteString("The simulators and the broker share the machine.\n\n")
	b.WriteString("| organisations | run | CPU (cores) | CPU per API request (ms) | peak RSS (MiB) | steady RSS (MiB) | new API connections/min | new connections, % of requests | broker connections | goroutines | requests/min, slowest organisation | median | 429s | every organisation ≥ 95 % of 270/min |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n")
	for _, s := range steps {
		full := "yes"
		if !s.Carried() {
			full = "**no**"
		}
		fmt.Fprintf(&b, "| %d | %d | %.3f | %.3f | %.0f | %.0f | %.1f | %.2f %% | %d | %s | %.0f | %.0f | %d | %s |\n",
			s.Organizations, s.Run, s.CPUCores, s.CPUPerRequestMs, s.PeakRSSMiB, s.RSSMiB, s.NewConnectionsPerMinute(),
			100*s.NewConnectionsShare(), s.BrokerConnections, orDash(s.Goroutines), s.MinRequestsPerMinute, s.MedianRequestsPerMinute, s.Throttled, full)
	}
	b.WriteString(capacityLegend)
	marginalCost(&b, steps)
	return b.String()
}

const capacityLegend = `
CPU: the process's user + system time over the window ÷ the window; per API request: that time ÷ the
requests the simulators served over the window. Peak RSS: the highest resident set since the start
(VmHWM of /proc/PID/status, the warm-up's snapshots included); steady RSS: the resident set at the end
of the window (VmRSS). New API connections: those the simulators' HTTP server accepted over the window.
Broker connections: the process's established TCP connections to the broker's port at the end of the
window (/proc/PID/net/tcp and tcp6, by the process's socket inodes). Goroutines: go_goroutines of the
process's /metrics at the end ("–": not read). Full budget: 270 requests/minute, Partoo's 300 less the
default 10 % reserve.
`

func orDash(n int) string {
	if n == 0 {
		return "–"
	}
	return strconv.Itoa(n)
}

// marginalCost writes what each organisation beyond the first step's costs, from the mean of
// the first and the last step's runs.
func marginalCost(b *strings.Builder, steps []capacity.Step) {
	type mean struct{ n, cpu, peak, rss float64 }
	var order []int
	means := map[int]*mean{}
	for _, s := range steps {
		m := means[s.Organizations]
		if m == nil {
			m = &mean{}
			means[s.Organizations], order = m, append(order, s.Organizations)
		}
		m.n, m.cpu, m.peak, m.rss = m.n+1, m.cpu+s.CPUCores, m.peak+s.PeakRSSMiB, m.rss+s.RSSMiB
	}
	if len(order) < 2 {
		return
	}
	lo, hi := order[0], order[len(order)-1]
	a, z := means[lo], means[hi]
	dn := float64(hi - lo)
	fmt.Fprintf(b, "\nEach organisation added between %d and %d costs %.2f %% of a core, %.1f MiB of peak and %.1f MiB of\n", lo, hi,
		100*(z.cpu/z.n-a.cpu/a.n)/dn, (z.peak/z.n-a.peak/a.n)/dn, (z.rss/z.n-a.rss/a.n)/dn)
	fmt.Fprintf(b, "steady resident set (the difference between the two steps' means over their runs ÷ %d).\n", hi-lo)
}
