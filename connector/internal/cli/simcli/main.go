// Package simcli is the partoo-sim command (cmd/partoo-sim): it serves an in-memory Partoo API
// (/v2) with lifelike activity, for the demo, docker-compose and benchmarks. See the "Partoo simulator" section of docs/development.md.
package simcli

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
	"syscall"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Main runs the partoo-sim command with its arguments (without the program name) and returns
// the exit status.
func Main(args []string, stderr io.Writer) int {
	return run(context.Background(), args, stderr)
}

type options struct {
	listen         string
	apiKey         string
	rpm            int
	seed           uint64
	conversations  int
	perConv        int
	activity       float64
	order          string
	errorRatio     float64
	malformedRatio float64
	latency        time.Duration
	latencyP99     time.Duration
	clockSkew      time.Duration
	profile        string
	orderSet       bool // -order given explicitly: it wins over a profile's order
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("partoo-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8090", "address to serve on")
	fs.StringVar(&o.apiKey, "api-key", "sim-key", "API key clients must send in x-APIKey (or env PARTOO_SIM_API_KEY)")
	fs.IntVar(&o.rpm, "rate-limit", 300, "requests per minute before 429 (negative: no limit)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated organisation and activity")
	fs.IntVar(&o.conversations, "conversations", 100, "conversations in the generated organisation")
	fs.IntVar(&o.perConv, "messages-per-conversation", 20, "average messages per generated conversation")
	fs.Float64Var(&o.activity, "activity", 1, "new messages per second (0: no live activity)")
	fs.StringVar(&o.order, "order", "recent", "conversation listing order: recent (most recent activity first) or id")
	fs.Float64Var(&o.errorRatio, "error-ratio", 0, "share of /v2 requests answered 5xx")
	fs.Float64Var(&o.malformedRatio, "malformed-ratio", 0, "share of /v2 answers with a truncated JSON body")
	fs.DurationVar(&o.latency, "latency", 0, "median latency of every /v2 request (counted against the rate limit on arrival)")
	fs.DurationVar(&o.latencyP99, "latency-p99", 0, "99th percentile latency: with it, latencies are log-normal (default: every request takes -latency)")
	fs.DurationVar(&o.clockSkew, "clock-skew", 0, "how far Partoo's clock is off the host's (e.g. -3h: behind): message dates and the Date header")
	fs.StringVar(&o.profile, "profile", "classic", "comma-separated API shape variations (see below)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: partoo-sim [flags]\n\nServes Partoo's /v2 conversations and messages API from memory, with admin endpoints under /_sim/.\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nprofiles (-profile a,b combines them):\n%s", partoosim.ProfileHelp())
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.orderSet = flagSet(fs, "order")
	if v := os.Getenv("PARTOO_SIM_API_KEY"); v != "" && !flagSet(fs, "api-key") {
		o.apiKey = v
	}
	switch {
	case o.order != "recent" && o.order != "id":
		return o, fmt.Errorf("-order must be recent or id, not %q", o.order)
	case o.conversations < 0 || o.perConv < 0 || o.activity < 0:
		return o, errors.New("-conversations, -messages-per-conversation and -activity must not be negative")
	case o.errorRatio < 0 || o.errorRatio > 1 || o.malformedRatio < 0 || o.malformedRatio > 1:
		return o, errors.New("-error-ratio and -malformed-ratio must be between 0 and 1")
	case o.apiKey == "":
		return o, errors.New("-api-key must not be empty")
	case o.latency < 0 || (o.latencyP99 != 0 && o.latencyP99 < o.latency):
		return o, errors.New("-latency must not be negative, and -latency-p99 must be at least -latency")
	}
	if _, _, err := partoosim.ParseProfile(o.profile); err != nil {
		return o, fmt.Errorf("-profile: %w", err)
	}
	return o, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "partoo-sim:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	variant, order, _ := partoosim.ParseProfile(o.profile)
	if order == "" || o.orderSet {
		order = partoosim.Order(o.order)
	}
	sim := partoosim.New(partoosim.Config{
		APIKey:            o.apiKey,
		RequestsPerMinute: o.rpm,
		Order:             order,
		Seed:              o.seed,
		Variant:           variant,
		ClockSkew:         o.clockSkew,
		Faults: partoosim.Faults{ErrorRatio: o.errorRatio, MalformedRatio: o.malformedRatio,
			Latency: o.latency, LatencyP99: o.latencyP99},
	})
	gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: o.activity}, o.seed)
	gen.Populate(o.conversations, o.perConv, 30*24*time.Hour)

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintln(stderr, "partoo-sim:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.activity > 0 {
		go func() { _ = gen.Run(ctx, 100*time.Millisecond) }()
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("partoo-sim serving", "base_url", "http://"+ln.Addr().String()+"/v2", "conversations", o.conversations,
		"rate_limit_per_minute", o.rpm, "activity_per_second", o.activity, "order", order, "profile", o.profile)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}
