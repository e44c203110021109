// Package benchcli is the partoo-bench command (cmd/partoo-bench): it measures detection lag
// under Partoo's 300 requests/minute budget, in simulated time, driving the shipped pipeline (scheduler, concurrent walkers, diff, group
// commit) against the simulator with an API latency model, and writes a Markdown report and a
// PNG plot of the lag distributions.
//
//	go run ./cmd/partoo-bench -out cmd/partoo-bench/results
//
// Three sections: a warmed-up organisation (every strategy, 0 ms / 300 ms / 1 s median API
// latency), the first snapshot of a fresh organisation (quiet, and with live activity), and a
// saturated budget.
package benchcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/internal/bench/realtime"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Main runs the partoo-bench command with its arguments (without the program name) and returns
// the exit status.
func Main(args []string, stdout, stderr io.Writer) int { return run(args, stdout, stderr) }

// Report sections.
const (
	warm       = "warm"
	snapshot   = "snapshot"
	saturation = "saturation"
)

type job struct {
	section  string
	strategy string
	setup    freshness.Setup
}

func (j job) name() string {
	return fmt.Sprintf("%s/%s/%s/%v", j.section, j.strategy, j.setup.Order, j.setup.Latency)
}

// jobs derives every run from the base setup.
func jobs(base freshness.Setup) []job {
	var js []job
	add := func(section, strategy string, f func(*freshness.Setup)) {
		s := base
		f(&s)
		js = append(js, job{section, strategy, s})
	}
	lat := func(d time.Duration) func(*freshness.Setup) { return func(s *freshness.Setup) { s.Latency = d } }
	add(warm, freshness.Naive, lat(0))
	for _, d := range []time.Duration{0, 300 * time.Millisecond, time.Second} {
		add(warm, freshness.Scheduler, lat(d))
	}
	for _, d := range []time.Duration{0, 300 * time.Millisecond, time.Second} {
		add(warm, freshness.Webhooks, lat(d))
	}
	add(warm, freshness.Oracle, lat(0))
	add(warm, freshness.Scheduler, func(s *freshness.Setup) { s.Order = partoosim.OrderID })
	for _, d := range []time.Duration{300 * time.Millisecond, time.Second} {
		add(snapshot, freshness.Scheduler, func(s *freshness.Setup) { // quiet: the snapshot alone
			s.Latency, s.Fresh, s.Warmup, s.Activity.MessagesPerSecond = d, true, 0, -1
			s.Active, s.Cooldown = 50*time.Minute, time.Minute
		})
		add(snapshot, freshness.Scheduler, func(s *freshness.Setup) { // live activity meanwhile
			s.Latency, s.Fresh, s.Warmup = d, true, 0
			s.Active, s.Cooldown = 60*time.Minute, 90*time.Minute
		})
	}
	for _, rate := range []float64{2, 6} {
		add(saturation, freshness.Scheduler, func(s *freshness.Setup) {
			s.Conversations, s.Activity.MessagesPerSecond, s.Latency = 234, rate, 300*time.Millisecond
			s.Activity.NewConversationShare = 0.001 // the organisation keeps its size
			s.Active, s.Cooldown = 35*time.Minute, 20*time.Minute
		})
	}
	return js
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("partoo-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setup := freshness.Setup{Order: partoosim.OrderRecent}
	fs.IntVar(&setup.Conversations, "conversations", 10_000, "conversations in the organisation")
	fs.IntVar(&setup.MessagesPerConv, "messages-per-conversation", 20, "average messages per conversation (history)")
	fs.Float64Var(&setup.Activity.MessagesPerSecond, "activity", 1, "new messages per second")
	fs.IntVar(&setup.Budget, "budget", 300, "requests per minute (the simulator's limit and the client's budget)")
	fs.DurationVar(&setup.Warmup, "warmup", 5*time.Minute, "simulated time before measuring (warm organisation)")
	fs.DurationVar(&setup.Active, "active", time.Hour, "changes are measured in [warmup, active]")
	fs.DurationVar(&setup.Cooldown, "cooldown", 30*time.Minute, "the strategy keeps running this long after")
	fs.Uint64Var(&setup.Seed, "seed", 1, "seed of the organisation and activity")
	rt := fs.Bool("realtime", false, "instead: the real-time cross-check (the connector binary, partoo-sim over HTTP, the Kafka broker of KAFKA_BROKERS), then the same setup simulated")
	rtConnector := fs.String("connector", "", "with -realtime: the partoo-connector binary to run")
	rtDuration := fs.Duration("realtime-duration", 5*time.Minute, "with -realtime: how long the connector runs")
	only := fs.String("only", "", "run only the jobs whose name (section/strategy/order/latency) matches this regular expression")
	out := fs.String("out", "", "directory for freshness.md and freshness.png (default: print the report only)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-bench [flags]

Measures how fast changes are detected under Partoo's requests-per-minute budget: the shipped
pipeline (scheduler, concurrent walkers, diff, group commit) against the simulator with an API
latency model, in simulated time (about 3 minutes on an idle 2-core machine, one job per core: a
busy machine takes longer; each job's start and result go to stderr, and each finished row to
<out>/freshness-progress.txt, so a run cut short keeps them), in three sections — a warmed-up
organisation (every strategy; 0 ms, 300 ms and 1 s median latency), the first snapshot of a
fresh organisation, and a saturated budget — and writes freshness.md and freshness.png.

With -realtime: the real-time cross-check instead (the partoo-connector binary given by
-connector, partoo-sim over HTTP, the Kafka broker of KAFKA_BROKERS), then the same setup
simulated; writes realtime.md.

  go run ./cmd/partoo-bench -out cmd/partoo-bench/results   (make bench-freshness)
  make bench-realtime

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "partoo-bench: unexpected argument %q (see -h)\n", fs.Arg(0))
		return 2
	}
	if *rt {
		return runRealtime(realtime.Setup{Connector: *rtConnector, Brokers: brokers(), Duration: *rtDuration, Seed: setup.Seed},
			*out, stdout, stderr)
	}
	filter, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-bench: -only:", err)
		return 2
	}
	var todo []job
	for _, j := range jobs(setup) {
		if filter.MatchString(j.name()) {
			todo = append(todo, j)
		}
	}
	results := make([]freshness.Result, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	began := time.Now()
	progress := newProgress(*out, len(todo), stderr)
	for i, j := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			progress.started(j.name())
			t := time.Now()
			results[i], errs[i] = freshness.Run(context.Background(), j.setup, j.strategy)
			progress.done(j.name(), time.Since(t), results[i], errs[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 1
		}
	}
	report := markdown(setup, todo, results, time.Since(began))
	fmt.Fprint(stdout, report)
	if *out != "" {
		if err := write(*out, report, todo, results); err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 1
		}
	}
	return 0
}

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
		"takes 10 ms; up to 16 walks in flight; seed %d. Everything runs in simulated time: %v of wall time for this report.\n\n",
		base.Conversations, base.MessagesPerConv, base.Activity.MessagesPerSecond, base.Budget, float64(base.Budget)*0.9, base.Seed, took.Round(time.Second))

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
	fmt.Fprint(stdout, report)
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 1
		}
		if err := os.WriteFile(filepath.Join(out, "realtime.md"), []byte(report), 0o644); err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 1
		}
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

// progress says on stderr when each job starts and ends, and appends each finished job's row
// to <out>/freshness-progress.txt as it ends: a run cut short keeps what it measured.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	file   string
	total  int
	nStart int
	nDone  int
}

func newProgress(out string, total int, w io.Writer) *progress {
	p := &progress{w: w, total: total}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err == nil {
			p.file = filepath.Join(out, "freshness-progress.txt")
			_ = os.WriteFile(p.file, nil, 0o644)
		}
	}
	return p
}

func (p *progress) started(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nStart++
	fmt.Fprintf(p.w, "partoo-bench: [%d/%d] %s started\n", p.nStart, p.total, name)
}

func (p *progress) done(name string, took time.Duration, r freshness.Result, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nDone++
	line := fmt.Sprintf("%s: failed: %v", name, err)
	if err == nil {
		line = fmt.Sprintf("%s: budget used %.1f %%, p50 lag %s, p99 lag %s, 429s %d (%v of wall time)", name,
			100*r.Utilisation, fmtLag(r.Percentile(0, .5)), fmtLag(r.Percentile(0, .99)), r.Throttled, took.Round(time.Second))
	}
	fmt.Fprintf(p.w, "partoo-bench: [%d/%d done] %s\n", p.nDone, p.total, line)
	if p.file != "" {
		if f, err := os.OpenFile(p.file, os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}
