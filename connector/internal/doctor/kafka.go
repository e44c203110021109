package doctor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// KafkaTimeout bounds each Kafka check: an unreachable broker is reported, not waited on.
const KafkaTimeout = 8 * time.Second

// checkKafka checks that the brokers answer, both topics, Read on the state topic and whose
// state it holds, and the transactional id.
func checkKafka(ctx context.Context, cfg *config.Config, kopts []kgo.Opt, liveWindow time.Duration, r reporter) {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		r.fail("Kafka", err.Error(), "")
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	kctx, cancel := context.WithTimeout(ctx, KafkaTimeout)
	defer cancel()
	if !checkBrokers(kctx, adm, strings.Join(cfg.KafkaBrokers, ","), r) {
		return
	}
	stateExists, ok := checkTopics(kctx, adm, cfg, r)
	if !ok {
		return
	}
	if stateExists {
		checkReadState(ctx, kopts, cfg.KafkaStateTopic, r)
		checkStateOwner(ctx, kopts, cfg, r)
	}
	checkTransactionalID(kctx, adm, &cfg.KafkaConfig, liveWindow, r)
}

// checkBrokers reports whether a broker answers, and the version of the first.
func checkBrokers(ctx context.Context, adm *kadm.Client, brokers string, r reporter) bool {
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		r.fail("Kafka", fmt.Sprintf("%s did not answer (waited up to %s): %v", brokers, KafkaTimeout, err), "check KAFKA_BROKERS, KAFKA_TLS_* and KAFKA_SASL_*, and the network path")
		return false
	}
	var guesses []string
	versions.Each(func(v kadm.BrokerApiVersions) {
		if v.Err == nil {
			guesses = append(guesses, v.VersionGuess())
		}
	})
	if len(guesses) == 0 {
		r.fail("Kafka", fmt.Sprintf("no broker of %s answered", brokers), "check KAFKA_BROKERS and the TLS/SASL settings")
		return false
	}
	sort.Strings(guesses)
	r.pass("Kafka", fmt.Sprintf("%d broker(s) answer at %s; version %s", len(guesses), brokers, guesses[0]))
	return true
}

// topicRole is one of the connector's topics, and the check of its cleanup.policy.
type topicRole struct {
	name, role string
	check      func(string, string) error
}

// checkTopics checks the events and state topics: absent (created at start), or present with
// a configuration that keeps the data. ok is false when they cannot be listed.
func checkTopics(ctx context.Context, adm *kadm.Client, cfg *config.Config, r reporter) (stateExists, ok bool) {
	topics := cfg.Topics()
	listed, err := adm.ListTopics(ctx, topics.Names()...)
	if err != nil {
		r.fail("topics", err.Error(), "the user needs Describe on every topic")
		return false, false
	}
	roles := []topicRole{
		{cfg.KafkaEventsTopic, "events", state.CheckEventsPolicy},
		{cfg.KafkaStateTopic, "state", state.CheckStatePolicy},
	}
	if n := topics.MessagesTable.Name; n != "" {
		roles = append(roles, topicRole{n, "messages table", state.CheckTablePolicy})
	}
	if n := topics.ConversationsTable.Name; n != "" {
		roles = append(roles, topicRole{n, "conversations table", state.CheckTablePolicy})
	}
	for _, tp := range roles {
		if checkTopic(ctx, adm, tp, listed, r) && tp.role == "state" {
			stateExists = true
		}
	}
	return stateExists, true
}

// checkTopic checks one topic and reports whether it exists with a good configuration.
func checkTopic(ctx context.Context, adm *kadm.Client, tp topicRole, listed kadm.TopicDetails, r reporter) bool {
	name := "topic " + tp.name
	td, ok := listed[tp.name]
	switch {
	case ok && errors.Is(td.Err, kerr.TopicAuthorizationFailed):
		r.fail(name, "not authorized to describe it", "grant the ACLs of docs/configuration.md (Describe, DescribeConfigs, Write, and Read on the state topic)")
		return false
	case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		r.pass(name, "absent: the connector creates it at start ("+tp.role+" topic; needs Create)")
		return false
	case td.Err != nil:
		r.fail(name, td.Err.Error(), "")
		return false
	}
	conf, err := topicConfig(ctx, adm, tp.name)
	if err != nil {
		r.fail(name, "cannot read its configuration: "+err.Error(), "the user needs DescribeConfigs on the topic")
		return false
	}
	if err := tp.check(tp.name, conf["cleanup.policy"]); err != nil {
		r.fail(name, err.Error(), "")
		return false
	}
	msg := fmt.Sprintf("%s topic, %d partitions, cleanup.policy=%s", tp.role, len(td.Partitions), conf["cleanup.policy"])
	if tp.role == "events" {
		if mb, err := strconv.Atoi(conf["max.message.bytes"]); err == nil {
			limit := min(mb, publish.ProducerMaxBytes)
			msg += fmt.Sprintf(", max.message.bytes=%d (an event over %d bytes is published with its content cut to fit, flagged content_truncated_from)", mb, limit)
		}
		if conf["retention.ms"] != "-1" {
			ms, _ := strconv.ParseInt(conf["retention.ms"], 10, 64)
			r.warn(name, msg+fmt.Sprintf(", retention %s", time.Duration(ms)*time.Millisecond), "events older than that expire: a replay from offset 0 misses them (retention.ms=-1 keeps them)")
			return true
		}
	}
	r.pass(name, msg)
	return true
}

// topicConfig reads a topic's configuration (cleanup.policy is delete unless set).
func topicConfig(ctx context.Context, adm *kadm.Client, topic string) (map[string]string, error) {
	cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
	var rc kadm.ResourceConfig
	if err == nil {
		rc, err = cfgs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
	}
	if err != nil {
		return nil, err
	}
	conf := map[string]string{"cleanup.policy": "delete"}
	for _, c := range rc.Configs {
		conf[c.Key] = c.MaybeValue()
	}
	return conf, nil
}

// checkReadState checks Read on the state topic by fetching from its first partition.
func checkReadState(ctx context.Context, kopts []kgo.Opt, topic string, r reporter) {
	cl, err := kgo.NewClient(append(kopts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		r.fail("read "+topic, err.Error(), "")
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
		r.fail("read "+topic, "not authorized to read the state topic", "grant Read on it: the connector restores its state from it at every start")
		return
	}
	r.pass("read "+topic, "the state can be read back")
}

// checkTransactionalID checks Describe on the transactional id and whether a connector of
// the id runs, judged as rebuild-state judges it: members of its groups, or a transaction
// open, started while watching, or recent — not one instant.
func checkTransactionalID(ctx context.Context, adm *kadm.Client, cfg *config.KafkaConfig, liveWindow time.Duration, r reporter) {
	txn := cfg.KafkaTransactionalID
	name := "transactional id " + txn
	described, err := adm.DescribeTransactions(ctx, txn)
	dt, onErr := described.On(txn, nil)
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(onErr, kerr.TransactionalIDAuthorizationFailed) || errors.Is(dt.Err, kerr.TransactionalIDAuthorizationFailed):
		r.fail(name, "not authorized", "grant Describe and Write on the transactionalId (the ACL table of docs/configuration.md)")
	case errors.Is(dt.Err, kerr.TransactionalIDNotFound) || (err == nil && onErr != nil):
		r.pass(name, "unused so far")
	case err != nil || dt.Err != nil:
		r.warn(name, fmt.Sprintf("cannot describe it: %v %v", err, dt.Err), "")
	default:
		live := NoLiveConnector(ctx, adm, LivenessOf(cfg, 3*time.Second, liveWindow))
		switch {
		case live != nil && cfg.KafkaLeaderElection:
			r.pass(name, "in use by a running instance (with KAFKA_LEADER_ELECTION, the normal state of a running deployment)")
		case live != nil:
			r.warn(name, "in use: "+live.Error(),
				"if that is not this deployment's running instance, two deployments share the id and will fence each other: set KAFKA_TRANSACTIONAL_ID")
		default:
			r.pass(name, "idle ("+dt.State+"): no connector of this id runs")
		}
	}
}
