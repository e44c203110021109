package config

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// validateTables checks the table topics' settings.
func (c *KafkaConfig) validateTables() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	topics := map[string]string{c.KafkaEventsTopic: "KAFKA_EVENTS_TOPIC", c.KafkaStateTopic: "KAFKA_STATE_TOPIC"}
	for _, t := range []struct {
		on         bool
		name, v    string
		partitions int32
	}{{c.KafkaMessagesTable, c.KafkaMessagesTableTopic, "KAFKA_MESSAGES_TABLE", c.KafkaMessagesTablePartitions},
		{c.KafkaConversationsTable, c.KafkaConversationsTableTopic, "KAFKA_CONVERSATIONS_TABLE", c.KafkaConversationsTablePartitions}} {
		switch other, taken := topics[t.name]; {
		case !t.on:
		case t.name == "":
			bad(t.v+"_TOPIC", "must be set while "+t.v+" is true")
		case taken:
			bad(t.v+"_TOPIC", fmt.Sprintf("%q is the topic of %s too: every topic needs its own name", t.name, other))
		case t.partitions < 1:
			bad(t.v+"_PARTITIONS", "must be at least 1")
		default:
			topics[t.name] = t.v + "_TOPIC"
		}
	}
	for v, cfg := range map[string]map[string]string{"KAFKA_MESSAGES_TABLE_CONFIGS": c.KafkaMessagesTableConfigs,
		"KAFKA_CONVERSATIONS_TABLE_CONFIGS": c.KafkaConversationsTableConfigs} {
		if p, ok := cfg["cleanup.policy"]; ok && p != "compact" {
			bad(v, fmt.Sprintf("cleanup.policy:%s: a table topic is always compact (retention would drop rows of messages that still exist)", p))
		}
	}
	return errs
}

// Topics are the topics the connector writes, as the settings name them (a table turned off
// has no name).
func (c *KafkaConfig) Topics() state.Topics {
	t := state.Topics{Events: c.KafkaEventsTopic, State: c.KafkaStateTopic,
		EventsPartitions: c.KafkaEventsPartitions, StatePartitions: c.KafkaStatePartitions,
		ReplicationFactor: c.KafkaReplicationFactor}
	if c.KafkaMessagesTable {
		t.MessagesTable = state.TableTopic{Name: c.KafkaMessagesTableTopic, Partitions: c.KafkaMessagesTablePartitions, Configs: c.KafkaMessagesTableConfigs}
	}
	if c.KafkaConversationsTable {
		t.ConversationsTable = state.TableTopic{Name: c.KafkaConversationsTableTopic, Partitions: c.KafkaConversationsTablePartitions, Configs: c.KafkaConversationsTableConfigs}
	}
	return t
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
	errs = append(errs, c.validateTables()...)
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
	if c.KafkaLeaseSessionTimeout < 6*time.Second || c.KafkaLeaseSessionTimeout > 5*time.Minute {
		bad("KAFKA_LEASE_SESSION_TIMEOUT", "must be between 6s and 5m (brokers refuse a shorter session: group.min.session.timeout.ms is 6s by default)")
	}
	switch strings.ToLower(c.KafkaCompression) {
	case "zstd", "lz4", "snappy", "gzip", "none":
		c.KafkaCompression = strings.ToLower(c.KafkaCompression)
	default:
		bad("KAFKA_COMPRESSION", fmt.Sprintf("%q is not zstd, lz4, snappy, gzip or none", c.KafkaCompression))
	}
	if strings.ContainsAny(c.KafkaClientID, " \t\n") {
		bad("KAFKA_CLIENT_ID", "must not contain spaces")
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
