package connectorcli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	seed := fs.Uint64("seed", 0, "seed of the simulated organisation and activity (0: a random one, logged)")
	convs := fs.Int("conversations", 12, "conversations in the simulated organisation")
	untilEvery := fs.Bool("until-every-type", false, "stop once a MessageCreated, a StatusChanged and a MessageDeleted have been printed (a smoke check; --duration still bounds it)")
	output := fs.String("output", "", "text (one readable line an event) or json (one object a line); default: text on a terminal, json otherwise")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector demo [flags]\n\nRuns everything in one process — a simulated Partoo organisation with lively activity, an\nin-process Kafka (kfake) and the connector — and prints each committed event on stdout, one a line: readable text on a terminal, JSON\notherwise (--output). Logs go to stderr. No configuration, no network.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	if *output == "" {
		*output = formatJSON
		if isTerminal(stdout) {
			*output = formatText
		}
	}
	p, err := newPrinter(stdout, *output)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector demo: --output: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := demoContext(*duration, *untilEvery, p)
	defer stop()

	api, stopSim, err := startDemoPartoo(ctx, *seed, *convs)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: demo: %v\n", err)
		return 1
	}
	defer stopSim()

	// Kafka, in process.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: demo: kfake: %v\n", err)
		return 1
	}
	defer cluster.Close()
	kopts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	topics := state.Topics{Events: "partoo.messages.events", State: "partoo.messages.state", EventsPartitions: 3, StatePartitions: 3,
		MessagesTable:      state.TableTopic{Name: "partoo.messages.table", Partitions: 3},
		ConversationsTable: state.TableTopic{Name: "partoo.conversations.table", Partitions: 3}}

	conn, err := service.New(service.Config{Logger: log, Engines: []engine.Options{{
		Partoo: partoo.Config{APIURL: api, APIKey: secret.New(demoKey), RequestsPerMinute: demoRPM},
		Kafka:  kopts, Topics: topics, TransactionalID: "partoo-connector-demo", LogSummaryInterval: -1}}})
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: demo: %v\n", err)
		return 1
	}
	log.Info("demo: simulated Partoo organisation", "conversations", *convs, "seed", *seed, "api", api, "budget_per_minute", demoRPM)
	runErr := make(chan error, 1)
	go func() { runErr <- conn.Run(ctx) }()
	ready, err := waitReady(ctx, conn, runErr)
	if err == nil && ready {
		err = printDemoEvents(ctx, runErr, kopts, topics.Events, p, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: demo: %v\n", err)
		return 1
	}
	if ready {
		logDemoSummary(log, p)
	}
	return 0
}

// demoContext is the demo's run: until SIGTERM or Ctrl-C, at most d when d > 0, and with
// untilEvery only until p has printed a MessageCreated, a StatusChanged and a MessageDeleted.
func demoContext(d time.Duration, untilEvery bool, p *printer) (context.Context, context.CancelFunc) {
	ctx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	stopTimer := func() {}
	if d > 0 {
		ctx, stopTimer = context.WithTimeout(ctx, d)
	}
	ctx, cancel := context.WithCancel(ctx)
	if untilEvery {
		p.counted = func(count map[string]int) {
			if count["MessageCreated"] > 0 && count["StatusChanged"] > 0 && count["MessageDeleted"] > 0 {
				cancel()
			}
		}
	}
	return ctx, func() { cancel(); stopTimer(); stopSignals() }
}

// The demo's simulated organisation: its key and its rate limit.
const demoKey, demoRPM = "demo-key", 600

// startDemoPartoo serves a simulated Partoo organisation — history, then live activity with
// frequent status changes and Instagram deletions so every event type shows within a minute —
// until ctx ends or stop is called, and returns its API URL.
func startDemoPartoo(ctx context.Context, seed uint64, convs int) (api string, stop func(), err error) {
	sim := partoosim.New(partoosim.Config{APIKey: demoKey, RequestsPerMinute: demoRPM, Seed: seed})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{
		MessagesPerSecond: 1.5, NewConversationShare: 0.05, HotConversations: 6,
		StatusDelayMin: time.Second, StatusDelayMax: 8 * time.Second,
		DeleteRatio: 0.4, DeleteDelayMax: 20 * time.Second, RetryDelayMax: 20 * time.Second,
	}, seed)
	gen.Populate(convs, 4, 48*time.Hour)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { _ = gen.Run(ctx, 100*time.Millisecond) }()
	go storyline(ctx, sim)
	return "http://" + ln.Addr().String() + "/v2", func() { srv.Close() }, nil
}

// waitReady waits until the connector is ready (true), stops (its error), or ctx ends
// (false).
func waitReady(ctx context.Context, conn *service.Service, runErr <-chan error) (bool, error) {
	for conn.Readiness() != nil {
		select {
		case err := <-runErr:
			return false, err
		case <-ctx.Done():
			return false, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true, nil
}

// printDemoEvents prints what a read_committed consumer of the events topic sees until ctx
// ends, then returns the connector's error.
func printDemoEvents(ctx context.Context, runErr <-chan error, kopts []kgo.Opt, topic string, p *printer, stderr io.Writer) error {
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	consume(ctx, cl, p, consumeOptions{}, stderr)
	return <-runErr
}

// logDemoSummary logs how many events of each type the demo printed.
func logDemoSummary(log *slog.Logger, p *printer) {
	var summary []any
	types := make([]string, 0, len(p.count))
	for t := range p.count {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		summary = append(summary, t, p.count[t])
	}
	log.Info("demo: done", summary...)
}

// storyline guarantees every event type early whatever the seed: an agent's reply goes
// Sending → Success, and an Instagram customer deletes a message.
func storyline(ctx context.Context, sim *partoosim.Sim) {
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	if !wait(3 * time.Second) {
		return
	}
	c := sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerInstagram, ConsumerName: "Léa (Instagram)"})
	m, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, SenderType: model.SenderConsumer, Content: "Do you deliver on Sundays?"})
	uid := "agent-1"
	r, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, SenderType: model.SenderUser, Status: model.StatusSending,
		Content: "Yes, from 9 to 12!", UserID: &uid})
	if !wait(4 * time.Second) {
		return
	}
	_ = sim.SetStatus(r.ID, model.StatusSuccess)
	if !wait(6 * time.Second) {
		return
	}
	_ = sim.DeleteMessage(m.ID)
}
