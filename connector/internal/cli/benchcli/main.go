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
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/capacity"
	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/internal/bench/realtime"
	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
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
	fs.IntVar(&setup.Budget, "budget", budget.DefaultRequestsPerMinute, "requests per minute (the simulator's limit and the client's budget)")
	fs.DurationVar(&setup.Warmup, "warmup", 5*time.Minute, "simulated time before measuring (warm organisation)")
	fs.DurationVar(&setup.Active, "active", time.Hour, "changes are measured in [warmup, active]")
	fs.DurationVar(&setup.Cooldown, "cooldown", 30*time.Minute, "the strategy keeps running this long after")
	fs.Uint64Var(&setup.Seed, "seed", 1, "seed of the organisation and activity")
	rt := fs.Bool("realtime", false, "instead: the real-time cross-check (the connector binary, partoo-sim over HTTP, the Kafka broker of KAFKA_BROKERS), then the same setup simulated")
	rtConnector := fs.String("connector", "", "with -realtime or -capacity: the partoo-connector binary to run")
	rtDuration := fs.Duration("realtime-duration", 5*time.Minute, "with -realtime: how long the connector runs")
	capRun := fs.Bool("capacity", false, "instead: organisations per replica (the connector binary with an organisations file of N organisations at full budget each, the Kafka broker of KAFKA_BROKERS); writes capacity.md")
	capSteps := fs.String("capacity-organizations", "1,10,100,200", "with -capacity: the organisation counts to measure")
	capMeasure := fs.Duration("capacity-measure", 120*time.Second, "with -capacity: the measured window of each run of a count")
	capWarmup := fs.Duration("capacity-warmup", 45*time.Second, "with -capacity: the warm-up before each window (the start and the first snapshots)")
	capRuns := fs.Int("capacity-runs", 1, "with -capacity: consecutive runs of each count, each reported (e.g. 3)")
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

With -capacity: how many organisations one replica carries at full budget each (the binary
given by -connector, one simulator per organisation, the broker of KAFKA_BROKERS); writes
capacity.md.

  go run ./cmd/partoo-bench -out cmd/partoo-bench/results   (make bench-freshness)
  make bench-realtime
  make bench-capacity

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
	if *capRun {
		steps, err := parseSteps(*capSteps)
		if err == nil && (*capRuns < 1 || *capMeasure <= 0 || *capWarmup <= 0) {
			err = errors.New("-capacity-runs, -capacity-measure and -capacity-warmup must be positive")
		}
		if err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 2
		}
		return runCapacity(capacity.Setup{Connector: *rtConnector, Brokers: brokers(), Organizations: steps, Runs: *capRuns,
			Warmup: *capWarmup, Measure: *capMeasure}, commandLine(args), *out, stdout, stderr)
	}
	if *rt {
		return runRealtime(realtime.Setup{Connector: *rtConnector, Brokers: brokers(), Duration: *rtDuration, Seed: setup.Seed},
			*out, stdout, stderr)
	}
	return runFreshness(setup, *only, *out, stdout, stderr)
}

// runFreshness runs the jobs whose name matches only, as many at once as there are cores,
// prints the report and writes it to out (when set).
func runFreshness(setup freshness.Setup, only, out string, stdout, stderr io.Writer) int {
	filter, err := regexp.Compile(only)
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
	progress := newProgress(out, len(todo), stderr)
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
	if out != "" {
		if err := write(out, report, todo, results); err != nil {
			fmt.Fprintln(stderr, "partoo-bench:", err)
			return 1
		}
	}
	return 0
}
