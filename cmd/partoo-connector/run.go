package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector"
	"github.com/partoo-connector/partoo-connector/connector/config"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/httpapi"
	"github.com/partoo-connector/partoo-connector/connector/metrics"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/schedule"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

// shutdownGrace bounds the time from SIGTERM to exit: below Kubernetes' default 30 s grace.
const shutdownGrace = 20 * time.Second

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector run\n\nRuns the connector until SIGTERM or SIGINT. Configured from the environment:\n\n")
		for _, v := range config.Vars() {
			if v.Default == "" {
				fmt.Fprintf(fs.Output(), "  %-32s %s\n", v.Name, v.Desc)
			} else {
				fmt.Fprintf(fs.Output(), "  %-32s %s (default %s)\n", v.Name, v.Desc, v.Default)
			}
		}
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	cfg, err := config.Load()
	if err != nil {
		printConfigErrors(stderr, err)
		return 2
	}
	level, _ := cfg.SlogLevel()
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(stderr, hopts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(stderr, hopts)
	}
	log := slog.New(h)

	kopts, err := cfg.KafkaOpts()
	if err != nil {
		printConfigErrors(stderr, err)
		return 2
	}
	rcfg, err := cfg.Registry()
	if err != nil {
		printConfigErrors(stderr, err)
		return 2
	}
	var conn *connector.Connector
	m := metrics.New(gauges(func() *connector.Connector { return conn }))
	opt := options(cfg, kopts)
	opt.SchemaRegistry = rcfg
	opt.Logger, opt.Metrics = log, m
	conn, err = connector.New(opt)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("starting", "version", buildVersion(), "partoo_api_url", cfg.PartooAPIURL, "kafka_brokers", cfg.KafkaBrokers,
		"events_topic", cfg.KafkaEventsTopic, "state_topic", cfg.KafkaStateTopic, "transactional_id", cfg.KafkaTransactionalID,
		"requests_per_minute", cfg.PartooRequestsPerMinute, "budget_reserve", cfg.PartooBudgetReserve,
		"scheduler", cfg.Scheduler, "webhooks", !cfg.WebhookSecret.IsZero(), "schema_registry", cfg.SchemaRegistryURL, "leader_election", cfg.KafkaLeaderElection)
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: HTTP_ADDR: cannot listen: %v\n", err)
		return 1
	}
	srv := newHTTPServer(httpapi.Handler(conn, httpapi.Config{Metrics: m, Webhook: httpapi.WebhookConfig{
		AuthHeader: cfg.WebhookAuthHeader, Secret: cfg.WebhookSecret, MaxBodyBytes: cfg.WebhookMaxBodyBytes}}))
	ln = limitListener(ln, maxConnections)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("serving /metrics, /healthz, /readyz, /status", "addr", ln.Addr().String())

	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace.String())
		select {
		case err = <-done:
		case <-time.After(shutdownGrace):
			log.Error("shutdown took too long; exiting", "grace", shutdownGrace.String())
			return 1
		}
	}
	if err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped cleanly", "walks", conn.Walks())
	return 0
}

// options maps the configuration onto the connector's options: one name per setting.
func options(cfg *config.Config, kopts []kgo.Opt) connector.Options {
	summary := cfg.LogSummaryInterval
	if summary == 0 {
		summary = -1 // LOG_SUMMARY_INTERVAL=0: never
	}
	return connector.Options{
		Partoo: partoo.Config{APIURL: cfg.PartooAPIURL, APIKey: cfg.PartooAPIKey,
			RequestsPerMinute: cfg.PartooRequestsPerMinute, BudgetReserve: cfg.PartooBudgetReserve,
			RequestTimeout: cfg.PartooRequestTimeout, RequestAttempts: cfg.PartooRequestAttempts, PerPage: cfg.PartooPerPage},
		Kafka: kopts, TransactionalID: cfg.KafkaTransactionalID, TransactionTimeout: cfg.KafkaTransactionTimeout,
		StartupTimeout: cfg.KafkaStartupTimeout, OnMissingState: cfg.KafkaOnMissingState, StateOnCorrupt: cfg.StateOnCorrupt,
		Lease: connector.LeaseOptions{Enabled: cfg.KafkaLeaderElection, SessionTimeout: cfg.KafkaLeaseSessionTimeout},
		Topics: state.Topics{Events: cfg.KafkaEventsTopic, State: cfg.KafkaStateTopic,
			EventsPartitions: cfg.KafkaEventsPartitions, StatePartitions: cfg.KafkaStatePartitions,
			ReplicationFactor: cfg.KafkaReplicationFactor},
		ConversationIDs: cfg.PartooConversationIDs, BusinessIDs: cfg.PartooBusinessIDs,
		Diff:        diff.Options{VanishAfterWalks: cfg.VanishAfterWalks},
		MaxInFlight: cfg.PartooMaxInFlight,
		Scheduler:   cfg.Scheduler,
		Schedule: schedule.Config{DiscoveryInterval: cfg.SchedulerDiscoveryInterval,
			SendingMaxBackoff: cfg.SchedulerSendingMaxBackoff, InstagramChecks: cfg.SchedulerInstagramChecks,
			ReconcileShare: cfg.SchedulerReconcileShare, ReconcilePeriod: cfg.SchedulerReconcilePeriod},
		LogSummaryInterval: summary,
	}
}

// gauges reads the connector's figures at scrape time (zero before it exists).
func gauges(conn func() *connector.Connector) metrics.Gauges {
	read := func(f func(c *connector.Connector) float64) func() float64 {
		return func() float64 {
			if c := conn(); c != nil {
				return f(c)
			}
			return 0
		}
	}
	pass := func(f func(p *connector.PassReport) float64) func() float64 {
		return read(func(c *connector.Connector) float64 {
			if p := c.StatusReport().Pass; p != nil {
				return f(p)
			}
			return 0
		})
	}
	return metrics.Gauges{
		Conversations: read(func(c *connector.Connector) float64 { n, _ := c.Index().Len(); return float64(n) }),
		Messages:      read(func(c *connector.Connector) float64 { _, n := c.Index().Len(); return float64(n) }),
		BudgetTokens:  read(func(c *connector.Connector) float64 { return float64(c.Budget().Available()) }),
		BudgetRate:    read(func(c *connector.Connector) float64 { return c.Budget().RatePerMinute() }),
		PassDone:      pass(func(p *connector.PassReport) float64 { return float64(p.Done) }),
		PassTotal:     pass(func(p *connector.PassReport) float64 { return float64(p.Total) }),
		PassETA:       pass(func(p *connector.PassReport) float64 { return p.ETASeconds }),
		HangingClosed: read(func(c *connector.Connector) float64 { return float64(c.KafkaStats().HangingClosed) }),
	}
}

// printConfigErrors prints one line per wrong variable.
func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(w, "partoo-connector: configuration: %v\n", e)
		}
		return
	}
	fmt.Fprintf(w, "partoo-connector: configuration: %v\n", err)
}

// newHTTPServer serves h on a port that may face the internet (webhooks): every phase of a
// request is bounded and idle connections are closed.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// maxConnections caps the HTTP connections open at once.
const maxConnections = 256

// limitListener accepts at most n connections at once; more wait in the kernel's backlog.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitedListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
