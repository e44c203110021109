package connectorcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// doctorKafkaTimeout bounds each Kafka check: an unreachable broker is reported, not waited on.
const doctorKafkaTimeout = 8 * time.Second

func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-connector doctor

Checks a deployment before it goes live, with the same environment as run: the configuration;
Partoo (the key, latency, listing and page order, the field types of a sample, the budget);
Kafka (reachability, version, both topics, the ACLs the connector needs, whether another live
producer holds the transactional id); the schema registry when set; webhooks. One line per
check: ✓ fine, ! worth knowing, ✗ blocks the connector, with advice. Writes nothing anywhere.
Exits 0 when nothing blocks, 1 otherwise.
`)
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	d := &doctor{w: stdout}
	defer d.summary()
	for _, u := range config.UnknownVars(os.Environ()) {
		d.warn("configuration", unknownVarText(u), "fix its name, or unset it")
	}
	cfg, err := config.Load()
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				d.fail("configuration", e.Error(), "see partoo-connector run --help")
			}
		} else {
			d.fail("configuration", err.Error(), "")
		}
		return 1
	}
	kopts, kerrOpts := cfg.KafkaOpts()
	rcfg, rerr := cfg.Registry()
	for _, e := range []error{kerrOpts, rerr} {
		if e != nil {
			d.fail("configuration", e.Error(), "")
		}
	}
	if d.failed > 0 {
		return 1
	}
	d.pass("configuration", "every variable the connector reads is valid")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d.partoo(ctx, cfg)
	d.kafka(ctx, cfg, kopts)
	d.registry(ctx, cfg, rcfg)
	if cfg.WebhookSecret.IsZero() {
		d.warn("webhooks", "off (WEBHOOK_SECRET unset): changes are found by polling only", "Partoo webhooks pointed at POST /webhooks/partoo cut the median detection lag to about a third")
	} else {
		d.pass("webhooks", fmt.Sprintf("POST /webhooks/partoo on %s accepts requests with the %s header", cfg.HTTPAddr, cfg.WebhookAuthHeader))
	}
	if d.failed > 0 {
		return 1
	}
	return 0
}

// doctor prints one line per check and counts the problems.
type doctor struct {
	w              io.Writer
	checks, failed int
	warned         int
}

func (d *doctor) line(mark, name, msg, advice string) {
	d.checks++
	if advice != "" {
		msg += " — " + advice
	}
	fmt.Fprintf(d.w, "%s %s: %s\n", mark, name, msg)
}
func (d *doctor) pass(name, msg string) { d.line("✓", name, msg, "") }
func (d *doctor) warn(name, msg, advice string) {
	d.warned++
	d.line("!", name, msg, advice)
}
func (d *doctor) fail(name, msg, advice string) {
	d.failed++
	d.line("✗", name, msg, advice)
}
func (d *doctor) summary() {
	verdict := "nothing blocks the connector"
	if d.failed > 0 {
		verdict = fmt.Sprintf("%d problem(s) block the connector", d.failed)
	}
	fmt.Fprintf(d.w, "doctor: %d checks, %s, %d warning(s)\n", d.checks, verdict, d.warned)
}

// attempts records the Partoo client's attempts and skipped items.
type attempts struct {
	mu      sync.Mutex
	list    []partoo.Attempt
	skipped map[string]int
	limited int
}

func (a *attempts) Attempt(x partoo.Attempt) { a.mu.Lock(); a.list = append(a.list, x); a.mu.Unlock() }
func (a *attempts) Skipped(s partoo.SkippedItem) {
	a.mu.Lock()
	a.skipped[s.Endpoint+" "+s.Reason]++
	a.mu.Unlock()
}
func (a *attempts) RateLimited(time.Duration)  { a.mu.Lock(); a.limited++; a.mu.Unlock() }
func (a *attempts) BudgetWaited(time.Duration) {}

func (d *doctor) partoo(ctx context.Context, cfg *config.Config) {
	obs := &attempts{skipped: map[string]int{}}
	client, err := partoo.New(partoo.Config{APIURL: cfg.PartooAPIURL, APIKey: cfg.PartooAPIKey,
		RequestsPerMinute: cfg.PartooRequestsPerMinute, BudgetReserve: cfg.PartooBudgetReserve,
		RequestTimeout: 15 * time.Second, RequestAttempts: 1, Observer: obs})
	if err != nil {
		d.fail("Partoo API", err.Error(), "")
		return
	}
	page, err := client.ListConversations(ctx, partoo.ListConversationsParams{PerPage: 20, BusinessIDs: cfg.PartooBusinessIDs, MaxAttempts: 1})
	switch {
	case partoo.IsAuth(err):
		d.fail("Partoo API key", "Partoo refused it: "+err.Error(), "check PARTOO_API_KEY (or the file of PARTOO_API_KEY_FILE) and that the key belongs to the organisation")
		return
	case err != nil:
		d.fail("Partoo API", fmt.Sprintf("GET %s/conversations failed: %v", cfg.PartooAPIURL, err), "check PARTOO_API_URL and the network path to it")
		return
	}
	d.pass("Partoo API key", "accepted by "+cfg.PartooAPIURL)

	// Listing order, judged as the scheduler judges it: recency lets discovery read page 1 only.
	var sample *model.Conversation
	for i := range page.Conversations {
		if page.Conversations[i].LastMessage != nil {
			sample = &page.Conversations[i]
			break
		}
	}
	order := schedule.RecencyOf(page.Conversations, schedule.DefaultRecencyTolerance)
	switch {
	case len(page.Conversations) == 0:
		d.warn("listing order", "the organisation has no conversation yet (or PARTOO_BUSINESS_IDS filters them all)", "nothing to check")
	case order.WithLast == 0:
		d.warn("listing order", "conversations come without last_message", "discovery then relies on rank moves on page 1 and reconciliation (slower); webhooks help")
	case order.Pairs < 3:
		d.pass("listing order", fmt.Sprintf("too few conversations (%d) to tell", len(page.Conversations)))
	case order.Ordered(schedule.DefaultRecencyThreshold):
		d.pass("listing order", "by recent activity: discovery reads page 1 only")
	default:
		d.warn("listing order", fmt.Sprintf("not by recent activity (%d of %d pairs descend)", order.Descending, order.Pairs), "discovery must read every page of the listing: slower freshness on large organisations")
	}

	// Message page order and the field types of a sample.
	messages := 0
	if sample != nil {
		mp, err := client.ListMessages(ctx, sample.ID, 20, "")
		if err != nil {
			d.fail("messages", fmt.Sprintf("GET /messages?conversation_id=%d failed: %v", sample.ID, err), "the key may lack access to messages")
		} else {
			messages = len(mp.Messages)
			order := "unordered"
			if n := len(mp.Messages); n >= 2 {
				first, last := mp.Messages[0].Date.Time, mp.Messages[n-1].Date.Time
				switch {
				case !first.After(last):
					order = "oldest first"
				case !first.Before(last):
					order = "newest first"
				}
			}
			d.pass("message page order", fmt.Sprintf("%s (%d messages on page 1 of conversation %d)", order, messages, sample.ID))
		}
	}
	obs.mu.Lock()
	skipped := obs.skipped
	var durs []time.Duration
	for _, a := range obs.list {
		if a.Err == nil {
			durs = append(durs, a.Duration)
		}
	}
	limited := obs.limited
	obs.mu.Unlock()
	if len(skipped) == 0 {
		d.pass("field types", fmt.Sprintf("%d conversations and %d messages decoded as expected", len(page.Conversations), messages))
	} else {
		var kinds []string
		for k, n := range skipped {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(kinds)
		d.warn("field types", "some items do not decode: "+strings.Join(kinds, ", "), "the connector skips and counts them (partoo_connector_api_items_skipped_total); report the API's change")
	}
	if len(durs) > 0 {
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		med := durs[len(durs)/2]
		msg := fmt.Sprintf("%s median over %d requests", med.Round(time.Millisecond), len(durs))
		if med > 2*time.Second {
			d.warn("latency", msg, "slow answers: the connector keeps more walks in flight (PARTOO_MAX_IN_FLIGHT caps them)")
		} else {
			d.pass("latency", msg)
		}
	}
	rate := float64(cfg.PartooRequestsPerMinute) * (1 - cfg.PartooBudgetReserve)
	if limited > 0 {
		d.warn("budget", fmt.Sprintf("Partoo answered 429 to the doctor's few requests: another client is using the organisation's %d requests/minute", cfg.PartooRequestsPerMinute),
			"raise PARTOO_BUDGET_RESERVE to leave it room")
	} else {
		d.pass("budget", fmt.Sprintf("%.0f requests/minute for the connector (PARTOO_REQUESTS_PER_MINUTE %d less PARTOO_BUDGET_RESERVE %.0f %%)",
			rate, cfg.PartooRequestsPerMinute, 100*cfg.PartooBudgetReserve))
	}
}

func (d *doctor) kafka(ctx context.Context, cfg *config.Config, kopts []kgo.Opt) {
	brokers := strings.Join(cfg.KafkaBrokers, ",")
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		d.fail("Kafka", err.Error(), "")
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	kctx, cancel := context.WithTimeout(ctx, doctorKafkaTimeout)
	defer cancel()
	versions, err := adm.ApiVersions(kctx)
	if err != nil {
		d.fail("Kafka", fmt.Sprintf("%s did not answer (waited up to %s): %v", brokers, doctorKafkaTimeout, err), "check KAFKA_BROKERS, KAFKA_TLS_* and KAFKA_SASL_*, and the network path")
		return
	}
	var guesses []string
	answered := 0
	versions.Each(func(v kadm.BrokerApiVersions) {
		if v.Err == nil {
			answered++
			guesses = append(guesses, v.VersionGuess())
		}
	})
	if answered == 0 {
		d.fail("Kafka", fmt.Sprintf("no broker of %s answered", brokers), "check KAFKA_BROKERS and the TLS/SASL settings")
		return
	}
	sort.Strings(guesses)
	d.pass("Kafka", fmt.Sprintf("%d broker(s) answer at %s; version %s", answered, brokers, guesses[0]))

	topics := []struct {
		name, role string
		check      func(string, string) error
	}{
		{cfg.KafkaEventsTopic, "events", state.CheckEventsPolicy},
		{cfg.KafkaStateTopic, "state", state.CheckStatePolicy},
	}
	listed, err := adm.ListTopics(kctx, cfg.KafkaEventsTopic, cfg.KafkaStateTopic)
	if err != nil {
		d.fail("topics", err.Error(), "the user needs Describe on both topics")
		return
	}
	stateExists := false
	for _, tp := range topics {
		name := "topic " + tp.name
		td, ok := listed[tp.name]
		switch {
		case ok && errors.Is(td.Err, kerr.TopicAuthorizationFailed):
			d.fail(name, "not authorized to describe it", "grant the ACLs of docs/configuration.md (Describe, DescribeConfigs, Write, and Read on the state topic)")
			continue
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			d.pass(name, "absent: the connector creates it at start ("+tp.role+" topic; needs Create)")
			continue
		case td.Err != nil:
			d.fail(name, td.Err.Error(), "")
			continue
		}
		cfgs, err := adm.DescribeTopicConfigs(kctx, tp.name)
		var rc kadm.ResourceConfig
		if err == nil {
			rc, err = cfgs.On(tp.name, nil)
			if err == nil {
				err = rc.Err
			}
		}
		if err != nil {
			d.fail(name, "cannot read its configuration: "+err.Error(), "the user needs DescribeConfigs on the topic")
			continue
		}
		conf := map[string]string{"cleanup.policy": "delete"}
		for _, c := range rc.Configs {
			conf[c.Key] = c.MaybeValue()
		}
		if err := tp.check(tp.name, conf["cleanup.policy"]); err != nil {
			d.fail(name, err.Error(), "")
			continue
		}
		msg := fmt.Sprintf("%s topic, %d partitions, cleanup.policy=%s", tp.role, len(td.Partitions), conf["cleanup.policy"])
		if tp.role == "events" {
			if mb, err := strconv.Atoi(conf["max.message.bytes"]); err == nil {
				limit := min(mb, engine.ProducerMaxBytes)
				msg += fmt.Sprintf(", max.message.bytes=%d (an event over %d bytes is published with its content cut to fit, flagged content_truncated_from)", mb, limit)
			}
		}
		if tp.role == "events" && conf["retention.ms"] != "-1" {
			ms, _ := strconv.ParseInt(conf["retention.ms"], 10, 64)
			d.warn(name, msg+fmt.Sprintf(", retention %s", time.Duration(ms)*time.Millisecond), "events older than that expire: a replay from offset 0 misses them (retention.ms=-1 keeps them)")
			continue
		}
		if tp.role == "state" {
			stateExists = true
		}
		d.pass(name, msg)
	}
	if stateExists {
		d.readState(ctx, kopts, cfg.KafkaStateTopic)
	}

	txn := cfg.KafkaTransactionalID
	described, err := adm.DescribeTransactions(kctx, txn)
	dt, onErr := described.On(txn, nil)
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(onErr, kerr.TransactionalIDAuthorizationFailed) || errors.Is(dt.Err, kerr.TransactionalIDAuthorizationFailed):
		d.fail("transactional id "+txn, "not authorized", "grant Describe and Write on the transactionalId (the ACL table of docs/configuration.md)")
	case errors.Is(dt.Err, kerr.TransactionalIDNotFound) || (err == nil && onErr != nil):
		d.pass("transactional id "+txn, "unused so far")
	case err != nil || dt.Err != nil:
		d.warn("transactional id "+txn, fmt.Sprintf("cannot describe it: %v %v", err, dt.Err), "")
	default:
		// Whether a connector of this id runs, judged as rebuild-state judges it: members of its
		// groups, or a transaction open, started while watching, or recent — not one instant.
		if live := noLiveConnector(kctx, adm, &cfg.KafkaConfig, 3*time.Second); live != nil {
			d.warn("transactional id "+txn, "in use: "+live.Error(),
				"if that is not this deployment's running instance, two deployments share the id and will fence each other: set KAFKA_TRANSACTIONAL_ID")
		} else {
			d.pass("transactional id "+txn, "idle ("+dt.State+"): no connector of this id runs")
		}
	}
}

// readState checks Read on the state topic by fetching from its first partition.
func (d *doctor) readState(ctx context.Context, kopts []kgo.Opt, topic string) {
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		d.fail("read "+topic, err.Error(), "")
		return
	}
	defer cl.Close()
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	fs := cl.PollFetches(fctx)
	var denied error
	fs.EachError(func(_ string, _ int32, err error) {
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			denied = err
		}
	})
	if denied != nil {
		d.fail("read "+topic, "not authorized to read the state topic", "grant Read on it: the connector restores its state from it at every start")
		return
	}
	d.pass("read "+topic, "the state can be read back")
}

func (d *doctor) registry(ctx context.Context, cfg *config.Config, rcfg registry.Config) {
	if rcfg.URL == "" {
		d.pass("schema registry", "not set: event values are Avro single-object encoded")
		return
	}
	reg, err := registry.New(rcfg)
	if err != nil {
		d.fail("schema registry", err.Error(), "")
		return
	}
	codec, err := events.NewCodec()
	if err != nil {
		d.fail("schema registry", err.Error(), "")
		return
	}
	for _, s := range codec.Schemas() {
		subject := reg.Subject(cfg.KafkaEventsTopic, s.FullName)
		res, err := reg.Client().CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: s.Text, Type: sr.TypeAvro})
		var re *sr.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == 40401:
			d.pass("schema registry "+subject, "new subject: registered at the first start")
		case errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden):
			d.fail("schema registry", fmt.Sprintf("%s rejected the credentials (HTTP %d)", reg.URL(), re.StatusCode), "check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD")
			return
		case err != nil:
			d.fail("schema registry", fmt.Sprintf("%s: %v", reg.URL(), err), "check SCHEMA_REGISTRY_URL (Apicurio: .../apis/ccompat/v7) and the network path")
			return
		case !res.Is:
			d.fail("schema registry "+subject, "our schema is incompatible with the subject's latest version: "+strings.Join(res.Messages, "; "),
				"the connector would stop at start; change the subject's compatibility or use another topic or SCHEMA_REGISTRY_SUBJECT_STRATEGY")
		default:
			d.pass("schema registry "+subject, "our schema is compatible with the subject (or the subject is new)")
		}
	}
}
