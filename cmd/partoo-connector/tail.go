package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/config"
)

func cmdTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fromBeginning := fs.Bool("from-beginning", false, "read the topic from its start (default: only new events)")
	maxEvents := fs.Int("max", 0, "stop after N events (0: no limit)")
	timeout := fs.Duration("timeout", 0, "stop when no event arrives for this long (0: wait forever)")
	topic := fs.String("topic", "", "topic to read (default: KAFKA_EVENTS_TOPIC)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector tail [flags]\n\nPrints the events topic, read_committed, as one JSON object a line: type, key, partition,\noffset, headers and the decoded Avro event. Kafka settings come from the environment\n(KAFKA_BROKERS, KAFKA_EVENTS_TOPIC, KAFKA_TLS_*, KAFKA_SASL_*).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := config.LoadKafka()
	if err != nil {
		printConfigErrors(stderr, err)
		return 2
	}
	if *topic == "" {
		*topic = cfg.KafkaEventsTopic
	}
	kopts, err := cfg.KafkaOpts()
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(kopts,
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: %v\n", err)
		return 1
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := newPrinter(stdout)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: %v\n", err)
		return 1
	}
	return consume(ctx, cl, p, *maxEvents, *timeout, stderr)
}

// consume prints records until ctx ends, max records were printed, or nothing arrived for
// idle (when > 0).
func consume(ctx context.Context, cl *kgo.Client, p *printer, max int, idle time.Duration, stderr io.Writer) int {
	n := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			pctx, cancel = context.WithTimeout(ctx, idle)
		}
		fs := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			return 0
		}
		failed := false
		fs.EachError(func(t string, part int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			fmt.Fprintf(stderr, "partoo-connector: fetch %s[%d]: %v\n", t, part, err)
			failed = true
		})
		if failed {
			return 1
		}
		for it := fs.RecordIter(); !it.Done(); {
			if err := p.print(it.Next()); err != nil {
				return 1
			}
			n++
			if max > 0 && n >= max {
				return 0
			}
		}
		if timedOut && fs.NumRecords() == 0 {
			return 0
		}
	}
}
