package connectorcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
)

// tailReachTimeout bounds the check that Kafka answers and the topic exists.
const tailReachTimeout = 8 * time.Second

func cmdTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fromBeginning := fs.Bool("from-beginning", false, "read the topic from its start (default: only new events)")
	untilEnd := fs.Bool("until-end", false, "exit at the end offsets taken at start (with --from-beginning: print everything there is, then exit)")
	maxEvents := fs.Int("max", 0, "stop after N events (0: no limit)")
	timeout := fs.Duration("timeout", 0, "stop when no event arrives for this long (0: wait forever)")
	topic := fs.String("topic", "", "topic to read: the events (default: KAFKA_EVENTS_TOPIC) or a table topic")
	conversation := fs.Int64("conversation-id", 0, "print only this conversation's events")
	format := fs.String("format", formatJSON, "json (one object a line: type, key, partition, offset, headers, event) or text (one readable line an event)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector tail [flags]\n\nPrints the events topic, read_committed, one event a line. Kafka settings come from the\nenvironment (KAFKA_BROKERS, KAFKA_EVENTS_TOPIC, KAFKA_TLS_*, KAFKA_SASL_*). Exits 1 within\n10 s when Kafka does not answer or the topic does not exist.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	p, err := newPrinter(stdout, *format)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector tail: --format: %v\n", err)
		return 2
	}
	cfg, kopts, ok := kafkaSettings(stderr)
	if !ok {
		return 2
	}
	defer func() { printSkipped(stderr, "tail", "printed with their error, not decoded", p.unknown) }()
	if *topic == "" {
		*topic = cfg.KafkaEventsTopic
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	opts := consumeOptions{max: *maxEvents, idle: *timeout}
	if *conversation != 0 {
		opts.key = strconv.FormatInt(*conversation, 10)
	}
	if *untilEnd {
		return tailToEnd(ctx, kopts, cfg.KafkaBrokers, *topic, *fromBeginning, p, opts, stderr)
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
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", err)
		return 1
	}
	defer cl.Close()
	if rc, ok := tailReach(ctx, cl, cfg.KafkaBrokers, *topic, stderr); !ok {
		return rc
	}
	return consume(ctx, cl, p, opts, stderr)
}

// tailToEnd prints the topic from its start to the committed end offsets taken at start
// (--until-end), or nothing without fromBeginning (from the end to the end).
func tailToEnd(ctx context.Context, kopts []kgo.Opt, brokers []string, topic string, fromBeginning bool, p *printer, o consumeOptions, stderr io.Writer) int {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", err)
		return 1
	}
	rc, ok := tailReach(ctx, cl, brokers, topic, stderr)
	cl.Close()
	if !ok || !fromBeginning {
		return rc
	}
	ictx, matched := idleContext(ctx, o.idle)
	errEnough, errPrint := errors.New("printed enough"), errors.New("print")
	err = kafkatopic.ReadToEnd(ictx, kopts, topic, func(r *kgo.Record) error {
		if o.key != "" && string(r.Key) != o.key {
			return nil
		}
		matched()
		if p.print(r) != nil {
			return errPrint
		}
		if o.max > 0 && p.printed >= o.max {
			return errEnough
		}
		return nil
	})
	switch {
	case err == nil || errors.Is(err, errEnough) || ictx.Err() != nil:
		return 0
	case errors.Is(err, errPrint):
		return 1
	}
	printReadErrors(stderr, "tail", err)
	return 1
}

// idleContext returns a context that ends with ctx, or once idle (if positive) passes
// without a call of matched.
func idleContext(ctx context.Context, idle time.Duration) (context.Context, func()) {
	if idle <= 0 {
		return ctx, func() {}
	}
	ictx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(idle, cancel)
	context.AfterFunc(ictx, func() { timer.Stop() })
	return ictx, func() { timer.Reset(idle) }
}

// tailReach checks that Kafka answers and the topic exists; ok false says tail ends with rc.
func tailReach(ctx context.Context, cl *kgo.Client, brokers []string, topic string, stderr io.Writer) (rc int, ok bool) {
	if err := reachTopic(ctx, kadm.NewClient(cl), brokers, topic); err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", err)
		return 1, false
	}
	return 0, true
}

// reachTopic checks, within tailReachTimeout, that Kafka answers, the topic exists and its
// partitions answer offset requests.
func reachTopic(ctx context.Context, adm *kadm.Client, brokers []string, topic string) error {
	rctx, cancel := context.WithTimeout(ctx, tailReachTimeout)
	defer cancel()
	listed, err := adm.ListCommittedOffsets(rctx, topic)
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("Kafka at %s did not answer within %s (check KAFKA_BROKERS and the TLS/SASL settings): %v",
				strings.Join(brokers, ","), tailReachTimeout, err)
		}
		return fmt.Errorf("Kafka at %s: %v", strings.Join(brokers, ","), err)
	}
	if err := listed.Error(); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s does not exist on %s (the connector creates it at its first start; or set KAFKA_EVENTS_TOPIC / --topic)",
				topic, strings.Join(brokers, ","))
		}
		return fmt.Errorf("topic %s: %v", topic, err)
	}
	starts, err := adm.ListStartOffsets(rctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("topic %s: start offsets: %v", topic, err)
	}
	return nil
}

// consumeOptions say when consume stops and what it prints.
type consumeOptions struct {
	max  int           // stop after max printed events (0: no limit)
	idle time.Duration // stop when nothing arrives for this long (0: never)
	key  string        // print only records with this key ("": all)
}

// consume prints records until ctx ends or an option says stop.
func consume(ctx context.Context, cl *kgo.Client, p *printer, o consumeOptions, stderr io.Writer) int {
	lastMatch := time.Now() // the idle timeout counts from the last record that matched
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.idle > 0 {
			left := o.idle - time.Since(lastMatch)
			if left <= 0 {
				return 0
			}
			pctx, cancel = context.WithTimeout(ctx, left)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return 0
		}
		failed := false
		fs.EachError(func(t string, part int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			fmt.Fprintf(stderr, "partoo-connector tail: fetch %s[%d]: %v\n", t, part, err)
			failed = true
		})
		if failed {
			return 1
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Attrs.IsControl() || (o.key != "" && string(r.Key) != o.key) {
				continue
			}
			lastMatch = time.Now()
			if err := p.print(r); err != nil {
				return 1
			}
			if o.max > 0 && p.printed >= o.max {
				return 0
			}
		}
	}
}
