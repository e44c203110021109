package connectorcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/doctor"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	resnap "github.com/partoo-connector/partoo-connector/connector/internal/signal"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

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
Kafka settings come from the environment, as for run; so do PARTOO_API_KEY (or
PARTOO_API_KEY_FILE) and PARTOO_ORG_ID: each state written names its owner (the key's
fingerprint, the organisation) as the connector's own records do.

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
	key, org, err := config.LoadOwnerKey()
	if err != nil {
		printConfigErrors(stderr, err)
		fmt.Fprintln(stderr, "partoo-connector: rebuild-state writes the state as the connector's own: run it with the connector's PARTOO_API_KEY (or PARTOO_API_KEY_FILE) and PARTOO_ORG_ID")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := reachEvents(ctx, kopts, cfg); err != nil {
		return rebuildFailed(stderr, err)
	}
	stats, err := state.Rebuild(ctx, state.RebuildConfig{Kafka: kopts, TransactionalID: cfg.KafkaTransactionalID,
		TransactionTimeout: cfg.KafkaTransactionTimeout, Force: *force, Owner: state.NewOwner(key.Reveal(), org),
		Topics: cfg.Topics(),
		Guard: func(ctx context.Context, adm *kadm.Client) error {
			return doctor.NoLiveConnector(ctx, adm, doctor.LivenessOf(cfg, liveWatch, liveWindow))
		}})
	if err != nil {
		return rebuildFailed(stderr, err)
	}
	fmt.Fprintf(stdout, "rebuilt the state of %d conversations (%d messages) from %d events of %s into %s\n",
		stats.Conversations, stats.Messages, stats.Events, cfg.KafkaEventsTopic, cfg.KafkaStateTopic)
	printSkipped(stderr, "rebuild-state", "skipped: their conversations' next walks publish again what they said", stats.Skipped)
	return 0
}

// printSkipped names each unknown schema fingerprint whose records a command could not decode
// (and what it did with them), with their count, in fingerprint order.
func printSkipped(stderr io.Writer, cmd, did string, skipped map[string]int) {
	for _, fp := range slices.Sorted(maps.Keys(skipped)) {
		fmt.Fprintf(stderr, "partoo-connector %s: %d records of unknown schema fingerprint %s (in no schema of schemas/ nor schemas/history) %s\n", cmd, skipped[fp], fp, did)
	}
}

// reachEvents checks, as tail does, that Kafka answers and the events topic exists.
func reachEvents(ctx context.Context, kopts []kgo.Opt, cfg *config.KafkaConfig) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return reachTopic(ctx, kadm.NewClient(cl), cfg.KafkaBrokers, cfg.KafkaEventsTopic)
}

// rebuildFailed prints why rebuild-state stopped and returns its exit status, 1.
func rebuildFailed(stderr io.Writer, err error) int {
	var notEmpty *state.StateNotEmptyError
	var replay *state.ReplayError
	switch {
	case errors.As(err, &notEmpty):
		err = fmt.Errorf("%w: rebuild-state is for a lost state topic (delete it first, or --force)", err)
	case errors.As(err, &replay):
		printReadErrors(stderr, "rebuild-state", replay.Err)
	}
	fmt.Fprintf(stderr, "partoo-connector rebuild-state: %v\n", err)
	return 1
}

// printReadErrors prints what stopped a read of a topic to its end: each failed fetch, or the
// record that failed (nothing when the command was interrupted).
func printReadErrors(stderr io.Writer, command string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			printReadErrors(stderr, command, e)
		}
		return
	}
	var fe *kafkatopic.FetchError
	var re *kafkatopic.RecordError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(stderr, "partoo-connector tail: %v\n", fe)
	case errors.As(err, &re):
		fmt.Fprintf(stderr, "partoo-connector: %v\n", re)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	default:
		fmt.Fprintf(stderr, "partoo-connector %s: %v\n", command, err)
	}
}

// Bounds of the live-connector check of the commands that write with the connector's
// transactional id (doctor.NoLiveConnector): how long its transactions are watched, and how
// recent a transaction must be to count as a live connector's.
const liveWatch = 5 * time.Second

var liveWindow = doctor.DefaultLiveWindow // a variable for tests that know the connector is stopped

func cmdResnapshot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("resnapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ids int64List
	fs.Var(&ids, "conversation-ids", "comma-separated conversation ids to re-emit")
	all := fs.Bool("all", false, "re-emit every conversation the connector tracks")
	orgName := fs.String("organization", "", "with PARTOO_ORGANIZATIONS_FILE (required then): the organisation, by its name in the file, whose conversations to re-emit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-connector resnapshot --conversation-ids 1,2,3 | --all

Asks the running connector to re-emit the current messages of some conversations (or all) as
MessageCreated events with snapshot=true, without touching the others — for a consumer that
needs the current state again. The request goes through the signal topic <KAFKA_STATE_TOPIC>.signals
(created by the connector); the active connector walks those conversations soon and, once they
are all committed, marks the request done. The re-emitted events have ids derived from the
request: consumers deduplicating on event_id receive them once. Kafka settings come from the
environment, as for run; with PARTOO_ORGANIZATIONS_FILE, --organization names the
organisation (its signal topic is <KAFKA_STATE_TOPIC>.<name>.signals).

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
	stateTopic, ok := organizationStateTopic(cfg.KafkaStateTopic, *orgName, stderr)
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sig, offset, err := resnap.Send(ctx, kopts, stateTopic,
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
		sig.ID, what, resnap.Topic(stateTopic), offset)
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

// organizationStateTopic is the state topic a one-organisation command acts on: base without
// the organisations file; with it, that of the organisation named (required, and listed in
// the file). Errors go to stderr, one line.
func organizationStateTopic(base, name string, stderr io.Writer) (string, bool) {
	if os.Getenv(config.OrganizationsFileVar) == "" {
		if name != "" {
			fmt.Fprintf(stderr, "partoo-connector: --organization is for %s, which is not set\n", config.OrganizationsFileVar)
			return "", false
		}
		return base, true
	}
	cfg, err := config.Load()
	if err != nil {
		printConfigErrors(stderr, err)
		return "", false
	}
	for _, o := range cfg.Organizations {
		if o.Name == name {
			return cfg.ForOrganization(o).KafkaStateTopic, true
		}
	}
	fmt.Fprintf(stderr, "partoo-connector: with %s, name the organisation: --organization NAME, one of %s\n",
		config.OrganizationsFileVar, strings.Join(organizationNames(cfg), ", "))
	return "", false
}
