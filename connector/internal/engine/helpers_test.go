package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
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
		topics: state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 3, StatePartitions: 3,
			MessagesTable:      state.TableTopic{Name: base + ".messages-table", Partitions: 3},
			ConversationsTable: state.TableTopic{Name: base + ".conversations-table", Partitions: 3}},
		txnID: base + ".txn",
	}
}

// partooConfig is a client configuration for the env's simulator, with a budget tests never
// wait for.
func (e *env) partooConfig() partoo.Config {
	return partoo.Config{APIURL: e.url, APIKey: secret.New("k"), RequestsPerMinute: 600_000,
		BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond}
}

func (e *env) options() engine.Options {
	lvl := slog.LevelWarn
	if testing.Verbose() {
		lvl = slog.LevelInfo
	}
	return engine.Options{
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
	c      *engine.Engine
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(opt engine.Options) *running {
	e.t.Helper()
	c, err := engine.New(opt)
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
	case <-time.After(2 * time.Minute): // a bound for "it stops at all", on a busy machine
		t.Error("connector did not stop within 2 minutes")
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

// waitPastWatch waits until the simulator's clock is past the instant the connector started
// watching (Engine.WatchingSince): a message created from then on is live (snapshot=false).
// The watch is the latest time Partoo's clock can have read when the state was restored, which
// Date headers (whole seconds) know to about a second at first: a message created at once
// after the start is, rightly, still taken for a snapshot.
func (r *running) waitPastWatch(t *testing.T, sim *partoosim.Sim) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if w := r.c.WatchingSince(); !w.IsZero() && sim.Clock().Now().After(w) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulator's clock %v is not past the watch %v within 30 s", sim.Clock().Now(), r.c.WatchingSince())
		}
		time.Sleep(20 * time.Millisecond)
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

// kafkaCtx bounds a test's Kafka calls: two minutes.
func kafkaCtx(t *testing.T) context.Context { return contextWithTimeout(t, 2*time.Minute) }

// contextWithTimeout is a context that ends after d, or with the test.
func contextWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// kafkaCtxCancel is kafkaCtx with its cancel function.
func kafkaCtxCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

func checkExactlyOnce(t *testing.T, e *env, evs []event, truth []partoosim.Change) {
	t.Helper()
	broken, pending, checked := exactlyOnceProblems(e, evs, truth, nil)
	for _, p := range append(broken, pending...) {
		t.Error(p)
	}
	if len(broken)+len(pending) > 0 || checked == 0 {
		t.Fatalf("%d problems over %d messages", len(broken)+len(pending), checked)
	}
	t.Logf("checked %d messages: none lost, none duplicated", checked)
}

// exactlyOnceProblems compares the events with the simulator's ground truth. expect tells
// which messages must be published (nil: every message with a known sender_type); the others
// must have no event. broken lists what can never heal (a duplicate, a broken status chain, an
// event for a message that must not have one); pending lists what may still be on its way (a
// message not yet published, or not yet in its final status).
func exactlyOnceProblems(e *env, evs []event, truth []partoosim.Change, expect func(conv int64, m model.Message) bool) (broken, pending []string, checked int) {
	if expect == nil {
		expect = func(_ int64, m model.Message) bool { return m.SenderType.Known() }
	}
	// Ground truth per message: the sequence of statuses it went through.
	history := map[int64][]model.Status{}
	vanished := map[int64]bool{}
	for _, c := range truth {
		switch c.Type {
		case partoosim.ChangeCreated, partoosim.ChangeStatusChanged:
			history[c.MessageID] = append(history[c.MessageID], c.Status)
		case partoosim.ChangeVanished:
			vanished[c.MessageID] = true
		}
	}
	ids := map[string]event{}
	type seen struct {
		created  int
		deleted  int
		reason   string
		statuses []model.Status
		conv     string
	}
	per := map[int64]*seen{}
	for _, ev := range evs {
		id := ev.Body["event_id"].(string)
		m := ev.msgID()
		if first, dup := ids[id]; dup {
			broken = append(broken, fmt.Sprintf("duplicate event %s: %s of message %d at [%d]@%d (producer %s) and [%d]@%d (producer %s)",
				id, ev.Type, m, first.Partition, first.Offset, first.Producer, ev.Partition, ev.Offset, ev.Producer))
			continue
		}
		ids[id] = ev
		s := per[m]
		if s == nil {
			s = &seen{conv: ev.Key}
			per[m] = s
		}
		if s.deleted > 0 {
			broken = append(broken, fmt.Sprintf("message %d: %s after its deletion", m, ev.Type))
		}
		switch ev.Type {
		case "MessageCreated":
			s.created++
			s.statuses = append(s.statuses, model.Status(ev.Body["message"].(map[string]any)["status_raw"].(string)))
		case "StatusChanged":
			if s.created == 0 {
				broken = append(broken, fmt.Sprintf("message %d: StatusChanged before MessageCreated", m))
				continue
			}
			last := s.statuses[len(s.statuses)-1]
			if prev := model.Status(ev.Body["previous_status_raw"].(string)); prev != last {
				broken = append(broken, fmt.Sprintf("message %d: status chain broken: recorded %s, event says previous %s (a lost or duplicated event)", m, last, prev))
			}
			s.statuses = append(s.statuses, model.Status(ev.Body["status_raw"].(string)))
		case "MessageDeleted":
			if s.created == 0 {
				broken = append(broken, fmt.Sprintf("message %d: MessageDeleted before MessageCreated", m))
			}
			s.deleted++
			s.reason = ev.Body["reason"].(string)
		}
	}
	for _, cid := range e.sim.ConversationIDs() {
		for _, msg := range e.sim.Messages(cid) {
			s := per[msg.ID]
			if !expect(cid, msg) {
				if s != nil {
					broken = append(broken, fmt.Sprintf("message %d (conversation %d, sender_type %s) must not be published", msg.ID, cid, msg.SenderType))
				}
				continue
			}
			checked++
			if s == nil {
				pending = append(pending, fmt.Sprintf("message %d (conversation %d) never reached Kafka", msg.ID, cid))
				continue
			}
			if s.created != 1 {
				broken = append(broken, fmt.Sprintf("message %d created %d times", msg.ID, s.created))
			}
			if s.conv != fmt.Sprint(cid) {
				broken = append(broken, fmt.Sprintf("message %d keyed %s, want %d", msg.ID, s.conv, cid))
			}
			if !isSubsequence(s.statuses, history[msg.ID]) {
				broken = append(broken, fmt.Sprintf("message %d: observed %v is not a subsequence of the truth %v", msg.ID, s.statuses, history[msg.ID]))
			}
			if got := s.statuses[len(s.statuses)-1]; got != msg.Status {
				pending = append(pending, fmt.Sprintf("message %d: events end in %s, Partoo says %s", msg.ID, got, msg.Status))
			}
			if s.deleted > 1 || (s.deleted == 1 && (!msg.IsDeleted || s.reason != "ConsumerDeleted")) {
				broken = append(broken, fmt.Sprintf("message %d: is_deleted=%v but %d deletions (%s)", msg.ID, msg.IsDeleted, s.deleted, s.reason))
			} else if msg.IsDeleted && s.deleted == 0 {
				pending = append(pending, fmt.Sprintf("message %d: deleted in Partoo, no MessageDeleted yet", msg.ID))
			}
		}
	}
	for m := range vanished {
		if s := per[m]; s != nil && s.deleted > 1 {
			broken = append(broken, fmt.Sprintf("vanished message %d has %d deletions", m, s.deleted))
		} else if s != nil && s.deleted == 0 {
			pending = append(pending, fmt.Sprintf("vanished message %d has no deletion yet", m))
		}
	}
	return broken, pending, checked
}

func isSubsequence(sub, seq []model.Status) bool {
	j := 0
	for _, s := range seq {
		if j < len(sub) && sub[j] == s {
			j++
		}
	}
	return j == len(sub)
}

// binDir holds the connector binary built for this test run; TestMain removes it.
var binDir string

// connectorBinary builds the connector once per test binary run.
var connectorBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "partoo-connector")
	build := exec.Command("go", "build", "-o", bin, "github.com/partoo-connector/partoo-connector/cmd/partoo-connector")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	// The built binary names its franz-go version (a test binary of connectorcli cannot: its
	// build information lists no dependencies).
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.Contains(string(out), " franz-go=v1.") {
		return "", fmt.Errorf("%s version: %q, %v", bin, out, err)
	}
	return bin, nil
})

// processStarter builds the connector binary and returns a function that starts it as a
// separate process configured for this env; extra variables override the defaults.
func (e *env) processStarter(t *testing.T, extra ...string) func() *exec.Cmd {
	bin, err := connectorBinary()
	if err != nil {
		t.Fatal(err)
	}
	envv := e.processEnv(extra...)
	return func() *exec.Cmd {
		cmd := exec.Command(bin, "run")
		cmd.Env = envv
		cmd.Stderr = &prefixWriter{t: t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
}

// processEnv is the environment of a connector process configured for this env; extra
// variables override the defaults.
func (e *env) processEnv(extra ...string) []string {
	envv := append(os.Environ(),
		"PARTOO_API_URL="+e.url, "PARTOO_API_KEY=k", "PARTOO_REQUESTS_PER_MINUTE=100000", "PARTOO_PER_PAGE=7",
		"KAFKA_BROKERS="+strings.Join(e.cluster.Brokers, ","), "KAFKA_EVENTS_TOPIC="+e.topics.Events,
		"KAFKA_STATE_TOPIC="+e.topics.State, "KAFKA_TRANSACTIONAL_ID="+e.txnID, "KAFKA_EVENTS_PARTITIONS=3",
		"KAFKA_STATE_PARTITIONS=3", "KAFKA_MESSAGES_TABLE_TOPIC="+e.topics.MessagesTable.Name, "KAFKA_MESSAGES_TABLE_PARTITIONS=3",
		"KAFKA_CONVERSATIONS_TABLE_TOPIC="+e.topics.ConversationsTable.Name, "KAFKA_CONVERSATIONS_TABLE_PARTITIONS=3", "LOG_LEVEL=warn", "LOG_FORMAT=text", "HTTP_ADDR=127.0.0.1:0",
		// Vanished deletions confirmed over seconds, not the default 5 minutes.
		"PARTOO_VANISH_CONFIRM_AFTER=2s")
	return append(envv, extra...) // later entries win
}

// prefixWriter forwards a child's log lines to the test log, and keeps them.
type prefixWriter struct {
	t   *testing.T
	mu  sync.Mutex
	all strings.Builder
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.all.Write(b)
	w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.t.Log("connector: " + line)
		}
	}
	return len(b), nil
}

// String returns everything written so far.
func (w *prefixWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// proc is a connector process started by a test.
type proc struct {
	cmd  *exec.Cmd
	logs *prefixWriter
	done chan error // receives the exit status once
	err  error
	gone bool
}

func startProc(t *testing.T, start func() *exec.Cmd) *proc {
	t.Helper()
	cmd := start()
	p := &proc{cmd: cmd, logs: cmd.Stderr.(*prefixWriter), done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited reports whether the process has ended (without waiting).
func (p *proc) exited() bool {
	if p.gone {
		return true
	}
	select {
	case p.err = <-p.done:
		p.gone = true
	default:
	}
	return p.gone
}

// alive returns an error once the process has ended.
func (p *proc) alive() error {
	if p.exited() {
		return fmt.Errorf("the connector exited (%v); its last lines:\n%s", p.err, tail(p.logs.String(), 5))
	}
	return nil
}

// stop sends SIGTERM and requires a clean exit within 25 s.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Fatalf("the connector had already exited: %v", p.err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case p.err = <-p.done:
		p.gone = true
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(time.Minute): // "at all"; TestGracefulShutdown holds the grace period
		t.Fatal("no exit within a minute of SIGTERM")
	}
}

// waitLog waits until the connector's log contains want.
func (p *proc) waitLog(t *testing.T, want string, began time.Time, within time.Duration) {
	t.Helper()
	for !strings.Contains(p.logs.String(), want) {
		if err := p.alive(); err != nil {
			t.Fatal(err)
		}
		if time.Since(began) > within {
			t.Fatalf("no log line with %q within %v", want, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("logged %q %v after the start", want, time.Since(began).Round(100*time.Millisecond))
}

// waitExit waits for the process to end by itself.
func (p *proc) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !p.exited() {
		if time.Now().After(deadline) {
			t.Fatalf("still running after %v; log:\n%s", within, tail(p.logs.String(), 8))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitExactlyOnce waits until every expected message is published exactly once with its
// final status, failing at once on anything that cannot heal (a duplicate, a broken chain).
func waitExactlyOnce(t *testing.T, e *env, expect func(int64, model.Message) bool, timeout time.Duration, alive func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if err := alive(); err != nil {
			t.Fatal(err)
		}
		evs := e.readEvents(t)
		broken, pending, checked := exactlyOnceProblems(e, evs, e.sim.Changes(0), expect)
		if len(broken) > 0 {
			t.Fatalf("exactly-once broken:\n%s", strings.Join(broken, "\n"))
		}
		if len(pending) == 0 && checked > 0 {
			t.Logf("%d events; %d messages published exactly once, as Partoo has them", len(evs), checked)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d of %d messages not (fully) published:\n%s", timeout, len(pending), checked, strings.Join(pending, "\n"))
		}
		time.Sleep(time.Second)
	}
}

// busyOnPrivateBroker runs the connector binary (KAFKA_TRANSACTION_TIMEOUT txnTimeout) on a
// private real broker, with the simulator generating activity over conversations, and returns
// once 100 records are in the topics. stopGen stops the activity and waits for it (also at
// cleanup).
func busyOnPrivateBroker(t *testing.T, a partoosim.Activity, seed uint64, conversations int, txnTimeout string) (*kafkatest.Private, *env, *proc, func()) {
	t.Helper()
	b := kafkatest.NewPrivate(t)
	e := newEnvOn(t, &b.Cluster)
	gen := partoosim.NewGenerator(e.sim, a, seed)
	gen.Populate(conversations, 3, time.Hour)
	p := startProc(t, e.processStarter(t, "LOG_LEVEL=info", "KAFKA_TRANSACTION_TIMEOUT="+txnTimeout))
	ctx, cancel := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	go func() { defer close(genDone); _ = gen.Run(ctx, 20*time.Millisecond) }()
	var once sync.Once
	stopGen := func() { once.Do(func() { cancel(); <-genDone }) }
	t.Cleanup(stopGen)
	for began := time.Now(); e.endOffsets(t) < 100; time.Sleep(100 * time.Millisecond) {
		if time.Since(began) > time.Minute {
			t.Fatal("fewer than 100 records in the topics after a minute")
		}
	}
	return b, e, p, stopGen
}

// populate creates n conversations with a few messages each.
func populate(e *env, n int) {
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{}, 7)
	gen.Populate(n, 4, time.Hour)
}

// newEnvOn is newEnv on a given cluster.
func newEnvOn(t *testing.T, c *kafkatest.Cluster) *env {
	e := newEnv(t)
	e.cluster = c
	return e
}

// waitOpenTransaction waits until the transaction coordinator (the private broker, asked
// directly and often) says a transaction of txnID that began after since is open.
func waitOpenTransaction(t *testing.T, b *kafkatest.Private, txnID string, since time.Time, within time.Duration, alive func() error) {
	t.Helper()
	broker := b.Client(t).Broker(1)
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{txnID}
	began := time.Now()
	for polls := 1; ; polls++ {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := broker.Request(dctx, req)
		cancel()
		if err == nil {
			if ts := resp.(*kmsg.DescribeTransactionsResponse).TransactionStates; len(ts) == 1 && ts[0].State == "Ongoing" && ts[0].StartTimestamp > since.UnixMilli() {
				return
			}
		}
		if err := alive(); err != nil {
			t.Fatal(err)
		}
		if time.Since(began) > within {
			t.Fatalf("no open transaction seen in %d polls over %v", polls, within)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// series returns the series of one metric family of a registry, with their labels as a map.
func series(t *testing.T, m *metrics.Metrics, name string) []metricSeries {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []metricSeries
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out = append(out, metricSeries{labels: labels, counter: mt.GetCounter().GetValue(), gauge: mt.GetGauge().GetValue(),
				count: mt.GetHistogram().GetSampleCount(), sum: mt.GetHistogram().GetSampleSum()})
		}
	}
	return out
}

// metricSeries is one series' labels and value (by its kind).
type metricSeries struct {
	labels         map[string]string
	counter, gauge float64
	count          uint64 // histogram
	sum            float64
}

// hasLabelValue reports whether a series has a label of that value ("": also a series with no
// label at all).
func (s metricSeries) hasLabelValue(v string) bool {
	if v == "" && len(s.labels) == 0 {
		return true
	}
	for _, l := range s.labels {
		if l == v {
			return true
		}
	}
	return false
}

// counterValue reads one counter from a metrics registry: the series with a label of that
// value, or the unlabelled one for "".
func counterValue(t *testing.T, m *metrics.Metrics, name, label string) float64 {
	t.Helper()
	for _, s := range series(t, m, name) {
		if s.hasLabelValue(label) {
			return s.counter
		}
	}
	return 0
}
