package connectorcli

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

	"github.com/partoo-connector/partoo-connector/connector/internal/service"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/httpapi"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
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
	log := newLogger(cfg, stderr)
	for _, u := range config.UnknownVars(os.Environ(), cfg.OrganizationEnv()...) {
		log.Warn(u.Warning(), "variable", u.Name, "did_you_mean", u.Suggest)
	}
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
	m := metrics.New(metrics.Gauges{})
	kc, err := cluster.New(clusterConfig(&cfg.KafkaConfig, kopts, log))
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}
	engines := engineOptions(cfg, kopts, rcfg)
	tr := shareTransport(engines, nil)
	conn, err := service.New(service.Config{Engines: engines, Metrics: m, Logger: log,
		Group: organizationsGroup(cfg, kopts, log), Versions: organizationVersions(cfg), Cluster: kc})
	if err != nil {
		kc.Close()
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logStart(cfg, log)
	shutdown, err := serveHTTP(cfg, httpapi.Handler(conn, httpapi.Config{Metrics: m, Webhook: webhookConfig(cfg, conn)}), log)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: HTTP_ADDR: cannot listen: %v\n", err)
		return 1
	}
	defer shutdown()
	if cfg.PartooOrganizationsFile != "" && cfg.PartooOrganizationsReload > 0 {
		go watchOrganizations(ctx, cfg, conn, func(c *config.Config) []engine.Options {
			opts := engineOptions(c, kopts, rcfg)
			shareTransport(opts, tr)
			return opts
		}, log)
	}
	return runConnector(ctx, conn, log)
}

// clusterConfig is the process's Kafka layer's configuration.
func clusterConfig(cfg *config.KafkaConfig, kopts []kgo.Opt, log *slog.Logger) cluster.Config {
	return cluster.Config{Kafka: kopts, ClientID: cfg.KafkaClientID, Compression: cfg.KafkaCompression,
		PresenceGroup: lease.PresenceGroup(cfg.KafkaTransactionalID), PresenceTopic: lease.DefaultTopic(cfg.KafkaStateTopic), ReplicationFactor: cfg.KafkaReplicationFactor, Logger: log}
}

// logStart logs the settings a start is judged by.
func logStart(cfg *config.Config, log *slog.Logger) {
	attrs := []any{"version", buildVersion(), "partoo_api_url", cfg.PartooAPIURL, "kafka_brokers", cfg.KafkaBrokers,
		"events_topic", cfg.KafkaEventsTopic, "state_topic", cfg.KafkaStateTopic, "transactional_id", cfg.KafkaTransactionalID,
		"requests_per_minute", cfg.PartooRequestsPerMinute, "budget_reserve", cfg.PartooBudgetReserve,
		"scheduler", cfg.Scheduler, "webhooks", !cfg.WebhookSecret.IsZero(), "schema_registry", cfg.SchemaRegistryURL, "leader_election", cfg.KafkaLeaderElection}
	if len(cfg.Organizations) > 0 {
		names := make([]string, len(cfg.Organizations))
		for i, o := range cfg.Organizations {
			names[i] = o.Name
		}
		attrs = append(attrs, "organizations_file", cfg.PartooOrganizationsFile, "organizations", names)
	}
	log.Info("starting", attrs...)
	cfg.LogSharedKeyCaps(log)
}

// engineOptions maps the configuration onto one engine's options per organisation: the
// environment's one organisation, or each of PARTOO_ORGANIZATIONS_FILE under its name, with
// its own topics and transactional id (config.Config.ForOrganization).
func engineOptions(cfg *config.Config, kopts []kgo.Opt, rcfg registry.Config) []engine.Options {
	if len(cfg.Organizations) == 0 {
		opt := options(cfg, kopts)
		opt.SchemaRegistry = rcfg
		return []engine.Options{opt}
	}
	out := make([]engine.Options, 0, len(cfg.Organizations))
	for _, o := range cfg.Organizations {
		opt := options(cfg.ForOrganization(o), kopts)
		opt.Organization, opt.SchemaRegistry = o.Name, rcfg
		out = append(out, opt)
	}
	return out
}

// shareTransport gives every organisation's Partoo client the process's one HTTP transport:
// tr, or (nil) one built with its connection pool sized for all their walks in flight. If it
// cannot be built, each client builds its own. It returns the transport, for the organisations
// a file change adds.
func shareTransport(opts []engine.Options, tr *http.Transport) *http.Transport {
	if tr == nil {
		inFlight := 0
		for _, o := range opts {
			if o.MaxInFlight > 0 {
				inFlight += o.MaxInFlight
			} else {
				inFlight += pipeline.DefaultMaxInFlight
			}
		}
		var err error
		if tr, err = partoo.NewTransport(partoo.TransportConfig{MaxInFlight: inFlight}); err != nil {
			return nil
		}
	}
	for i := range opts {
		opts[i].Partoo.Transport = tr
	}
	return tr
}

// webhookConfig is the webhook receiver's: WEBHOOK_SECRET for the one organisation, or each
// organisation's own secret, hinting its engine only.
func webhookConfig(cfg *config.Config, conn *service.Service) httpapi.WebhookConfig {
	wc := httpapi.WebhookConfig{AuthHeader: cfg.WebhookAuthHeader, Secret: cfg.WebhookSecret, MaxBodyBytes: cfg.WebhookMaxBodyBytes}
	for _, o := range cfg.Organizations {
		wc.Organizations = append(wc.Organizations, httpapi.WebhookOrganization{Name: o.Name, Secret: o.WebhookSecret, Target: conn.Target(o.Name)})
	}
	return wc
}

// newLogger is the connector's logger: JSON (durations in seconds) or text, at LOG_LEVEL.
func newLogger(cfg *config.Config, stderr io.Writer) *slog.Logger {
	level, _ := cfg.SlogLevel()
	stderr = cfg.Scrubber().Writer(stderr) // no secret of the configuration in any log line
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: durationsInSeconds}))
}

// serveHTTP serves h on HTTP_ADDR until shutdown is called (which waits up to 2 s for
// requests in progress).
func serveHTTP(cfg *config.Config, h http.Handler, log *slog.Logger) (shutdown func(), err error) {
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	srv := newHTTPServer(h)
	ln = limitListener(ln, maxConnections, maxProbeConnections)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("serving /metrics, /healthz, /readyz, /status", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// runConnector runs the connector until it stops or ctx ends, then waits for it at most
// shutdownGrace, and returns the exit status.
func runConnector(ctx context.Context, conn *service.Service, log *slog.Logger) int {
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace.String())
		select {
		case err = <-done:
		case <-time.After(shutdownGrace):
			log.Error("shutdown took too long; exiting", "grace", shutdownGrace)
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
func options(cfg *config.Config, kopts []kgo.Opt) engine.Options {
	summary := cfg.LogSummaryInterval
	if summary == 0 {
		summary = -1 // LOG_SUMMARY_INTERVAL=0: never
	}
	return engine.Options{
		Partoo: partoo.Config{APIURL: cfg.PartooAPIURL, APIKey: cfg.PartooAPIKey,
			RequestsPerMinute: cfg.PartooRequestsPerMinute, BudgetReserve: cfg.PartooBudgetReserve,
			RequestTimeout: cfg.PartooRequestTimeout, RequestAttempts: cfg.PartooRequestAttempts, PerPage: cfg.PartooPerPage},
		Kafka: kopts, TransactionalID: cfg.KafkaTransactionalID, TransactionTimeout: cfg.KafkaTransactionTimeout,
		StartupTimeout: cfg.KafkaStartupTimeout, OnMissingState: cfg.KafkaOnMissingState, StateOnCorrupt: cfg.StateOnCorrupt,
		StateOwnerCheck:      cfg.StateOwnerCheck,
		Lease:                engine.LeaseOptions{Enabled: cfg.KafkaLeaderElection, SessionTimeout: cfg.KafkaLeaseSessionTimeout},
		Topics:               cfg.Topics(),
		OrganizationID:       cfg.PartooOrgID,
		ConsumerContact:      cfg.KafkaConversationsTableConsumerContact,
		PartooStartupTimeout: cfg.PartooStartupTimeout,
		ConversationIDs:      cfg.PartooConversationIDs, BusinessIDs: cfg.PartooBusinessIDs,
		Diff:        diff.Options{VanishAfterWalks: cfg.VanishAfterWalks, VanishConfirmAfter: cfg.PartooVanishConfirmAfter},
		MaxInFlight: cfg.PartooMaxInFlight,
		Scheduler:   cfg.Scheduler,
		Schedule: schedule.Config{DiscoveryInterval: cfg.SchedulerDiscoveryInterval,
			SendingMaxBackoff: cfg.SchedulerSendingMaxBackoff, InstagramChecks: cfg.SchedulerInstagramChecks,
			ReconcileShare: cfg.SchedulerReconcileShare, ReconcilePeriod: cfg.SchedulerReconcilePeriod},
		LogSummaryInterval: summary,
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
		Handler:           probesFirst(h),
		ConnContext:       markProbeOnly,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// maxConnections caps the HTTP connections served as usual (webhooks included); up to
// maxProbeConnections more are accepted for probes only, so that a flood of idle or
// keep-alive connections never starves /healthz, /readyz, /metrics and /status.
const (
	maxConnections      = 256
	maxProbeConnections = 8192
)

// limitListener accepts n connections at once as usual; beyond, up to probes more are
// accepted as probe-only connections (probeOnly reports them); beyond that, more wait in the
// kernel's backlog.
func limitListener(ln net.Listener, n, probes int) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n), extra: make(chan struct{}, probes)}
}

type limitedListener struct {
	net.Listener
	slots chan struct{}
	extra chan struct{}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	var slots chan struct{}
	select {
	case l.slots <- struct{}{}:
		slots = l.slots
	default:
		select {
		case l.slots <- struct{}{}:
			slots = l.slots
		case l.extra <- struct{}{}:
			slots = l.extra
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-slots
		return nil, err
	}
	return &limitedConn{Conn: c, probeOnly: slots == l.extra, release: func() { <-slots }}, nil
}

type limitedConn struct {
	net.Conn
	probeOnly bool
	once      sync.Once
	release   func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

type probeOnlyKey struct{}

// markProbeOnly is the server's ConnContext: requests on a probe-only connection say so.
func markProbeOnly(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok && lc.probeOnly {
		return context.WithValue(ctx, probeOnlyKey{}, true)
	}
	return ctx
}

// probesFirst serves only the probes on a probe-only connection (503 for anything else, such as
// a webhook: Partoo retries 5xx), and closes it after each answer.
func probesFirst(h http.Handler) http.Handler {
	if h == nil {
		h = http.DefaultServeMux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if only, _ := r.Context().Value(probeOnlyKey{}).(bool); only {
			w.Header().Set("Connection", "close")
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics", "/status":
			default:
				http.Error(w, "busy: too many connections", http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// durationsInSeconds writes durations in JSON logs as seconds (a number), not Go's nanoseconds.
func durationsInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key, a.Value.Duration().Seconds())
	}
	return a
}
