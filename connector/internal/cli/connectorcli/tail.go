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
	topic := fs.String("topic", "", "topic to read (default: KAFKA_EVENTS_TOPIC)")
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
	if *topic == "" {
		*topic = cfg.KafkaEventsTopic
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(kopts,
		kgo.ConsumeTopics(*topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // to know where the end is: a transaction's last offset is its marker
	)...)
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", err)
		return 1
	}
	defer cl.Close()
	ends, err := reachTopic(ctx, kadm.NewClient(cl), cfg.KafkaBrokers, *topic)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", err)
		return 1
	}
	opts := consumeOptions{max: *maxEvents, idle: *timeout}
	if *conversation != 0 {
		opts.key = strconv.FormatInt(*conversation, 10)
	}
	if *untilEnd {
		if !*fromBeginning {
			return 0 // from the end to the end: nothing to print
		}
		opts.ends = ends
	}
	return consume(ctx, cl, p, opts, stderr)
}

// reachTopic checks, within tailReachTimeout, that Kafka answers and the topic exists, and
// returns the topic's committed end offsets (the last stable offset of each partition).
func reachTopic(ctx context.Context, adm *kadm.Client, brokers []string, topic string) (map[int32]int64, error) {
	rctx, cancel := context.WithTimeout(ctx, tailReachTimeout)
	defer cancel()
	listed, err := adm.ListCommittedOffsets(rctx, topic)
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("Kafka at %s did not answer within %s (check KAFKA_BROKERS and the TLS/SASL settings): %v",
				strings.Join(brokers, ","), tailReachTimeout, err)
		}
		return nil, fmt.Errorf("Kafka at %s: %v", strings.Join(brokers, ","), err)
	}
	if err := listed.Error(); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %s does not exist on %s (the connector creates it at its first start; or set KAFKA_EVENTS_TOPIC / --topic)",
				topic, strings.Join(brokers, ","))
		}
		return nil, fmt.Errorf("topic %s: %v", topic, err)
	}
	starts, err := adm.ListStartOffsets(rctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: start offsets: %v", topic, err)
	}
	// A partition whose log starts at its end (empty, or emptied by retention) has nothing to read.
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		ends[o.Partition] = o.Offset
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Offset >= o.Offset {
			ends[o.Partition] = 0
		}
	})
	return ends, nil
}

// consumeOptions say when consume stops and what it prints.
type consumeOptions struct {
	max  int             // stop after max printed events (0: no limit)
	idle time.Duration   // stop when nothing arrives for this long (0: never)
	ends map[int32]int64 // stop once every partition is read up to its end offset (nil: never)
	key  string          // print only records with this key ("": all)
	// handle, when set, receives each record instead of the printer.
	handle func(*kgo.Record) error
}

// consume prints records until ctx ends or an option says stop. Control records (transaction
// markers, kept so the end of a partition is visible) are never printed.
func consume(ctx context.Context, cl *kgo.Client, p *printer, o consumeOptions, stderr io.Writer) int {
	remaining := map[int32]int64{} // partitions not yet read to their end
	for part, end := range o.ends {
		if end > 0 {
			remaining[part] = end
		}
	}
	if o.ends != nil && len(remaining) == 0 {
		return 0
	}
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
			if end, ok := remaining[r.Partition]; ok && r.Offset >= end-1 {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() || (o.ends != nil && r.Offset >= o.ends[r.Partition]) {
				continue
			}
			if o.key != "" && string(r.Key) != o.key {
				continue
			}
			lastMatch = time.Now()
			if o.handle != nil {
				if err := o.handle(r); err != nil {
					fmt.Fprintf(stderr, "partoo-connector: %s[%d]@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
					return 1
				}
				continue
			}
			if err := p.print(r); err != nil {
				return 1
			}
			if o.max > 0 && p.printed >= o.max {
				return 0
			}
		}
		if o.ends != nil && len(remaining) == 0 {
			return 0
		}
	}
}
