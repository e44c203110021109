// Package config reads the connector's configuration from the environment: one variable per
// setting, documented in the struct tags (the table of docs/configuration.md is generated from them). Load
// reads every variable, treats an empty one as unset (Kubernetes and compose files often set
// variables to ""), never changes the process environment, and reports every wrong variable at
// once. Only this package and the commands know environment variable names.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// Config is the service's configuration, read from the environment. The `desc` tags are the
// configuration table of docs/configuration.md (a test keeps the two in sync).
type Config struct {
	PartooAPIURL            string        `envconfig:"PARTOO_API_URL" default:"https://api.partoo.co/v2" desc:"Partoo API base URL, up to /v2"`
	PartooAPIKey            secret.Secret `envconfig:"PARTOO_API_KEY" desc:"Partoo API key (required unless PARTOO_API_KEY_FILE is set); never logged"`
	PartooAPIKeyFile        string        `envconfig:"PARTOO_API_KEY_FILE" desc:"file holding the API key, e.g. a mounted Kubernetes Secret"`
	PartooRequestsPerMinute int           `envconfig:"PARTOO_REQUESTS_PER_MINUTE" default:"300" desc:"the organisation's rate limit; the connector never exceeds it"`
	PartooBudgetReserve     float64       `envconfig:"PARTOO_BUDGET_RESERVE" default:"0.1" desc:"share of the rate left unused for the organisation's other integrations, 0 to 0.9; the rate also drops by 30 % on each unexpected 429 and recovers by 5 % every 30 s"`
	PartooStartupTimeout    time.Duration `envconfig:"PARTOO_STARTUP_TIMEOUT" default:"2m" desc:"how long the start waits for PARTOO_API_URL's host to be reachable before it exits naming the variable (a 404 or non-JSON answer exits at once)"`
	PartooRequestTimeout    time.Duration `envconfig:"PARTOO_REQUEST_TIMEOUT" default:"30s" desc:"longest wait for one answer (then the attempt fails as a timeout and is retried)"`
	PartooRequestAttempts   int           `envconfig:"PARTOO_REQUEST_ATTEMPTS" default:"6" desc:"attempts of one request before its walk counts as failed (429, 5xx, timeouts, unusable bodies); every failed attempt is logged and counted"`
	PartooMaxInFlight       int           `envconfig:"PARTOO_MAX_IN_FLIGHT" default:"16" desc:"most walks in flight at once; background work is held to about what the budget can use at the observed latency (rate × latency), walks for fresh changes may use the rest"`
	PartooPerPage           int           `envconfig:"PARTOO_PER_PAGE" default:"100" desc:"page size of walks, 1..100"`
	PartooBusinessIDs       []string      `envconfig:"PARTOO_BUSINESS_IDS" desc:"comma-separated business ids to limit discovery to (business__in), sent verbatim, e.g. 5409c35a97bbc544d8e26737"`
	PartooConversationIDs   []int64       `envconfig:"PARTOO_CONVERSATION_IDS" desc:"comma-separated conversation ids to walk instead of discovering them"`

	KafkaConfig

	SchemaRegistryURL             string        `envconfig:"SCHEMA_REGISTRY_URL" desc:"Confluent-compatible schema registry (Confluent, Confluent Cloud, Apicurio's /apis/ccompat/v7, Redpanda, Karapace); when set, event values use the Confluent wire format (byte 0, 4-byte schema id, Avro body) and the schemas are registered at start; empty: Avro single-object encoding"`
	SchemaRegistryUsername        string        `envconfig:"SCHEMA_REGISTRY_USERNAME" desc:"basic auth user (Confluent Cloud: the API key)"`
	SchemaRegistryPassword        secret.Secret `envconfig:"SCHEMA_REGISTRY_PASSWORD" desc:"basic auth password (Confluent Cloud: the API secret); never logged"`
	SchemaRegistryCAFile          string        `envconfig:"SCHEMA_REGISTRY_CA_FILE" desc:"PEM CA bundle to verify an https registry (default: system roots)"`
	SchemaRegistrySubjectStrategy string        `envconfig:"SCHEMA_REGISTRY_SUBJECT_STRATEGY" default:"topic-record" desc:"subject names: topic-record (<topic>-<record full name>, Confluent's TopicRecordNameStrategy) or record (<record full name>, RecordNameStrategy)"`

	StateOnCorrupt string `envconfig:"STATE_ON_CORRUPT" default:"fail" desc:"a state record that cannot be decoded at start: fail (stop, naming topic, partition, offset and key) or rewalk (forget those conversations; their messages are re-emitted as snapshots with the same event_ids)"`

	VanishAfterWalks         int           `envconfig:"VANISH_AFTER_WALKS" default:"2" desc:"complete walks a message must be absent from before MessageDeleted(Vanished)"`
	PartooVanishConfirmAfter time.Duration `envconfig:"PARTOO_VANISH_CONFIRM_AFTER" default:"5m" desc:"least time between the first complete walk that misses a message and the one that reports it MessageDeleted(Vanished): one glitch, however consistent, is never enough; 0: walks only"`

	Scheduler                  string          `envconfig:"SCHEDULER" default:"smart" desc:"smart (discovery, Sending re-walks, Instagram checks, reconciliation) or sweep (every conversation in turn)"`
	SchedulerDiscoveryInterval time.Duration   `envconfig:"SCHEDULER_DISCOVERY_INTERVAL" default:"2s" desc:"how often the smart scheduler reads /conversations page 1"`
	SchedulerSendingMaxBackoff time.Duration   `envconfig:"SCHEDULER_SENDING_MAX_BACKOFF" default:"30s" desc:"longest delay between re-walks of a conversation with a message in Sending"`
	SchedulerInstagramChecks   []time.Duration `envconfig:"SCHEDULER_INSTAGRAM_CHECKS" default:"1m,5m,30m" desc:"delays after activity at which an Instagram conversation is re-walked to catch deletions"`
	SchedulerReconcileShare    float64         `envconfig:"SCHEDULER_RECONCILE_SHARE" default:"0.2" desc:"least share of the budget's rate reconciliation gets while it has work, however busy the rest: at saturation a pass over N conversations takes at most about N ÷ (share × rate)"`
	SchedulerReconcilePeriod   time.Duration   `envconfig:"SCHEDULER_RECONCILE_PERIOD" default:"0s" desc:"target duration of a reconciliation pass over every conversation; a pass that ends sooner pauses until the period is over; 0: as fast as the budget allows"`
	WebhookAuthHeader          string          `envconfig:"WEBHOOK_AUTH_HEADER" default:"X-Auth-Token" desc:"custom header Partoo's webhook sends with WEBHOOK_SECRET"`
	WebhookSecret              secret.Secret   `envconfig:"WEBHOOK_SECRET" desc:"enables POST /webhooks/partoo; requests without this header value get 401; never logged"`
	WebhookMaxBodyBytes        int64           `envconfig:"WEBHOOK_MAX_BODY_BYTES" default:"1048576" desc:"largest webhook body accepted (413 beyond)"`
	HTTPAddr                   string          `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /metrics, /healthz, /readyz, /status and the webhook receiver"`
	LogLevel                   string          `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat                  string          `envconfig:"LOG_FORMAT" default:"json" desc:"json or text"`
	LogSummaryInterval         time.Duration   `envconfig:"LOG_SUMMARY_INTERVAL" default:"1m" desc:"how often one INFO line summarises progress (walks, events, requests, budget use, errors, snapshot progress); 0: never"`
}

// KafkaConfig is the Kafka part of Config, also used alone by `partoo-connector tail`.
type KafkaConfig struct {
	KafkaBrokers             []string      `envconfig:"KAFKA_BROKERS" desc:"comma-separated bootstrap brokers (required)"`
	KafkaEventsTopic         string        `envconfig:"KAFKA_EVENTS_TOPIC" default:"partoo.messages.events" desc:"events topic; created if absent (cleanup.policy=delete, retention.ms=-1)"`
	KafkaStateTopic          string        `envconfig:"KAFKA_STATE_TOPIC" default:"partoo.messages.state" desc:"state topic; created if absent (cleanup.policy=compact); refused if not compacted"`
	KafkaTransactionalID     string        `envconfig:"KAFKA_TRANSACTIONAL_ID" desc:"transactional.id; a second instance with the same id fences the first. Default: partoo-connector-<KAFKA_STATE_TOPIC>, so deployments with their own state topics (two organisations, staging and production) never fence each other"`
	KafkaTransactionTimeout  time.Duration `envconfig:"KAFKA_TRANSACTION_TIMEOUT" default:"60s" desc:"transaction.timeout.ms: how long the broker keeps a stalled transaction open before aborting it; at most the broker's transaction.max.timeout.ms (15m by default)"`
	KafkaStartupTimeout      time.Duration `envconfig:"KAFKA_STARTUP_TIMEOUT" default:"5m" desc:"how long the start waits for Kafka (creating or checking the topics, registering the transactional id) while it does not answer or answers with retriable errors, as a fresh broker's transaction coordinator does while it loads; retried with back-off and logged once a minute, then the connector exits"`
	KafkaOnMissingState      string        `envconfig:"KAFKA_ON_MISSING_STATE" default:"exit" desc:"when a topic disappears while running (deleted, or the cluster came back empty): exit (non-zero, naming it) or recreate (recreate the topics and re-snapshot every conversation)"`
	KafkaLeaderElection      bool          `envconfig:"KAFKA_LEADER_ELECTION" default:"false" desc:"run several replicas safely: one active writer, elected through a consumer group (<transactional id>.lease) on a one-partition topic (<state topic>.lease); the others are hot standbys that take over when it dies or stops"`
	KafkaLeaseSessionTimeout time.Duration `envconfig:"KAFKA_LEASE_SESSION_TIMEOUT" default:"6s" desc:"with KAFKA_LEADER_ELECTION: how long a silent active instance keeps the lease before a standby takes over; at least the broker's group.min.session.timeout.ms (6s by default)"`
	KafkaEventsPartitions    int32         `envconfig:"KAFKA_EVENTS_PARTITIONS" default:"6" desc:"partitions of the events topic when the connector creates it"`
	KafkaStatePartitions     int32         `envconfig:"KAFKA_STATE_PARTITIONS" default:"6" desc:"partitions of the state topic when the connector creates it"`
	KafkaReplicationFactor   int16         `envconfig:"KAFKA_REPLICATION_FACTOR" default:"-1" desc:"replication factor of created topics; -1 takes the broker's default"`
	KafkaTLSEnabled          bool          `envconfig:"KAFKA_TLS_ENABLED" default:"false" desc:"connect to Kafka with TLS"`
	KafkaTLSCAFile           string        `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM CA bundle to verify the brokers (default: system roots)"`
	KafkaTLSCertFile         string        `envconfig:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate for mutual TLS"`
	KafkaTLSKeyFile          string        `envconfig:"KAFKA_TLS_KEY_FILE" desc:"PEM client key for mutual TLS"`
	KafkaSASLMechanism       string        `envconfig:"KAFKA_SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none"`
	KafkaSASLUsername        string        `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user name"`
	KafkaSASLPassword        secret.Secret `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password; never logged"`
}

// Error names the variable at fault. Its message never contains a secret's value.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// Errors are every problem Load found, one per variable, in declaration order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and validates the configuration from the environment. On failure the error is
// an Errors listing every wrong variable.
func Load() (*Config, error) {
	var c Config
	errs := parse(&c)
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, sorted(errs, Vars())
	}
	return &c, nil
}

// LoadKafka reads and validates only the Kafka variables (for partoo-connector tail).
func LoadKafka() (*KafkaConfig, error) {
	var c KafkaConfig
	errs := parse(&c)
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, sorted(errs, KafkaVars())
	}
	return &c, nil
}

// unsetKey is a variable name nobody sets: parsing a field under it yields its default.
const unsetKey = "PARTOO_CONNECTOR_CONFIG_UNSET__"

// parse fills spec field by field with envconfig, so that an empty variable takes its default
// without touching the environment, and every field that does not parse is reported.
func parse(spec any) Errors {
	var errs Errors
	eachField(reflect.ValueOf(spec).Elem(), func(f reflect.StructField, v reflect.Value) {
		name := f.Tag.Get("envconfig")
		tag := f.Tag
		if raw, ok := os.LookupEnv(name); !ok || strings.TrimSpace(raw) == "" {
			tag = reflect.StructTag(fmt.Sprintf(`envconfig:%q default:%q`, unsetKey, f.Tag.Get("default")))
		}
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: tag}}))
		if err := envconfig.Process("", one.Interface()); err != nil {
			errs = append(errs, &Error{Var: name, Problem: "cannot parse as " + describeType(f.Type.String())})
			return
		}
		v.Set(one.Elem().Field(0))
	})
	return errs
}

func eachField(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			eachField(v.Field(i), fn)
			continue
		}
		fn(f, v.Field(i))
	}
}

// sorted orders errors by the variables' declaration order, one per variable.
func sorted(errs Errors, vars []Var) Errors {
	pos := map[string]int{}
	for i, v := range vars {
		pos[v.Name] = i
	}
	seen := map[string]bool{}
	out := make(Errors, 0, len(errs))
	for _, e := range errs {
		if !seen[e.Var] {
			seen[e.Var] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return pos[out[i].Var] < pos[out[j].Var] })
	return out
}

func describeType(t string) string {
	if i := strings.LastIndexByte(t, '.'); i >= 0 && !strings.HasPrefix(t, "[]") {
		t = t[i+1:]
	}
	switch t {
	case "int", "int16", "int32", "int64":
		return "an integer"
	case "bool":
		return "a boolean (true or false)"
	case "[]int64":
		return "a comma-separated list of integers"
	case "float64", "float32":
		return "a number such as 0.1"
	case "Duration":
		return "a duration such as 2s or 1m"
	case "[]string":
		return "a comma-separated list"
	case "[]time.Duration", "[]Duration":
		return "a comma-separated list of durations such as 1m,5m"
	}
	return t
}

// validate checks every setting and returns one error per wrong variable.
func (c *Config) validate() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	errs = append(errs, c.validateRegistry()...)
	if c.PartooAPIKeyFile != "" {
		if !c.PartooAPIKey.IsZero() {
			bad("PARTOO_API_KEY_FILE", "set together with PARTOO_API_KEY; set only one")
		} else if b, err := os.ReadFile(c.PartooAPIKeyFile); err != nil {
			bad("PARTOO_API_KEY_FILE", "cannot read the file: "+describeFileErr(err))
		} else if key := strings.TrimSpace(string(b)); key == "" {
			bad("PARTOO_API_KEY_FILE", "the file is empty")
		} else {
			c.PartooAPIKey = secret.New(key)
		}
	} else if c.PartooAPIKey.IsZero() {
		bad("PARTOO_API_KEY", "required (or PARTOO_API_KEY_FILE)")
	}
	switch u, err := url.Parse(c.PartooAPIURL); {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("PARTOO_API_URL", "must be an absolute http(s) URL, e.g. https://api.partoo.co/v2")
	case u.User != nil:
		bad("PARTOO_API_URL", "must not hold credentials (they would be logged): the key goes in PARTOO_API_KEY")
	case u.RawQuery != "" || u.Fragment != "":
		bad("PARTOO_API_URL", "must not have a query or fragment")
	}
	if err := checkHostPort(c.HTTPAddr, true); err != nil {
		bad("HTTP_ADDR", err.Error()+", e.g. :8080 or 127.0.0.1:8080")
	}
	if c.PartooRequestsPerMinute < 1 {
		bad("PARTOO_REQUESTS_PER_MINUTE", "must be at least 1")
	}
	if c.PartooBudgetReserve < 0 || c.PartooBudgetReserve > 0.9 {
		bad("PARTOO_BUDGET_RESERVE", "must be between 0 and 0.9 (a share of the rate)")
	}
	if c.PartooStartupTimeout < time.Second {
		bad("PARTOO_STARTUP_TIMEOUT", "must be at least 1s")
	}
	if c.PartooRequestTimeout < 100*time.Millisecond {
		bad("PARTOO_REQUEST_TIMEOUT", "must be at least 100ms")
	}
	if c.PartooRequestAttempts < 1 || c.PartooRequestAttempts > 20 {
		bad("PARTOO_REQUEST_ATTEMPTS", "must be between 1 and 20")
	}
	if c.PartooMaxInFlight < 1 || c.PartooMaxInFlight > 256 {
		bad("PARTOO_MAX_IN_FLIGHT", "must be between 1 and 256")
	}
	if c.PartooPerPage < 1 || c.PartooPerPage > 100 {
		bad("PARTOO_PER_PAGE", "must be between 1 and 100")
	}
	ids := c.PartooBusinessIDs[:0]
	for _, id := range c.PartooBusinessIDs {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	c.PartooBusinessIDs = ids
	errs = append(errs, c.KafkaConfig.validate()...)
	if c.StateOnCorrupt != "fail" && c.StateOnCorrupt != "rewalk" {
		bad("STATE_ON_CORRUPT", "must be fail or rewalk")
	}
	if c.VanishAfterWalks < 1 {
		bad("VANISH_AFTER_WALKS", "must be at least 1")
	}
	if c.PartooVanishConfirmAfter < 0 {
		bad("PARTOO_VANISH_CONFIRM_AFTER", "must not be negative")
	}
	if c.Scheduler != "smart" && c.Scheduler != "sweep" {
		bad("SCHEDULER", "must be smart or sweep")
	}
	if c.SchedulerDiscoveryInterval < 100*time.Millisecond {
		bad("SCHEDULER_DISCOVERY_INTERVAL", "must be at least 100ms")
	}
	if c.SchedulerSendingMaxBackoff < time.Second {
		bad("SCHEDULER_SENDING_MAX_BACKOFF", "must be at least 1s")
	}
	for _, d := range c.SchedulerInstagramChecks {
		if d <= 0 {
			bad("SCHEDULER_INSTAGRAM_CHECKS", "durations must be positive")
			break
		}
	}
	if c.SchedulerReconcileShare <= 0 || c.SchedulerReconcileShare > 1 {
		bad("SCHEDULER_RECONCILE_SHARE", "must be above 0 and at most 1")
	}
	if c.SchedulerReconcilePeriod < 0 {
		bad("SCHEDULER_RECONCILE_PERIOD", "must not be negative")
	}
	if !c.WebhookSecret.IsZero() && !strings.HasPrefix(strings.ToLower(c.WebhookAuthHeader), "x-") {
		bad("WEBHOOK_AUTH_HEADER", "must start with X- (Partoo's custom headers do)")
	}
	if c.WebhookMaxBodyBytes < 1024 {
		bad("WEBHOOK_MAX_BODY_BYTES", "must be at least 1024")
	}
	if _, err := c.SlogLevel(); err != nil {
		bad("LOG_LEVEL", err.Error())
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "must be json or text")
	}
	if c.LogSummaryInterval < 0 || (c.LogSummaryInterval > 0 && c.LogSummaryInterval < time.Second) {
		bad("LOG_SUMMARY_INTERVAL", "must be 0 (never) or at least 1s")
	}
	return errs
}

// DefaultTransactionalID is the transactional id of a deployment that sets none: derived from
// its state topic, which is what makes a deployment distinct (two deployments sharing a state
// topic would corrupt each other's state anyway).
func DefaultTransactionalID(stateTopic string) string { return "partoo-connector-" + stateTopic }

// validateRegistry checks the SCHEMA_REGISTRY_* variables.
func (c *Config) validateRegistry() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	if c.SchemaRegistrySubjectStrategy != registry.StrategyTopicRecord && c.SchemaRegistrySubjectStrategy != registry.StrategyRecord {
		bad("SCHEMA_REGISTRY_SUBJECT_STRATEGY", "must be topic-record or record")
	}
	if c.SchemaRegistryURL == "" {
		if c.SchemaRegistryUsername != "" || !c.SchemaRegistryPassword.IsZero() || c.SchemaRegistryCAFile != "" {
			bad("SCHEMA_REGISTRY_URL", "required when SCHEMA_REGISTRY_USERNAME, _PASSWORD or _CA_FILE is set")
		}
		return errs
	}
	u, err := url.Parse(c.SchemaRegistryURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL, e.g. http://registry:8081")
	case u.User != nil:
		bad("SCHEMA_REGISTRY_URL", "must not hold credentials: set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD")
	case u.RawQuery != "" || u.Fragment != "":
		bad("SCHEMA_REGISTRY_URL", "must not have a query or fragment")
	case c.SchemaRegistryCAFile != "" && u.Scheme != "https":
		bad("SCHEMA_REGISTRY_CA_FILE", "set but SCHEMA_REGISTRY_URL is not https")
	}
	if (c.SchemaRegistryUsername == "") != c.SchemaRegistryPassword.IsZero() {
		bad("SCHEMA_REGISTRY_PASSWORD", "SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together")
	}
	return errs
}

// Registry returns the schema registry settings (a zero URL: no registry), reading the CA file.
func (c *Config) Registry() (registry.Config, error) {
	rc := registry.Config{URL: c.SchemaRegistryURL, Username: c.SchemaRegistryUsername,
		Password: c.SchemaRegistryPassword, SubjectStrategy: c.SchemaRegistrySubjectStrategy}
	if c.SchemaRegistryCAFile != "" {
		pool, err := readCAFile("SCHEMA_REGISTRY_CA_FILE", c.SchemaRegistryCAFile)
		if err != nil {
			return registry.Config{}, err
		}
		rc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return rc, nil
}

// readCAFile reads a PEM CA bundle named by the variable name.
func readCAFile(name, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{name, "cannot read the file: " + describeFileErr(err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &Error{name, "no PEM certificate in the file"}
	}
	return pool, nil
}

// validate checks the Kafka settings and returns one error per wrong variable.
func (c *KafkaConfig) validate() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	if len(c.KafkaBrokers) == 0 {
		bad("KAFKA_BROKERS", "required (comma-separated host:port)")
	}
	for _, b := range c.KafkaBrokers {
		if i := strings.LastIndex(b, "@"); i >= 0 {
			bad("KAFKA_BROKERS", fmt.Sprintf("%q holds credentials: give host:port, and the user in KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD", "…@"+b[i+1:]))
			break
		}
		if strings.Contains(b, "://") {
			bad("KAFKA_BROKERS", fmt.Sprintf("%q has a scheme: give host:port (the protocol is set by KAFKA_TLS_ENABLED and KAFKA_SASL_MECHANISM)", b))
			break
		}
		if err := checkHostPort(b, false); err != nil {
			bad("KAFKA_BROKERS", fmt.Sprintf("%q: %v", b, err))
			break
		}
	}
	if c.KafkaEventsTopic == "" || c.KafkaStateTopic == "" || c.KafkaEventsTopic == c.KafkaStateTopic {
		bad("KAFKA_STATE_TOPIC", "events and state topics must be set and different")
	}
	if c.KafkaTransactionalID == "" {
		c.KafkaTransactionalID = DefaultTransactionalID(c.KafkaStateTopic)
	}
	if c.KafkaTransactionTimeout < time.Second || c.KafkaTransactionTimeout > 15*time.Minute {
		bad("KAFKA_TRANSACTION_TIMEOUT", "must be between 1s and 15m (the broker's transaction.max.timeout.ms default)")
	}
	if c.KafkaStartupTimeout < 10*time.Second || c.KafkaStartupTimeout > time.Hour {
		bad("KAFKA_STARTUP_TIMEOUT", "must be between 10s and 1h")
	}
	if c.KafkaOnMissingState != "exit" && c.KafkaOnMissingState != "recreate" {
		bad("KAFKA_ON_MISSING_STATE", "must be exit or recreate")
	}
	if c.KafkaLeaseSessionTimeout < time.Second || c.KafkaLeaseSessionTimeout > 5*time.Minute {
		bad("KAFKA_LEASE_SESSION_TIMEOUT", "must be between 1s and 5m")
	}
	if c.KafkaEventsPartitions < 1 {
		bad("KAFKA_EVENTS_PARTITIONS", "must be at least 1")
	}
	if c.KafkaStatePartitions < 1 {
		bad("KAFKA_STATE_PARTITIONS", "must be at least 1")
	}
	if (c.KafkaTLSCertFile == "") != (c.KafkaTLSKeyFile == "") {
		bad("KAFKA_TLS_KEY_FILE", "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together")
	}
	if !c.KafkaTLSEnabled && (c.KafkaTLSCAFile != "" || c.KafkaTLSCertFile != "") {
		bad("KAFKA_TLS_ENABLED", "TLS files are set but KAFKA_TLS_ENABLED is false")
	}
	switch strings.ToUpper(c.KafkaSASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		c.KafkaSASLMechanism = strings.ToUpper(c.KafkaSASLMechanism)
		if c.KafkaSASLUsername == "" {
			bad("KAFKA_SASL_USERNAME", "required with KAFKA_SASL_MECHANISM")
		}
		if c.KafkaSASLPassword.IsZero() {
			bad("KAFKA_SASL_PASSWORD", "required with KAFKA_SASL_MECHANISM")
		}
	default:
		bad("KAFKA_SASL_MECHANISM", fmt.Sprintf("%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.KafkaSASLMechanism))
	}
	return errs
}

// checkHostPort checks a host:port address; emptyHost allows ":8080" (every interface).
func checkHostPort(addr string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" && !emptyHost {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", addr)
	}
	return nil
}

func describeFileErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// SlogLevel parses LOG_LEVEL.
func (c *Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}

// KafkaOpts returns the connection options (brokers, TLS, SASL) shared by every client.
func (c *KafkaConfig) KafkaOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.KafkaBrokers...)}
	if c.KafkaTLSEnabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.KafkaTLSCAFile != "" {
			pool, err := readCAFile("KAFKA_TLS_CA_FILE", c.KafkaTLSCAFile)
			if err != nil {
				return nil, err
			}
			tc.RootCAs = pool
		}
		if c.KafkaTLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.KafkaTLSCertFile, c.KafkaTLSKeyFile)
			if err != nil {
				return nil, &Error{"KAFKA_TLS_CERT_FILE", "cannot load the certificate and key: " + err.Error()}
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	user, pass := c.KafkaSASLUsername, c.KafkaSASLPassword.Reveal()
	switch c.KafkaSASLMechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	}
	return opts, nil
}

// Var describes one environment variable.
type Var struct {
	Name, Default, Desc string
}

// Vars lists every variable Config reads, in declaration order.
func Vars() []Var { return vars(reflect.TypeOf(Config{})) }

// KafkaVars lists the variables KafkaConfig reads.
func KafkaVars() []Var { return vars(reflect.TypeOf(KafkaConfig{})) }

func vars(t reflect.Type) []Var {
	var out []Var
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, vars(f.Type)...)
			continue
		}
		out = append(out, Var{Name: f.Tag.Get("envconfig"), Default: f.Tag.Get("default"), Desc: f.Tag.Get("desc")})
	}
	return out
}
