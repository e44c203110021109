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

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	resnap "github.com/partoo-connector/partoo-connector/connector/internal/signal"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// rebuildBatch is the number of state records per transaction of rebuild-state.
const rebuildBatch = 500

func cmdRebuildState(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rebuild-state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "write even if the state topic still has records (they are superseded per conversation)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-connector rebuild-state [--force]

Rebuilds a lost state topic from the events topic, instead of re-emitting every message as a
snapshot: reads KAFKA_EVENTS_TOPIC (read_committed) to its end, replays the events into each
conversation's state and writes the states to KAFKA_STATE_TOPIC (created if missing) in
transactions under KAFKA_TRANSACTIONAL_ID. Stop the connector (every replica) first: the command
refuses while one may be alive — a member of its lease or presence group, a transaction of the
id open, started while it watches (5 s), or started in the last 2 minutes — whatever the flags.
It refuses a state topic that still has records unless --force. After it, the connector's next walks emit only what changed since the last event.
Kafka settings come from the environment, as for run.

flags:
`)
		fs.PrintDefaults()
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	cfg, kopts, ok := kafkaSettings(stderr)
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "partoo-connector rebuild-state: "+format+"\n", a...)
		return 1
	}

	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fail("%v", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := reachTopic(ctx, adm, cfg.KafkaBrokers, cfg.KafkaEventsTopic)
	if err != nil {
		return fail("%v", err)
	}
	if n, err := topicRecords(ctx, adm, cfg.KafkaStateTopic); err != nil {
		return fail("state topic %s: %v", cfg.KafkaStateTopic, err)
	} else if n > 0 && !*force {
		return fail("state topic %s still holds %d records: rebuild-state is for a lost state topic (delete it first, or --force)", cfg.KafkaStateTopic, n)
	}
	if err := noLiveConnector(ctx, adm, cfg, liveWatch); err != nil {
		return fail("%v", err)
	}
	topics := state.Topics{Events: cfg.KafkaEventsTopic, State: cfg.KafkaStateTopic, EventsPartitions: cfg.KafkaEventsPartitions,
		StatePartitions: cfg.KafkaStatePartitions, ReplicationFactor: cfg.KafkaReplicationFactor}
	if err := state.EnsureTopics(ctx, adm, topics); err != nil {
		return fail("%v", err)
	}

	// Replay every committed event.
	codec, err := events.NewCodec()
	if err != nil {
		return fail("%v", err)
	}
	replay := diff.NewReplay()
	read := 0
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumeTopics(cfg.KafkaEventsTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return fail("%v", err)
	}
	rc := consume(ctx, cl, nil, consumeOptions{ends: ends, handle: func(r *kgo.Record) error {
		fp := ""
		for _, h := range r.Headers {
			if h.Key == events.HeaderFingerprint {
				fp = string(h.Value)
			}
		}
		e, err := codec.DecodeEvent(r.Value, fp)
		if err != nil {
			return err
		}
		replay.Apply(e)
		read++
		return nil
	}}, stderr)
	cl.Close()
	if rc != 0 || ctx.Err() != nil {
		return fail("reading %s did not complete; nothing was written", cfg.KafkaEventsTopic)
	}

	// Write the states with the connector's own transactional publisher: same partitioner,
	// batch size, bounds and failure classification; a change without events is a state record.
	stateCodec, err := state.NewCodec()
	if err != nil {
		return fail("%v", err)
	}
	pub, err := publish.New(publish.Config{Base: kopts, TransactionalID: cfg.KafkaTransactionalID,
		EventsTopic: cfg.KafkaEventsTopic, StateTopic: cfg.KafkaStateTopic,
		StateMaxBytes: state.DefaultStateMaxMessageBytes, TransactionTimeout: cfg.KafkaTransactionTimeout})
	if err != nil {
		return fail("%v", err)
	}
	defer pub.Close()
	if err := pub.Init(ctx); err != nil {
		return fail("%v", err)
	}
	states := replay.States(time.Now())
	messages := 0
	for start := 0; start < len(states); start += rebuildBatch {
		batch := states[start:min(start+rebuildBatch, len(states))]
		changes := make([]publish.Change, 0, len(batch))
		for _, s := range batch {
			v, err := stateCodec.Encode(s)
			if err != nil {
				return fail("encode the state of conversation %d: %v", s.ConversationID, err)
			}
			messages += len(s.Messages)
			changes = append(changes, publish.Change{ConversationID: s.ConversationID, State: v})
		}
		if err := pub.Publish(ctx, changes); err != nil {
			return fail("write the states: %v (%d of %d conversations were written before this batch)", err, start, len(states))
		}
	}
	fmt.Fprintf(stdout, "rebuilt the state of %d conversations (%d messages) from %d events of %s into %s\n",
		len(states), messages, read, cfg.KafkaEventsTopic, cfg.KafkaStateTopic)
	return 0
}

// Bounds of the live-connector check of the commands that write with the connector's
// transactional id: how long its transactions are watched, and how recent a transaction must be
// to count as a live connector's.
const liveWatch = 5 * time.Second

var liveWindow = 2 * time.Minute // a variable for tests that know the connector is stopped

// noLiveConnector returns an error when a connector of cfg's transactional id may be alive:
// writing with the id would fence it. It looks at what Kafka knows over a window, not at one
// instant: members of its lease and presence groups (a running connector is a member, even
// idle), and the id's transactions — one open, one started or ended while watching for watch,
// or one started within liveWindow.
func noLiveConnector(ctx context.Context, adm *kadm.Client, cfg *config.KafkaConfig, watch time.Duration) error {
	txn := cfg.KafkaTransactionalID
	members, err := lease.Members(ctx, adm, engine.LeaseGroup(txn), engine.PresenceGroup(txn))
	if err != nil {
		return fmt.Errorf("cannot tell whether a connector of %s runs (describing its groups: %v); refusing to write with its transactional id", txn, err)
	}
	if len(members) > 0 {
		return fmt.Errorf("a connector of KAFKA_TRANSACTIONAL_ID %s is running (%s): writing with its transactional id would fence it; stop it (every replica) first", txn, strings.Join(members, "; "))
	}
	// Whatever its transactional id (a shell without the Deployment's KAFKA_TRANSACTIONAL_ID),
	// a connector that wrote the state topic lately may be alive.
	if described, err := adm.DescribeProducers(ctx, kadm.TopicsSet{cfg.KafkaStateTopic: {}}); err == nil {
		var latest kadm.DescribedProducer
		described.EachProducer(func(p kadm.DescribedProducer) {
			if p.LastTimestamp > latest.LastTimestamp {
				latest = p
			}
		})
		if age := time.Since(time.UnixMilli(latest.LastTimestamp)); latest.LastTimestamp > 0 && age < liveWindow {
			return fmt.Errorf("producer %d wrote the state topic %s %s ago: a connector (perhaps with another KAFKA_TRANSACTIONAL_ID) may still be running; stop it first (if it is stopped, retry after %s)",
				latest.ProducerID, cfg.KafkaStateTopic, age.Round(time.Second), time.UnixMilli(latest.LastTimestamp).Add(liveWindow).UTC().Format(time.RFC3339))
		}
	}
	var first kadm.DescribedTransaction
	for start := time.Now(); ; {
		described, err := adm.DescribeTransactions(ctx, txn)
		dt, onErr := described.On(txn, nil)
		switch {
		case errors.Is(err, kerr.TransactionalIDNotFound) || errors.Is(onErr, kerr.TransactionalIDNotFound) || errors.Is(dt.Err, kerr.TransactionalIDNotFound):
			return nil // never used
		case err != nil || onErr != nil || dt.Err != nil:
			return fmt.Errorf("cannot tell whether a connector of %s runs (describing its transactions: %v); refusing to write with its transactional id", txn, errors.Join(err, onErr, dt.Err))
		}
		if first.TxnID == "" {
			first = dt
		}
		age := time.Since(time.UnixMilli(dt.StartTimestamp))
		switch {
		case dt.State == "Ongoing" || dt.State == "PrepareCommit" || dt.State == "PrepareAbort":
			return fmt.Errorf("a transaction of %s is open (%s): a connector is writing; stop it first", txn, dt.State)
		case dt.ProducerEpoch != first.ProducerEpoch || dt.StartTimestamp != first.StartTimestamp:
			return fmt.Errorf("a connector of %s committed while this command watched: it is running; stop it first", txn)
		case dt.StartTimestamp > 0 && age < liveWindow:
			return fmt.Errorf("a connector of %s wrote %s ago: it may still be running; stop it first (if it is stopped, retry after %s)",
				txn, age.Round(time.Second), time.UnixMilli(dt.StartTimestamp).Add(liveWindow).UTC().Format(time.RFC3339))
		}
		if time.Since(start) >= watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// topicRecords counts the records a topic holds (0 when it does not exist).
func topicRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, tailReachTimeout)
	defer cancel()
	ends, err := adm.ListEndOffsets(rctx, topic)
	if err != nil {
		return 0, err
	}
	starts, err := adm.ListStartOffsets(rctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Err == nil {
			n += o.Offset - s.Offset
		}
	})
	return n, nil
}

func cmdResnapshot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resnapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ids int64List
	fs.Var(&ids, "conversation-ids", "comma-separated conversation ids to re-emit")
	all := fs.Bool("all", false, "re-emit every conversation the connector tracks")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-connector resnapshot --conversation-ids 1,2,3 | --all

Asks the running connector to re-emit the current messages of some conversations (or all) as
MessageCreated events with snapshot=true, without touching the others — for a consumer that
needs the current state again. The request goes through the signal topic <KAFKA_STATE_TOPIC>.signals
(created by the connector); the active connector walks those conversations soon and, once they
are all committed, marks the request done. The re-emitted events have ids derived from the
request: consumers deduplicating on event_id receive them once. Kafka settings come from the
environment, as for run.

flags:
`)
		fs.PrintDefaults()
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	if (len(ids) == 0) == !*all {
		fmt.Fprintln(stderr, "partoo-connector resnapshot: give either --conversation-ids or --all (see --help)")
		return 2
	}
	cfg, kopts, ok := kafkaSettings(stderr)
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sig, offset, err := resnap.Send(ctx, kopts, cfg.KafkaStateTopic,
		resnap.Signal{Type: resnap.Resnapshot, ConversationIDs: ids, All: *all})
	if err != nil {
		switch brokers := strings.Join(cfg.KafkaBrokers, ","); {
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("Kafka at %s did not answer within 20 s (is KAFKA_BROKERS right, and the broker up?): %w", brokers, err)
		case !errors.Is(err, resnap.ErrNoTopic):
			err = fmt.Errorf("Kafka at %s: %w", brokers, err)
		}
		fmt.Fprintf(stderr, "partoo-connector resnapshot: %v\n", err)
		return 1
	}
	what := fmt.Sprintf("%d conversations", len(ids))
	if *all {
		what = "every tracked conversation"
	}
	fmt.Fprintf(stdout, "resnapshot %s requested for %s (signal %s@%d); the connector logs \"resnapshot done\" when it is\n",
		sig.ID, what, resnap.Topic(cfg.KafkaStateTopic), offset)
	return 0
}

// int64List is a comma-separated flag of ids.
type int64List []int64

func (l *int64List) String() string { return fmt.Sprint(*l) }
func (l *int64List) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a conversation id", f)
		}
		*l = append(*l, id)
	}
	return nil
}
