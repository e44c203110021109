// Package realtime cross-checks the simulated freshness benchmark in real time: it serves the
// simulator over HTTP with a latency model, runs the shipped connector binary against it and
// a real Kafka broker, and measures each change's lag from the simulator's ground-truth log
// to the moment a read_committed consumer sees its event (the commit, plus a fetch of at most
// 20 ms). The same setup then runs in simulated time (freshness.Run), and the two are compared.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Setup describes the run; zero values take the defaults in brackets.
type Setup struct {
	Connector       string        // the connector binary (required)
	Brokers         []string      // a real Kafka broker (required)
	Conversations   int           // [300]: a first snapshot of about a minute
	MessagesPerConv int           // [20]
	Activity        float64       // new messages per second [1]
	Latency         time.Duration // median API latency [300 ms]; p99 2.5 ×
	Duration        time.Duration // how long the connector runs [5 min]
	Warmup          time.Duration // changes before this are not measured (the snapshot) [90 s]
	Tail            time.Duration // nor those in the last Tail, which may not be seen yet [30 s]
	Seed            uint64        // [1]
	Log             io.Writer     // the connector's stderr [discarded]
}

func (s *Setup) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Conversations, 300)
	def(&s.MessagesPerConv, 20)
	if s.Activity == 0 {
		s.Activity = 1
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defd(&s.Latency, 300*time.Millisecond)
	defd(&s.Duration, 5*time.Minute)
	defd(&s.Warmup, 90*time.Second)
	defd(&s.Tail, 30*time.Second)
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Log == nil {
		s.Log = io.Discard
	}
}

// Simulated is the same setup for freshness.Run: a fresh organisation, the shipped defaults.
func (s Setup) Simulated() freshness.Setup {
	s.defaults()
	return freshness.Setup{Conversations: s.Conversations, MessagesPerConv: s.MessagesPerConv,
		Activity: partoosim.Activity{MessagesPerSecond: s.Activity}, Latency: s.Latency, Fresh: true,
		Warmup: s.Warmup, Active: s.Duration - s.Tail, Cooldown: s.Tail, Seed: s.Seed}
}

// Result of the real-time run.
type Result struct {
	Setup Setup
	freshness.Score
	Requests  int64 // API requests over the run
	Throttled int64 // 429s: must be 0
	Events    int   // events read
}

// Run runs the connector against the simulator and the broker for Setup.Duration.
func Run(ctx context.Context, setup Setup) (Result, error) {
	setup.defaults()
	if setup.Connector == "" || len(setup.Brokers) == 0 {
		return Result{}, errors.New("realtime: the connector binary and a Kafka broker are required")
	}
	sim := partoosim.New(partoosim.Config{APIKey: "bench", RequestsPerMinute: budget.DefaultRequestsPerMinute, Seed: setup.Seed,
		Faults: partoosim.Faults{Latency: setup.Latency, LatencyP99: setup.Latency * 5 / 2}})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: setup.Activity}, setup.Seed)
	gen.Populate(setup.Conversations, setup.MessagesPerConv, 30*24*time.Hour)
	baseline := int64(len(sim.Changes(0)))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	run := fmt.Sprintf("partoo-bench-rt-%d", time.Now().UnixNano())
	col, err := newCollector(setup.Brokers, run+".events")
	if err != nil {
		return Result{}, err
	}
	defer col.consumer.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan struct{})
	go func() { defer close(consumed); col.consume(rctx) }()
	genDone := make(chan struct{})
	go func() { defer close(genDone); _ = gen.Run(rctx, 20*time.Millisecond) }()

	start := time.Now()
	if err := runConnector(ctx, rctx, setup, "http://"+ln.Addr().String()+"/v2", run); err != nil {
		cancel()
		return Result{}, err
	}
	// What was committed before the stop is in the topic: let the consumer catch up.
	time.Sleep(2 * time.Second)
	cancel()
	<-consumed
	<-genDone
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if col.decodeErr != nil {
		return Result{}, col.decodeErr
	}
	c := sim.Counters()
	res := Result{Setup: setup, Requests: c.Total, Throttled: c.Throttled, Events: col.events}
	res.Score = freshness.NewScore(sim.Changes(baseline), col.detections, start.Add(setup.Warmup), start.Add(setup.Duration-setup.Tail), nil)
	return res, nil
}

// runConnector runs the connector binary (of run's topics and transactional id) against api
// for setup.Duration (or until ctx ends), then stops it with SIGTERM; rctx kills it.
func runConnector(ctx, rctx context.Context, setup Setup, api, run string) error {
	cmd := exec.CommandContext(rctx, setup.Connector, "run")
	cmd.Env = append(os.Environ(),
		"PARTOO_API_URL="+api, "PARTOO_API_KEY=bench", "PARTOO_REQUESTS_PER_MINUTE="+strconv.Itoa(budget.DefaultRequestsPerMinute),
		"KAFKA_BROKERS="+strings.Join(setup.Brokers, ","), "KAFKA_EVENTS_TOPIC="+run+".events", "KAFKA_STATE_TOPIC="+run+".state",
		"KAFKA_TRANSACTIONAL_ID="+run, "KAFKA_EVENTS_PARTITIONS=3", "KAFKA_STATE_PARTITIONS=3",
		"LOG_LEVEL=warn", "HTTP_ADDR=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = setup.Log, setup.Log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return fmt.Errorf("realtime: the connector exited early: %v", err)
	case <-time.After(setup.Duration):
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		return fmt.Errorf("realtime: the connector did not stop cleanly: %v", err)
	}
	return nil
}

// collector reads the events topic (read_committed) and records when each event is seen.
type collector struct {
	consumer *kgo.Client
	codec    *events.Codec

	mu         sync.Mutex
	detections map[int64][]freshness.Detection
	events     int
	decodeErr  error
}

func newCollector(brokers []string, topic string) (*collector, error) {
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(20*time.Millisecond), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return nil, err
	}
	return &collector{consumer: consumer, codec: codec, detections: map[int64][]freshness.Detection{}}, nil
}

// consume records the events until ctx ends.
func (c *collector) consume(ctx context.Context) {
	for ctx.Err() == nil {
		fs := c.consumer.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			d, id, err := detection(c.codec, r.Value, now)
			c.mu.Lock()
			defer c.mu.Unlock()
			if err != nil {
				c.decodeErr = err
				return
			}
			c.events++
			c.detections[id] = append(c.detections[id], d)
		})
	}
}

// detection reads an event's type, message and status.
func detection(codec *events.Codec, value []byte, at time.Time) (freshness.Detection, int64, error) {
	name, native, err := codec.Decode(value)
	if err != nil {
		return freshness.Detection{}, 0, err
	}
	m, _ := events.Plain(native).(map[string]any)
	id, _ := m["message_id"].(int64)
	d := freshness.Detection{At: at}
	switch strings.TrimPrefix(name, "partoo.messages.v1.") {
	case "MessageCreated":
		d.Type = diff.MessageCreated
		if msg, ok := m["message"].(map[string]any); ok {
			d.Status = model.Status(fmt.Sprint(msg["status"]))
		}
	case "StatusChanged":
		d.Type, d.Status = diff.StatusChanged, model.Status(fmt.Sprint(m["status"]))
	case "MessageDeleted":
		d.Type = diff.MessageDeleted
	default:
		return d, 0, fmt.Errorf("realtime: unknown event %s", name)
	}
	return d, id, nil
}
