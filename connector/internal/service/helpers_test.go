package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "partoo-connector-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a simulator, a Kafka cluster and unique topic names.
type env struct {
	t       *testing.T
	sim     *partoosim.Sim
	url     string
	cluster *kafkatest.Cluster
	topics  state.Topics
	txnID   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	base := kafkatest.Topic(t)
	return &env{
		t: t, sim: sim, url: simtest.Serve(t, sim), cluster: kafkatest.New(t),
		topics: state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 3, StatePartitions: 3},
		txnID:  base + ".txn",
	}
}

// partooConfig is a client configuration for the env's simulator, with a budget tests never
// wait for.
func (e *env) partooConfig() partoo.Config {
	return partoo.Config{APIURL: e.url, APIKey: secret.New("k"), RequestsPerMinute: 600_000,
		BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond}
}

func (e *env) options() service.Options {
	lvl := slog.LevelWarn
	if testing.Verbose() {
		lvl = slog.LevelInfo
	}
	return service.Options{
		Partoo:          e.partooConfig(),
		Kafka:           []kgo.Opt{kgo.SeedBrokers(e.cluster.Brokers...)},
		Topics:          e.topics,
		TransactionalID: e.txnID,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
	}
}

// publishable counts the simulator's messages the connector publishes (known sender types).
func (e *env) publishable() int {
	n := 0
	for _, id := range e.sim.ConversationIDs() {
		for _, m := range e.sim.Messages(id) {
			if m.SenderType.Known() {
				n++
			}
		}
	}
	return n
}

// running is a connector running in a goroutine.
type running struct {
	c      *service.Connector
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(opt service.Options) *running {
	e.t.Helper()
	c, err := service.New(opt)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("connector stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("connector did not stop within 30 s")
	}
}

// waitWalks waits until the connector has done n more walks (i.e. sweeps past any change).
func (r *running) waitWalks(t *testing.T, n int64) {
	t.Helper()
	target := r.c.Walks() + n
	deadline := time.Now().Add(60 * time.Second)
	for r.c.Walks() < target {
		select {
		case err := <-r.done:
			t.Fatalf("connector stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d walks within 60 s", r.c.Walks(), target)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// event is a decoded event record.
type event struct {
	Type      string
	Key       string
	Partition int32
	Offset    int64
	Producer  string // producer id/epoch of the record's batch: which transaction wrote it
	Headers   map[string]string
	Body      map[string]any // events.Plain of the record
}

func (ev event) msgID() int64 { return ev.Body["message_id"].(int64) }

// readEvents reads the whole events topic with read_committed, up to the committed end
// offsets taken when it starts (kafkatest.Cluster.ReadCommitted).
func (e *env) readEvents(t *testing.T) []event {
	t.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.cluster.ReadCommitted(kafkatest.Context(t, 60*time.Second), t, e.topics.Events)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil // not created yet
	}
	if err != nil {
		t.Fatal(err)
	}
	out := make([]event, 0, len(recs))
	for _, r := range recs {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		// Either framing: the fingerprint header names the schema of a registry-framed value.
		name, native, err := codec.DecodeWithFingerprint(r.Value, h[events.HeaderFingerprint])
		if err != nil {
			t.Fatalf("decode %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		ev := event{Type: h["event_type"], Key: string(r.Key), Partition: r.Partition, Offset: r.Offset, Headers: h,
			Producer: fmt.Sprintf("%d/%d", r.ProducerID, r.ProducerEpoch),
			Body:     events.Plain(native).(map[string]any)}
		if "partoo.messages.v1."+ev.Type != name {
			t.Fatalf("event_type header %q but schema %s", ev.Type, name)
		}
		out = append(out, ev)
	}
	return out
}

// waitEvents reads the events topic until pred holds.
func (e *env) waitEvents(t *testing.T, what string, pred func([]event) bool) []event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		evs := e.readEvents(t)
		if pred(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d events: %v", what, len(evs), summary(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func summary(evs []event) []string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.Key+"/"+strconv.FormatInt(ev.msgID(), 10)+":"+ev.Type)
	}
	return s
}

// since returns the events of after that are not in before (by partition and offset).
func since(before, after []event) []event {
	old := map[[2]int64]bool{}
	for _, ev := range before {
		old[[2]int64{int64(ev.Partition), ev.Offset}] = true
	}
	var out []event
	for _, ev := range after {
		if !old[[2]int64{int64(ev.Partition), ev.Offset}] {
			out = append(out, ev)
		}
	}
	return out
}

func count(evs []event, typ string) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// alive reports an error once the connector has stopped (for waitExactlyOnce).
func (r *running) alive() error {
	select {
	case err := <-r.done:
		r.cancel, r.done = nil, nil
		return fmt.Errorf("the connector stopped: %v", err)
	default:
		return nil
	}
}

func kafkaCtx(t *testing.T) context.Context { return contextWithTimeout(t, 2*time.Minute) }

func contextWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func kafkaCtxCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
