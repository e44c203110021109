package benchcli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
)

func write(dir, report string, todo []job, results []freshness.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "freshness.md"), []byte(report), 0o644); err != nil {
		return err
	}
	var plotted []freshness.Result
	for i, j := range todo {
		if j.section == warm {
			plotted = append(plotted, results[i])
		}
	}
	f, err := os.Create(filepath.Join(dir, "freshness.png"))
	if err != nil {
		return err
	}
	if err := plot(f, plotted); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fmtLag(d time.Duration) string {
	switch {
	case d < 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
}

func fmtLatency(s freshness.Setup) string {
	if s.Latency == 0 {
		return "0 ms"
	}
	return fmt.Sprintf("%v (p99 %v)", s.Latency, s.LatencyP99)
}

var eventTypes = []diff.EventType{diff.MessageCreated, diff.StatusChanged, diff.MessageDeleted}

func markdown(base freshness.Setup, todo []job, results []freshness.Result, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Organisation: %d conversations, ~%d messages each; activity %.1f new messages/s, status changes 1–30 s after sending, "+
		"2 %% of Instagram consumer messages deleted; budget %d requests/min of which 10 %% is held in reserve (the shipped default), "+
		"so a target rate of %.0f/min; API latency log-normal with the median shown and p99 = 2.5 × median; each Kafka transaction "+
		"takes 10 ms; up to %d walks in flight; seed %d. Everything runs in simulated time: %v of wall time for this report.\n\n",
		base.Conversations, base.MessagesPerConv, base.Activity.MessagesPerSecond, base.Budget, float64(base.Budget)*0.9, pipeline.DefaultMaxInFlight, base.Seed, took.Round(time.Second))

	section := func(name string) (js []job, rs []freshness.Result) {
		for i, j := range todo {
			if j.section == name {
				js, rs = append(js, j), append(rs, results[i])
			}
		}
		return js, rs
	}

	if js, rs := section(warm); len(js) > 0 {
		fmt.Fprintf(&b, "**Warmed-up organisation** (every conversation already in the state; changes measured from minute %v to %v, "+
			"strategies running %v longer):\n\n", js[0].setup.Warmup.Minutes(), js[0].setup.Active.Minutes(), js[0].setup.Cooldown)
		b.WriteString("| strategy | listing order | median latency | budget used | event type | p50 lag | p99 lag | detected | coalesced | missed | 429s |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			fmt.Fprintf(&b, "| **%s** | %s | %s | %.1f %% | all | **%s** | %s | %d | %d | %d | %d |\n", r.Strategy, r.Setup.Order,
				fmtLatency(r.Setup), 100*r.Utilisation, fmtLag(r.Percentile(0, .5)), fmtLag(r.Percentile(0, .99)), r.Detected, r.Coalesced, r.Missed, r.Throttled)
			for _, t := range eventTypes {
				fmt.Fprintf(&b, "| | | | | %s | %s | %s | %d | | | |\n", t, fmtLag(r.Percentile(t, .5)), fmtLag(r.Percentile(t, .99)), len(r.Lags[t]))
			}
		}
		b.WriteString("\n")
	}

	if js, rs := section(snapshot); len(js) > 0 {
		fmt.Fprintf(&b, "**First snapshot of a fresh organisation** (empty state; %d conversations, each one page of messages). "+
			"Bound: conversations ÷ target rate. Live: `MessageCreated` of messages sent while the snapshot ran.\n\n", js[0].setup.Conversations)
		b.WriteString("| activity | median latency | snapshot took | bound | ratio | live p50 lag | live p99 lag | live detected | all p99 lag | missed | 429s |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			activity := "none"
			if r.Setup.Activity.MessagesPerSecond > 0.001 {
				activity = fmt.Sprintf("%.1f msg/s", r.Setup.Activity.MessagesPerSecond)
			}
			took, ratio := "not finished", "–"
			if r.Snapshot > 0 {
				took = fmtLag(r.Snapshot)
				ratio = fmt.Sprintf("%.3f", r.Snapshot.Seconds()/r.SnapshotBound.Seconds())
			}
			live := r.LiveDuringSnapshot
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %d | %d |\n", activity, fmtLatency(r.Setup), took,
				fmtLag(r.SnapshotBound), ratio, fmtLag(freshness.Percentile(live, .5)), fmtLag(freshness.Percentile(live, .99)), len(live),
				fmtLag(r.Percentile(0, .99)), r.Missed, r.Throttled)
		}
		b.WriteString("\n")
	}

	if js, rs := section(saturation); len(js) > 0 {
		s := js[0].setup
		fmt.Fprintf(&b, "**Saturated budget**: %d conversations with many new messages a second, %v median latency: more changes "+
			"than the budget can follow one walk each. Reconciliation keeps its 20 %% share, so no change may wait longer than "+
			"one reconciliation period (conversations ÷ (0.2 × rate)).\n\n", s.Conversations, s.Latency)
		b.WriteString("| activity | budget used | event type | p50 lag | p99 lag | max lag | reconciliation period | detected | coalesced | missed | 429s |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			fmt.Fprintf(&b, "| %.0f msg/s | %.1f %% | all | %s | %s | **%s** | %s | %d | %d | %d | %d |\n", r.Setup.Activity.MessagesPerSecond,
				100*r.Utilisation, fmtLag(r.Percentile(0, .5)), fmtLag(r.Percentile(0, .99)), fmtLag(r.Percentile(0, 1)),
				fmtLag(r.ReconcilePeriod), r.Detected, r.Coalesced, r.Missed, r.Throttled)
			for _, t := range eventTypes {
				fmt.Fprintf(&b, "| | | %s | %s | %s | %s | | %d | | | |\n", t, fmtLag(r.Percentile(t, .5)), fmtLag(r.Percentile(t, .99)),
					fmtLag(r.Percentile(t, 1)), len(r.Lags[t]))
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("`budget used`: requests per minute during the measured window ÷ target rate. `coalesced`: status changes superseded " +
		"before any poll could see them (A → B → A between two walks), unobservable without webhooks; `missed`: changes neither " +
		"detected nor coalesced after a final reconciliation of every conversation. Lag: from the change in the simulator to the " +
		"commit of the transaction that carries its event.\n")
	return b.String()
}
