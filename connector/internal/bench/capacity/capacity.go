// Package capacity measures how many organisations one replica carries: it runs the shipped
// connector binary with an organisations file of N organisations, each served by its own
// simulator (behind one HTTP server, told apart by the key, with a latency model) at
// Partoo's full budget of 300 requests/minute, against a real Kafka broker, and reads the
// process's CPU time, peak and steady resident memory and its connections to the broker from
// /proc, its goroutines from its /metrics, each organisation's request rate from its simulator
// and the new API connections from the simulators' HTTP server. Everything runs in real time.
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Setup describes a run; zero values take the defaults in brackets.
type Setup struct {
	Connector     string        // the connector binary (required)
	Brokers       []string      // a real Kafka broker (required)
	Organizations []int         // the steps: organisations in the replica [1, 10, 100, 200]
	Runs          int           // consecutive runs of each step, each reported [1]
	Conversations int           // per organisation [100]
	Messages      int           // per conversation [20]
	Activity      float64       // new messages per second, per organisation [0.2]
	Latency       time.Duration // median API latency [300 ms]; p99 2.5 ×
	Warmup        time.Duration // before measuring: the start and the first snapshots [45 s]
	Measure       time.Duration // the measured window [120 s]
	Log           io.Writer     // the connector's stderr [discarded]
}

// WithDefaults returns the setup with its zero values replaced by the defaults.
func (s Setup) WithDefaults() Setup {
	s.defaults()
	return s
}

func (s *Setup) defaults() {
	if len(s.Organizations) == 0 {
		s.Organizations = []int{1, 10, 100, 200}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Runs, 1)
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
	defd(&s.Measure, 120*time.Second)
	if s.Log == nil {
		s.Log = io.Discard
	}
}

// Step is what one replica did with N organisations over the measured window (one run of a
// step). A figure the run could not read is 0 (goroutines: the process's /metrics did not
// answer).
type Step struct {
	Organizations int
	Run           int     // 1, 2, … : the run of this step
	CPUCores      float64 // CPU time ÷ wall time, the whole process
	// CPUPerRequestMs is the process's CPU time over the window ÷ the API requests the
	// simulators served over it, in milliseconds.
	CPUPerRequestMs float64
	PeakRSSMiB      float64 // the peak resident set since the start (VmHWM), read at the end of the window
	RSSMiB          float64 // the resident set at the end of the window (VmRSS): steady state
	Requests        int64   // API requests served over the window, every organisation
	// NewConnections is the API connections the simulators' server accepted over the window:
	// a client that keeps its connections alive opens few.
	NewConnections    int64
	BrokerConnections int // the process's established TCP connections to the broker's port(s) at the end
	Goroutines        int // go_goroutines of the process's /metrics at the end
	// RequestsPerMinute is the slowest and the median organisation's API request rate: at
	// full budget, each is the budget's rate (300 less the default 10 % reserve).
	MinRequestsPerMinute, MedianRequestsPerMinute float64
	Throttled                                     int64 // 429s over the run: must be 0
	Window                                        time.Duration
}

// NewConnectionsPerMinute is the rate of new API connections over the window.
func (s Step) NewConnectionsPerMinute() float64 {
	return float64(s.NewConnections) / s.Window.Minutes()
}

// NewConnectionsShare is new API connections ÷ API requests over the window (0 without requests).
func (s Step) NewConnectionsShare() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.NewConnections) / float64(s.Requests)
}

// FullBudget is the rate an organisation's requests reach at the default settings: 300 less
// PARTOO_BUDGET_RESERVE's default 10 %.
const FullBudget = budget.DefaultRequestsPerMinute * 0.9

// Carried reports whether every organisation kept at least 95 % of its full budget.
func (s Step) Carried() bool { return s.MinRequestsPerMinute >= 0.95*FullBudget }

// Run measures every step in turn, each Runs times in a row.
func Run(ctx context.Context, setup Setup) ([]Step, error) {
	setup.defaults()
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		return nil, errors.New("capacity: the connector binary and a Kafka broker are required")
	}
	ports, err := brokerPorts(setup.Brokers)
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	var out []Step
	for _, n := range setup.Organizations {
		for r := 1; r <= setup.Runs; r++ {
			st, err := runStep(ctx, setup, ports, n)
			if err != nil {
				return out, fmt.Errorf("capacity: %d organisations, run %d: %w", n, r, err)
			}
			st.Run = r
			out = append(out, st)
		}
	}
	return out, nil
}

// sample is what the window's start and end read.
type sample struct {
	at          time.Time
	cpu         float64
	requests    map[string]int64
	connections int64
}

func take(pid int, sims map[string]*partoosim.Sim, server api) sample {
	return sample{at: time.Now(), cpu: cpuSeconds(pid), requests: requests(sims), connections: server.conns.Load()}
}

func runStep(ctx context.Context, setup Setup, brokers map[int]bool, n int) (Step, error) {
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
	dir, err := os.MkdirTemp("", "partoo-capacity")
	if err != nil {
		return Step{}, err
	}
	defer os.RemoveAll(dir)
	proc, err := start(rctx, setup, server, dir, n)
	if err != nil {
		return Step{}, err
	}
	if err := proc.wait(ctx, setup.Warmup); err != nil {
		return Step{}, err
	}
	pid := proc.cmd.Process.Pid
	s0 := take(pid, sims, server)
	if err := proc.wait(ctx, setup.Measure); err != nil {
		return Step{}, err
	}
	s1 := take(pid, sims, server)
	st := Step{Organizations: n, Window: s1.at.Sub(s0.at), NewConnections: s1.connections - s0.connections}
	st.PeakRSSMiB, st.RSSMiB = memoryMiB(pid)
	if est, err := processSockets(pid, tcpEstablished); err == nil {
		st.BrokerConnections = connectedTo(est, brokers)
	}
	st.Goroutines = goroutines(pid)
	if err := proc.stop(); err != nil {
		return Step{}, err
	}
	rates(&st, sims, s0, s1)
	return st, nil
}

// rates fills the step's CPU and request figures from the window's two samples.
func rates(st *Step, sims map[string]*partoosim.Sim, s0, s1 sample) {
	perOrg := make([]float64, 0, len(sims))
	for key, sim := range sims {
		d := s1.requests[key] - s0.requests[key]
		st.Requests += d
		perOrg = append(perOrg, float64(d)/st.Window.Minutes())
		st.Throttled += sim.Counters().Throttled
	}
	sort.Float64s(perOrg)
	st.MinRequestsPerMinute, st.MedianRequestsPerMinute = perOrg[0], perOrg[len(perOrg)/2]
	st.CPUCores = (s1.cpu - s0.cpu) / st.Window.Seconds()
	if st.Requests > 0 {
		st.CPUPerRequestMs = 1000 * (s1.cpu - s0.cpu) / float64(st.Requests)
	}
}

// process is the connector under measurement.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

// start runs the connector binary with an organisations file of n organisations against the
// simulators' server; ctx's end stops it (SIGTERM).
func start(ctx context.Context, setup Setup, server api, dir string, n int) (*process, error) {
	run := fmt.Sprintf("partoo-bench-capacity-%d-%d", n, time.Now().UnixNano())
	file, env, err := organizationsFile(dir, n)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, setup.Connector, "run")
	cmd.Env = append(append(os.Environ(), env...),
		"PARTOO_API_URL=http://"+server.Addr+"/v2", "PARTOO_ORGANIZATIONS_FILE="+file,
		"KAFKA_BROKERS="+strings.Join(setup.Brokers, ","), "KAFKA_EVENTS_TOPIC="+run+".events", "KAFKA_STATE_TOPIC="+run+".state",
		"KAFKA_MESSAGES_TABLE_TOPIC="+run+".messages", "KAFKA_CONVERSATIONS_TABLE_TOPIC="+run+".conversations",
		"KAFKA_TRANSACTIONAL_ID="+run, "KAFKA_EVENTS_PARTITIONS=3", "KAFKA_STATE_PARTITIONS=1",
		"KAFKA_MESSAGES_TABLE_PARTITIONS=1", "KAFKA_CONVERSATIONS_TABLE_PARTITIONS=1", "LOG_LEVEL=warn",
		"HTTP_ADDR=127.0.0.1:0") // its only listener: goroutines finds /metrics through it
	cmd.Stdout, cmd.Stderr = setup.Log, setup.Log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// wait waits d, or fails when the process exits first or ctx ends.
func (p *process) wait(ctx context.Context, d time.Duration) error {
	select {
	case err := <-p.exited:
		return fmt.Errorf("the connector exited early: %v", err)
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exited; err != nil {
		return fmt.Errorf("the connector did not stop cleanly: %v", err)
	}
	return nil
}

// api is the simulators' HTTP server.
type api struct {
	Addr  string
	srv   *http.Server
	conns *atomic.Int64 // connections accepted (http.StateNew) since the start
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
	conns := new(atomic.Int64)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sim, ok := sims[r.Header.Get("x-APIKey")]; ok {
			sim.Handler().ServeHTTP(w, r)
			return
		}
		http.Error(w, `{"errors":{"json":"unknown key"}}`, http.StatusUnauthorized)
	})}
	go func() { _ = srv.Serve(ln) }()
	return sims, gens, api{Addr: ln.Addr().String(), srv: srv, conns: conns}, nil
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

// cpuSeconds is the process's user and system CPU time, from /proc/<pid>/stat; 0 when it
// cannot be read.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s, _ := statCPUSeconds(string(b))
	return s
}

// memoryMiB is the process's peak (VmHWM) and current (VmRSS) resident set, from
// /proc/<pid>/status; 0 when it cannot be read.
func memoryMiB(pid int) (peak, current float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	peak, _ = statusMiB(string(b), "VmHWM")
	current, _ = statusMiB(string(b), "VmRSS")
	return peak, current
}
