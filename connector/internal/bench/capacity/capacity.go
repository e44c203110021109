// Package capacity measures how many organisations one replica carries: it runs the shipped
// connector binary with an organisations file of N organisations, each served by its own
// simulator (behind one HTTP server, told apart by the key, with a latency model) at
// Partoo's full budget of 300 requests/minute, against a real Kafka broker, and reads the
// process's CPU time and resident memory from /proc, and each organisation's request rate from
// its simulator. Everything runs in real time.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Setup describes a run; zero values take the defaults in brackets.
type Setup struct {
	Connector     string        // the connector binary (required)
	Brokers       []string      // a real Kafka broker (required)
	Organizations []int         // the steps: organisations in the replica [1, 10, 50, 100]
	Conversations int           // per organisation [100]
	Messages      int           // per conversation [20]
	Activity      float64       // new messages per second, per organisation [0.2]
	Latency       time.Duration // median API latency [300 ms]; p99 2.5 ×
	Warmup        time.Duration // before measuring: the start and the first snapshots [45 s]
	Measure       time.Duration // the measured window [90 s]
	Log           io.Writer     // the connector's stderr [discarded]
}

// WithDefaults returns the setup with its zero values replaced by the defaults.
func (s Setup) WithDefaults() Setup {
	s.defaults()
	return s
}

func (s *Setup) defaults() {
	if len(s.Organizations) == 0 {
		s.Organizations = []int{1, 10, 50, 100}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Conversations, 100)
	def(&s.Messages, 20)
	if s.Activity == 0 {
		s.Activity = 0.2
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defd(&s.Latency, 300*time.Millisecond)
	defd(&s.Warmup, 45*time.Second)
	defd(&s.Measure, 90*time.Second)
	if s.Log == nil {
		s.Log = io.Discard
	}
}

// Step is what one replica did with N organisations over the measured window.
type Step struct {
	Organizations int
	CPUCores      float64 // CPU time ÷ wall time, the whole process
	RSSMiB        float64 // resident memory at the end of the window
	// RequestsPerMinute is the slowest and the median organisation's API request rate: at
	// full budget, each is the budget's rate (300 less the default 10 % reserve).
	MinRequestsPerMinute, MedianRequestsPerMinute float64
	Throttled                                     int64 // 429s over the run: must be 0
}

// FullBudget is the rate an organisation's requests reach at the default settings: 300 less
// PARTOO_BUDGET_RESERVE's default 10 %.
const FullBudget = budget.DefaultRequestsPerMinute * 0.9

// Carried reports whether every organisation kept at least 95 % of its full budget.
func (s Step) Carried() bool { return s.MinRequestsPerMinute >= 0.95*FullBudget }

// Run measures every step in turn.
func Run(ctx context.Context, setup Setup) ([]Step, error) {
	setup.defaults()
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		return nil, errors.New("capacity: the connector binary and a Kafka broker are required")
	}
	var out []Step
	for _, n := range setup.Organizations {
		st, err := runStep(ctx, setup, n)
		if err != nil {
			return out, fmt.Errorf("capacity: %d organisations: %w", n, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func runStep(ctx context.Context, setup Setup, n int) (Step, error) {
	sims, gens, server, err := serve(setup, n)
	if err != nil {
		return Step{}, err
	}
	defer server.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, g := range gens {
		go func() { _ = g.Run(rctx, 100*time.Millisecond) }()
	}

	run := fmt.Sprintf("partoo-bench-capacity-%d-%d", n, time.Now().UnixNano())
	dir, err := os.MkdirTemp("", "partoo-capacity")
	if err != nil {
		return Step{}, err
	}
	defer os.RemoveAll(dir)
	file, env, err := organizationsFile(dir, n)
	if err != nil {
		return Step{}, err
	}
	cmd := exec.CommandContext(rctx, setup.Connector, "run")
	cmd.Env = append(append(os.Environ(), env...),
		"PARTOO_API_URL=http://"+server.Addr+"/v2", "PARTOO_ORGANIZATIONS_FILE="+file,
		"KAFKA_BROKERS="+strings.Join(setup.Brokers, ","), "KAFKA_EVENTS_TOPIC="+run+".events", "KAFKA_STATE_TOPIC="+run+".state",
		"KAFKA_MESSAGES_TABLE_TOPIC="+run+".messages", "KAFKA_CONVERSATIONS_TABLE_TOPIC="+run+".conversations",
		"KAFKA_TRANSACTIONAL_ID="+run, "KAFKA_EVENTS_PARTITIONS=3", "KAFKA_STATE_PARTITIONS=1",
		"KAFKA_MESSAGES_TABLE_PARTITIONS=1", "KAFKA_CONVERSATIONS_TABLE_PARTITIONS=1", "LOG_LEVEL=warn", "HTTP_ADDR=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = setup.Log, setup.Log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return Step{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	wait := func(d time.Duration) error {
		select {
		case err := <-exited:
			return fmt.Errorf("the connector exited early: %v", err)
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(setup.Warmup); err != nil {
		return Step{}, err
	}
	cpu0, began, req0 := cpuSeconds(cmd.Process.Pid), time.Now(), requests(sims)
	if err := wait(setup.Measure); err != nil {
		return Step{}, err
	}
	cpu1, elapsed, req1, rss := cpuSeconds(cmd.Process.Pid), time.Since(began), requests(sims), rssMiB(cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		return Step{}, fmt.Errorf("the connector did not stop cleanly: %v", err)
	}
	rates := make([]float64, 0, n)
	var throttled int64
	for key, sim := range sims {
		rates = append(rates, float64(req1[key]-req0[key])/elapsed.Minutes())
		throttled += sim.Counters().Throttled
	}
	sort.Float64s(rates)
	return Step{Organizations: n, CPUCores: (cpu1 - cpu0) / elapsed.Seconds(), RSSMiB: rss,
		MinRequestsPerMinute: rates[0], MedianRequestsPerMinute: rates[len(rates)/2], Throttled: throttled}, nil
}

// api is the simulators' HTTP server.
type api struct {
	Addr string
	srv  *http.Server
}

func (a api) Close() { a.srv.Close() }

// serve starts n organisations' simulators behind one HTTP server, told apart by the key.
func serve(setup Setup, n int) (map[string]*partoosim.Sim, []*partoosim.Generator, api, error) {
	sims := make(map[string]*partoosim.Sim, n)
	var gens []*partoosim.Generator
	for i := range n {
		key := fmt.Sprintf("key-%03d", i)
		sim := partoosim.New(partoosim.Config{APIKey: key, RequestsPerMinute: budget.DefaultRequestsPerMinute, Seed: uint64(i + 1),
			Faults: partoosim.Faults{Latency: setup.Latency, LatencyP99: setup.Latency * 5 / 2}})
		gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: setup.Activity}, uint64(i+1))
		gen.Populate(setup.Conversations, setup.Messages, 30*24*time.Hour)
		sims[key], gens = sim, append(gens, gen)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, api{}, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sim, ok := sims[r.Header.Get("x-APIKey")]; ok {
			sim.Handler().ServeHTTP(w, r)
			return
		}
		http.Error(w, `{"errors":{"json":"unknown key"}}`, http.StatusUnauthorized)
	})}
	go func() { _ = srv.Serve(ln) }()
	return sims, gens, api{Addr: ln.Addr().String(), srv: srv}, nil
}

// organizationsFile writes a file of n organisations whose keys come from variables, and
// returns it with the variables.
func organizationsFile(dir string, n int) (string, []string, error) {
	var b strings.Builder
	var env []string
	b.WriteString("organizations:\n")
	for i := range n {
		v := fmt.Sprintf("CAPACITY_KEY_%03d", i)
		env = append(env, fmt.Sprintf("%s=key-%03d", v, i))
		fmt.Fprintf(&b, "  - name: org-%03d\n    api_key_env: %s\n    org_id: %d\n", i, v, 1000+i)
	}
	f := filepath.Join(dir, "organizations.yaml")
	return f, env, os.WriteFile(f, []byte(b.String()), 0o600)
}

func requests(sims map[string]*partoosim.Sim) map[string]int64 {
	out := make(map[string]int64, len(sims))
	for k, s := range sims {
		out[k] = s.Counters().Total
	}
	return out
}

// cpuSeconds is the process's user and system CPU time, from /proc/<pid>/stat (in clock
// ticks of USER_HZ, 100 on Linux).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after the command name
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

// rssMiB is the process's resident memory, from /proc/<pid>/status.
func rssMiB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
