// Package config reads the connector's configuration from the environment: one variable per
// setting, documented in the struct tags (the table of docs/configuration.md is generated from them). Load
// reads every variable, treats an empty one as unset (Kubernetes and compose files often set
// variables to ""), never changes the process environment, and reports every wrong variable at
// once. Only this package and the commands know environment variable names.
package config

import (
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// Config is the service's configuration, read from the environment. The `desc` tags are the
// configuration table of docs/configuration.md (a test keeps the two in sync). A default is
// the field's default tag, or for the settings in sharedDefaults the constant of the package
// that applies it.
type Config struct {
	PartooAPIURL              string        `envconfig:"PARTOO_API_URL" desc:"Partoo API base URL, up to /v2"`
	PartooAPIKey              secret.Secret `envconfig:"PARTOO_API_KEY" desc:"Partoo API key (required unless PARTOO_API_KEY_FILE is set); never logged"`
	PartooAPIKeyFile          string        `envconfig:"PARTOO_API_KEY_FILE" desc:"file holding the API key, e.g. a mounted Kubernetes Secret"`
	PartooRequestsPerMinute   int           `envconfig:"PARTOO_REQUESTS_PER_MINUTE" desc:"the organisation's rate limit; the connector never exceeds it"`
	PartooBudgetReserve       float64       `envconfig:"PARTOO_BUDGET_RESERVE" default:"0.1" desc:"share of the rate left unused for the organisation's other integrations, 0 to 0.9; the rate also drops by 30 % on each unexpected 429 and recovers by 5 % every 30 s"`
	PartooStartupTimeout      time.Duration `envconfig:"PARTOO_STARTUP_TIMEOUT" default:"2m" desc:"how long the start waits for PARTOO_API_URL's host to be reachable before it exits naming the variable (a 404 or non-JSON answer exits at once)"`
	PartooRequestTimeout      time.Duration `envconfig:"PARTOO_REQUEST_TIMEOUT" default:"30s" desc:"longest wait for one answer (then the attempt fails as a timeout and is retried)"`
	PartooRequestAttempts     int           `envconfig:"PARTOO_REQUEST_ATTEMPTS" default:"6" desc:"attempts of one request before its walk counts as failed (429, 5xx, timeouts, unusable bodies); every failed attempt is logged and counted"`
	PartooMaxInFlight         int           `envconfig:"PARTOO_MAX_IN_FLIGHT" desc:"most walks in flight at once; background work is held to about what the budget can use at the observed latency (rate × latency), walks for fresh changes may use the rest"`
	PartooPerPage             int           `envconfig:"PARTOO_PER_PAGE" default:"100" desc:"page size of walks, 1..100"`
	PartooBusinessIDs         []string      `envconfig:"PARTOO_BUSINESS_IDS" desc:"comma-separated business ids to limit discovery to (business__in), sent verbatim, e.g. 5409c35a97bbc544d8e26737"`
	PartooConversationIDs     []int64       `envconfig:"PARTOO_CONVERSATION_IDS" desc:"comma-separated conversation ids to walk instead of discovering them"`
	PartooOrgID               int64         `envconfig:"PARTOO_ORG_ID" desc:"the Partoo organisation id (org_id) read for: published as organization_id in every event and table row, and part of every event_id so that organisations whose conversation ids overlap never share one; empty: organization_id is null and event ids are those of earlier releases"`
	PartooOrganizationsFile   string        `envconfig:"PARTOO_ORGANIZATIONS_FILE" desc:"YAML or JSON file listing several organisations, each with its own key, budget, filters and webhook secret, run side by side with their own state, table topics and transactional id (docs/configuration.md, Several organisations); with it, PARTOO_API_KEY(_FILE), PARTOO_ORG_ID, PARTOO_BUSINESS_IDS, PARTOO_CONVERSATION_IDS and WEBHOOK_SECRET are set per organisation instead"`
	PartooOrganizationsReload time.Duration `envconfig:"PARTOO_ORGANIZATIONS_RELOAD_INTERVAL" default:"10s" desc:"with PARTOO_ORGANIZATIONS_FILE: how often the file (and the key files it names) is read again; an organisation added, removed or changed starts, stops or restarts without touching the others, and a file that does not validate is logged and ignored; 0: read at start only"`
	// Organizations are the organisations of PARTOO_ORGANIZATIONS_FILE, validated (none
	// without the file: the one-organisation case).
	Organizations []Organization

	PartooSharedKeyRequestsPerMinute int `envconfig:"PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE" default:"0" desc:"with PARTOO_ORGANIZATIONS_FILE: the limit of one API key that Partoo counts for all the organisations it reaches (a provider key); the organisations of the file using the same key then get at most this ÷ their number each (rounded down), a static split that holds across replicas without coordination (docs/configuration.md, Shared provider keys); 0: off, each organisation's budget is its own, as Partoo documents"`

	KafkaConfig

	SchemaRegistryURL             string        `envconfig:"SCHEMA_REGISTRY_URL" desc:"Confluent-compatible schema registry (Confluent, Confluent Cloud, Apicurio's /apis/ccompat/v7, Redpanda, Karapace); when set, event values use the Confluent wire format (byte 0, 4-byte schema id, Avro body) and the schemas are registered at start; empty: Avro single-object encoding"`
	SchemaRegistryUsername        string        `envconfig:"SCHEMA_REGISTRY_USERNAME" desc:"basic auth user (Confluent Cloud: the API key)"`
	SchemaRegistryPassword        secret.Secret `envconfig:"SCHEMA_REGISTRY_PASSWORD" desc:"basic auth password (Confluent Cloud: the API secret); never logged"`
	SchemaRegistryCAFile          string        `envconfig:"SCHEMA_REGISTRY_CA_FILE" desc:"PEM CA bundle to verify an https registry (default: system roots)"`
	SchemaRegistrySubjectStrategy string        `envconfig:"SCHEMA_REGISTRY_SUBJECT_STRATEGY" default:"topic-record" desc:"subject names: topic-record (<topic>-<record full name>, Confluent's TopicRecordNameStrategy) or record (<record full name>, RecordNameStrategy)"`

	StateOnCorrupt  string `envconfig:"STATE_ON_CORRUPT" default:"fail" desc:"a state record that cannot be decoded at start: fail (stop, naming topic, partition, offset and key) or rewalk (forget those conversations; their messages are re-emitted as snapshots with the same event_ids)"`
	StateOwnerCheck string `envconfig:"STATE_OWNER_CHECK" default:"fail" desc:"a state record written by another Partoo API key or organisation id (every state record names its owner): fail (stop before publishing anything, naming topic, partition and offset: another organisation's deployment shares the state topic) or adopt (a deliberate key rotation: restore it and rewrite it under this key; set it for one start)"`

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
	KafkaTransactionTimeout  time.Duration `envconfig:"KAFKA_TRANSACTION_TIMEOUT" desc:"transaction.timeout.ms: how long the broker keeps a stalled transaction open before aborting it; at most the broker's transaction.max.timeout.ms (15m by default)"`
	KafkaStartupTimeout      time.Duration `envconfig:"KAFKA_STARTUP_TIMEOUT" default:"5m" desc:"how long the start waits for Kafka (creating or checking the topics, registering the transactional id) while it does not answer or answers with retriable errors, as a fresh broker's transaction coordinator does while it loads; retried with back-off and logged once a minute, then the connector exits"`
	KafkaOnMissingState      string        `envconfig:"KAFKA_ON_MISSING_STATE" default:"exit" desc:"when a topic disappears while running (deleted, or the cluster came back empty): exit (non-zero, naming it) or recreate (recreate the topics and re-snapshot every conversation)"`
	KafkaLeaderElection      bool          `envconfig:"KAFKA_LEADER_ELECTION" default:"false" desc:"run several replicas safely: one active writer, elected through a consumer group (<transactional id>.lease) on a one-partition topic (<state topic>.lease); the others are hot standbys that take over when it dies or stops. With PARTOO_ORGANIZATIONS_FILE, the replicas share the organisations instead: each runs on one replica, spread within one of even, through the group <transactional id>.organizations on the topic <state topic>.organizations"`
	KafkaLeaseSessionTimeout time.Duration `envconfig:"KAFKA_LEASE_SESSION_TIMEOUT" default:"6s" desc:"with KAFKA_LEADER_ELECTION: how long a silent active instance keeps the lease (or a silent replica its organisations) before a standby (another replica) takes over; at least the broker's group.min.session.timeout.ms (6s by default)"`
	KafkaCompression         string        `envconfig:"KAFKA_COMPRESSION" default:"zstd" desc:"codec of the record batches the connector produces: zstd, lz4, snappy, gzip or none; every consumer must be able to decode it (kafkajs decodes only gzip without a codec of its own); one pool of encoders serves every organisation"`
	KafkaClientID            string        `envconfig:"KAFKA_CLIENT_ID" default:"partoo-connector" desc:"client.id of the process's own Kafka client; each organisation's producer is <KAFKA_CLIENT_ID>.<organisation name> (one organisation: <KAFKA_CLIENT_ID>.<transactional id>), stable across restarts, for per-client quotas"`
	KafkaEventsPartitions    int32         `envconfig:"KAFKA_EVENTS_PARTITIONS" default:"6" desc:"partitions of the events topic when the connector creates it"`
	KafkaStatePartitions     int32         `envconfig:"KAFKA_STATE_PARTITIONS" default:"6" desc:"partitions of the state topic when the connector creates it"`
	KafkaReplicationFactor   int16         `envconfig:"KAFKA_REPLICATION_FACTOR" default:"-1" desc:"replication factor of created topics; -1 takes the broker's default"`

	KafkaMessagesTable                     bool              `envconfig:"KAFKA_MESSAGES_TABLE" default:"true" desc:"write the messages table topic: key the message id, value its current state (flat MessageRow), a tombstone once deleted; in the transaction of the events"`
	KafkaMessagesTableTopic                string            `envconfig:"KAFKA_MESSAGES_TABLE_TOPIC" default:"partoo.messages.table" desc:"messages table topic; created if absent (cleanup.policy=compact); refused if not compacted"`
	KafkaMessagesTablePartitions           int32             `envconfig:"KAFKA_MESSAGES_TABLE_PARTITIONS" default:"6" desc:"partitions of the messages table topic when the connector creates it"`
	KafkaMessagesTableConfigs              map[string]string `envconfig:"KAFKA_MESSAGES_TABLE_CONFIGS" desc:"more topic configs for the messages table topic when the connector creates it, as key:value pairs, comma-separated (e.g. min.compaction.lag.ms:3600000)"`
	KafkaConversationsTable                bool              `envconfig:"KAFKA_CONVERSATIONS_TABLE" default:"true" desc:"write the conversations table topic: key the conversation id, value its business, channel and status (flat ConversationRow), written when a listing shows a change; in the transaction of a batch"`
	KafkaConversationsTableTopic           string            `envconfig:"KAFKA_CONVERSATIONS_TABLE_TOPIC" default:"partoo.conversations.table" desc:"conversations table topic; created if absent (cleanup.policy=compact); refused if not compacted"`
	KafkaConversationsTablePartitions      int32             `envconfig:"KAFKA_CONVERSATIONS_TABLE_PARTITIONS" default:"6" desc:"partitions of the conversations table topic when the connector creates it"`
	KafkaConversationsTableConfigs         map[string]string `envconfig:"KAFKA_CONVERSATIONS_TABLE_CONFIGS" desc:"more topic configs for the conversations table topic when the connector creates it, as key:value pairs, comma-separated"`
	KafkaConversationsTableConsumerContact bool              `envconfig:"KAFKA_CONVERSATIONS_TABLE_CONSUMER_CONTACT" default:"false" desc:"also publish the consumer's name and phone number in the conversations table: personal data, off by default so that no one copies it into every system that reads the topic without deciding to"`
	KafkaTLSEnabled                        bool              `envconfig:"KAFKA_TLS_ENABLED" default:"false" desc:"connect to Kafka with TLS"`
	KafkaTLSCAFile                         string            `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM CA bundle to verify the brokers (default: system roots)"`
	KafkaTLSCertFile                       string            `envconfig:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate for mutual TLS"`
	KafkaTLSKeyFile                        string            `envconfig:"KAFKA_TLS_KEY_FILE" desc:"PEM client key for mutual TLS"`
	KafkaSASLMechanism                     string            `envconfig:"KAFKA_SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none"`
	KafkaSASLUsername                      string            `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user name"`
	KafkaSASLPassword                      secret.Secret     `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password; never logged"`
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

// DefaultTransactionalID is the transactional id of a deployment that sets none: derived from
// its state topic, which is what makes a deployment distinct (two deployments sharing a state
// topic would corrupt each other's state anyway).
func DefaultTransactionalID(stateTopic string) string { return "partoo-connector-" + stateTopic }
