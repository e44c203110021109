package benchcli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/internal/bench/realtime"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
)

// brokers are the brokers of KAFKA_BROKERS.
func brokers() []string {
	var out []string
	for _, b := range strings.Split(os.Getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// runRealtime runs the real-time cross-check, then the same setup in simulated time, and
// writes realtime.md.
func runRealtime(setup realtime.Setup, out string, stdout, stderr io.Writer) int {
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		fmt.Fprintln(stderr, "partoo-bench: -realtime needs -connector and KAFKA_BROKERS")
		return 2
	}
	setup.Log = stderr
	fmt.Fprintf(stderr, "partoo-bench: real-time run of %v against %s\n", setup.Duration, strings.Join(setup.Brokers, ","))
	real, err := realtime.Run(context.Background(), setup)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench:", err)
		return 1
	}
	sim, err := freshness.Run(context.Background(), setup.Simulated(), freshness.Scheduler)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench:", err)
		return 1
	}
	report := realtimeMarkdown(real, sim)
	if !printReport(report, out, "realtime.md", stdout, stderr) {
		return 1
	}
	if real.Missed != 0 || real.Throttled != 0 {
		fmt.Fprintf(stderr, "partoo-bench: real time: %d missed, %d 429s\n", real.Missed, real.Throttled)
		return 1
	}
	return 0
}

func realtimeMarkdown(real realtime.Result, sim freshness.Result) string {
	var b strings.Builder
	s := real.Setup.Simulated()
	fmt.Fprintf(&b, "A fresh organisation of %d conversations (~%d messages each), %.1f new messages/s, API latency log-normal "+
		"with median %v and p99 %v, budget 300 requests/min (10 %% reserve); the connector runs %v; changes measured from "+
		"%v to %v (the first snapshot takes about a minute). Real time: the `partoo-connector` binary against `partoo-sim` "+
		"over HTTP and an Apache Kafka 4.x broker, lag from the simulator's change log to a `read_committed` consumer "+
		"seeing the event (commit + a fetch of ≤ 20 ms). Simulated: the same setup through `freshness.Run` (Kafka commit "+
		"modelled as 10 ms).\n\n", s.Conversations, s.MessagesPerConv, s.Activity.MessagesPerSecond, s.Latency, s.Latency*5/2,
		real.Setup.Duration, s.Warmup, s.Active)
	b.WriteString("| run | changes | detected | coalesced | missed | p50 lag | p99 lag | MessageCreated p50 | MessageCreated p99 | StatusChanged p50 | 429s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, sc freshness.Score, throttled int64) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | **%s** | %s | %s | %s | %s | %d |\n", name, sc.Changes, sc.Detected, sc.Coalesced,
			sc.Missed, fmtLag(sc.Percentile(0, .5)), fmtLag(sc.Percentile(0, .99)), fmtLag(sc.Percentile(diff.MessageCreated, .5)),
			fmtLag(sc.Percentile(diff.MessageCreated, .99)), fmtLag(sc.Percentile(diff.StatusChanged, .5)), throttled)
	}
	row("real time", real.Score, real.Throttled)
	row("simulated", sim.Score, sim.Throttled)
	rp, sp := real.Percentile(0, .5), sim.Percentile(0, .5)
	diffp := sp - rp
	if diffp < 0 {
		diffp = -diffp
	}
	agree := diffp <= 500*time.Millisecond || float64(diffp) <= 0.3*float64(rp)
	verdict := "agree"
	if !agree {
		verdict = "do not agree"
	}
	fmt.Fprintf(&b, "\nThe p50 lags differ by %s (%.0f %% of the real-time p50): they %s within 30 %% or 0.5 s.\n",
		fmtLag(diffp), 100*float64(diffp)/float64(rp), verdict)
	return b.String()
}

// printReport prints a report and writes it as out/name when out is set; false (with the
// error on stderr) when it cannot be written.
func printReport(report, out, name string, stdout, stderr io.Writer) bool {
	fmt.Fprint(stdout, report)
	if out == "" {
		return true
	}
	err := os.MkdirAll(out, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(out, name), []byte(report), 0o644)
	}
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench:", err)
		return false
	}
	return true
}
