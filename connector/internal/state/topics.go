package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
)

// Topics describes the two topics the connector writes.
type Topics struct {
	Events            string
	State             string
	EventsPartitions  int32 // default 6
	StatePartitions   int32 // default 6
	ReplicationFactor int16 // -1: the broker's default
	// StateMaxMessageBytes is the state topic's max.message.bytes. Default 16 MiB: a
	// conversation of 1,000,000 messages takes about 10 MB.
	StateMaxMessageBytes int
	// ReadyTimeout bounds the wait, after creating the topics, for every partition to have a
	// leader that answers offset requests. Default 30 s.
	ReadyTimeout time.Duration
	// MessagesTable and ConversationsTable are the compacted table topics ("": not written).
	MessagesTable, ConversationsTable TableTopic
}

// TableTopic is a compacted table topic's name and the settings it is created with.
type TableTopic struct {
	Name       string
	Partitions int32 // default 6
	// Configs are topic configs set at creation besides cleanup.policy=compact (e.g.
	// min.compaction.lag.ms, max.message.bytes).
	Configs map[string]string
}

// Names lists every topic the connector writes, events and state first.
func (t Topics) Names() []string {
	out := []string{t.Events, t.State}
	for _, tt := range []TableTopic{t.MessagesTable, t.ConversationsTable} {
		if tt.Name != "" {
			out = append(out, tt.Name)
		}
	}
	return out
}

// DefaultStateMaxMessageBytes is the state topic's default max.message.bytes: the largest state
// record the publisher writes (publish.DefaultStateMaxBytes, 16 MiB).
const DefaultStateMaxMessageBytes = publish.DefaultStateMaxBytes

func (t *Topics) defaults() {
	if t.EventsPartitions == 0 {
		t.EventsPartitions = 6
	}
	if t.StatePartitions == 0 {
		t.StatePartitions = 6
	}
	if t.ReplicationFactor == 0 {
		t.ReplicationFactor = -1
	}
	if t.StateMaxMessageBytes == 0 {
		t.StateMaxMessageBytes = DefaultStateMaxMessageBytes
	}
	if t.ReadyTimeout <= 0 {
		t.ReadyTimeout = 30 * time.Second
	}
	for _, tt := range []*TableTopic{&t.MessagesTable, &t.ConversationsTable} {
		if tt.Partitions == 0 {
			tt.Partitions = 6
		}
	}
}

// ErrTableTopicNotCompacted: a table topic exists with a cleanup.policy other than compact.
var ErrTableTopicNotCompacted = errors.New("table topic must have cleanup.policy=compact")

// CheckTablePolicy refuses a table topic that is not exactly compacted: deletion by time or
// size would drop rows of messages that still exist.
func CheckTablePolicy(topic, policy string) error {
	if policy != "compact" {
		return fmt.Errorf("topic %s has cleanup.policy=%s; a table topic keeps the current row of every key and needs exactly compact (retention would drop rows): alter it or choose another name: %w", topic, policy, ErrTableTopicNotCompacted)
	}
	return nil
}

// ErrStateTopicNotCompacted: the state topic exists with a cleanup.policy other than compact.
var ErrStateTopicNotCompacted = errors.New("state topic must have cleanup.policy=compact")

// ErrEventsTopicCompacted: the events topic is compacted, which would drop events.
var ErrEventsTopicCompacted = errors.New("events topic must not be compacted (cleanup.policy must be delete)")

// CheckEventsPolicy refuses an events topic whose cleanup.policy would drop events.
func CheckEventsPolicy(topic, policy string) error {
	if strings.Contains(policy, "compact") {
		return fmt.Errorf("topic %s has cleanup.policy=%s: %w", topic, policy, ErrEventsTopicCompacted)
	}
	return nil
}

// CheckStatePolicy refuses a state topic that is not exactly compacted.
func CheckStatePolicy(topic, policy string) error {
	if policy != "compact" {
		return fmt.Errorf("topic %s has cleanup.policy=%s; the connector keeps one state record per conversation and needs it compacted (and never deleted): alter it to compact or choose another KAFKA_STATE_TOPIC: %w", topic, policy, ErrStateTopicNotCompacted)
	}
	return nil
}

// EnsureTopics creates missing topics with their configs — events: cleanup.policy=delete,
// retention.ms=-1 (kept for replay); state: cleanup.policy=compact, large max.message.bytes —
// refuses topics that exist with a configuration that would lose data, and returns once
// every partition of both answers offset requests (a topic just created is not at once in
// every broker's metadata), or an error naming the topic after ReadyTimeout.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t Topics) error {
	t.defaults()
	if t.Events == "" || t.State == "" || t.Events == t.State {
		return fmt.Errorf("events topic %q and state topic %q must be set and different", t.Events, t.State)
	}
	specs := []struct {
		spec  kafkatopic.Spec
		check func(policy string) error
	}{
		{kafkatopic.Spec{Name: t.Events, Partitions: t.EventsPartitions, ReplicationFactor: t.ReplicationFactor, Configs: map[string]string{
			"cleanup.policy": "delete",
			"retention.ms":   "-1",
		}}, func(p string) error { return CheckEventsPolicy(t.Events, p) }},
		{kafkatopic.Spec{Name: t.State, Partitions: t.StatePartitions, ReplicationFactor: t.ReplicationFactor, Configs: map[string]string{
			"cleanup.policy":    "compact",
			"max.message.bytes": strconv.Itoa(t.StateMaxMessageBytes),
			// A tombstone must stay long enough for a restoring reader to see it.
			"delete.retention.ms": "86400000",
		}}, func(p string) error { return CheckStatePolicy(t.State, p) }},
	}
	for _, tt := range []TableTopic{t.MessagesTable, t.ConversationsTable} {
		if tt.Name == "" {
			continue
		}
		if tt.Name == t.Events || tt.Name == t.State || tt.Name == t.MessagesTable.Name && tt.Name == t.ConversationsTable.Name {
			return fmt.Errorf("table topic %q must differ from the events, state and other table topic", tt.Name)
		}
		cfg := map[string]string{"delete.retention.ms": "86400000"}
		for k, v := range tt.Configs {
			cfg[k] = v
		}
		cfg["cleanup.policy"] = "compact"
		name := tt.Name
		specs = append(specs, struct {
			spec  kafkatopic.Spec
			check func(policy string) error
		}{kafkatopic.Spec{Name: name, Partitions: tt.Partitions, ReplicationFactor: t.ReplicationFactor, Configs: cfg},
			func(p string) error { return CheckTablePolicy(name, p) }})
	}
	for _, s := range specs {
		switch created, err := kafkatopic.Ensure(ctx, adm, s.spec); {
		case err != nil:
			return err
		case created:
			continue
		}
		// It exists: refuse a configuration that would lose data.
		policy, err := describePolicy(ctx, adm, s.spec.Name, t.ReadyTimeout)
		if err != nil {
			return err
		}
		if err := s.check(policy); err != nil {
			return err
		}
	}
	return waitReady(ctx, adm, t.ReadyTimeout, t.Names()...)
}

// DefaultMaxMessageBytes is Kafka's default max.message.bytes (the broker's message.max.bytes),
// assumed when a topic's cannot be read.
const DefaultMaxMessageBytes = 1048588

// MaxMessageBytes reads a topic's max.message.bytes (its own, or the broker default it
// inherits): the largest record batch the broker accepts for it.
func MaxMessageBytes(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	rc, err := cfgs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" {
			n, err := strconv.Atoi(c.MaybeValue())
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("topic %s: max.message.bytes %q is not a size", topic, c.MaybeValue())
			}
			return n, nil
		}
	}
	return DefaultMaxMessageBytes, nil
}

// describePolicy reads a topic's cleanup.policy. A topic that another process has just created
// (a second replica starting at the same moment) may not be in this broker's metadata yet, in
// which case the broker answers UNKNOWN_TOPIC_OR_PARTITION for it: that is waited out, bounded
// by timeout, like the readiness wait below.
func describePolicy(ctx context.Context, adm *kadm.Client, topic string, timeout time.Duration) (string, error) {
	policy := "delete"
	timedOut, err := poll(ctx, timeout, func(ctx context.Context) error {
		cfgs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return err
		}
		rc, err := cfgs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		return err
	}, func(err error) bool { return errors.Is(err, kerr.UnknownTopicOrPartition) })
	switch {
	case timedOut:
		return "", fmt.Errorf("describe topic %s: it exists but this broker does not know it after %s: %w", topic, timeout, err)
	case err != nil:
		return "", fmt.Errorf("describe topic %s: %w", topic, err)
	}
	return policy, nil
}

// waitReady polls until every partition of the topics has a leader that lists offsets.
func waitReady(ctx context.Context, adm *kadm.Client, timeout time.Duration, topics ...string) error {
	timedOut, err := poll(ctx, timeout, func(ctx context.Context) error { return offsetsAnswer(ctx, adm, topics...) },
		func(error) bool { return true })
	if timedOut {
		return fmt.Errorf("topics %s are not ready after %s (every partition needs a leader that answers): %w", strings.Join(topics, ", "), timeout, err)
	}
	return err
}

// poll calls try every 100 ms until it succeeds (false, nil), fails with an error transient
// does not accept (false, that error), or timeout passes (true, the last transient error — or
// the error of the attempt the deadline cut).
func poll(ctx context.Context, timeout time.Duration, try func(context.Context) error, transient func(error) bool) (timedOut bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		err = try(ctx)
		switch {
		case err == nil:
			return false, nil
		case transient(err):
			last = err
		case ctx.Err() == nil:
			return false, err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = err
			}
			return true, last
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// offsetsAnswer checks that every partition of the topics exists, has a leader and answers a
// ListOffsets request. A missing topic gives an error matching ErrTopicMissing.
func offsetsAnswer(ctx context.Context, adm *kadm.Client, topics ...string) error {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return err
	}
	for _, name := range topics {
		td, ok := md.Topics[name]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			return &TopicMissingError{Topic: name}
		case td.Err != nil:
			return fmt.Errorf("topic %s: %w", name, td.Err)
		case len(td.Partitions) == 0:
			return fmt.Errorf("topic %s has no partitions yet", name)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("topic %s partition %d has no leader yet (%v)", name, p.Partition, p.Err)
			}
		}
	}
	offs, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = offs.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("not yet in every broker's metadata: %w", err)
	}
	return err
}

// ErrTopicMissing: a topic the connector writes does not exist (deleted, or the cluster came
// back empty). Match it with errors.Is; *TopicMissingError names the topic.
var ErrTopicMissing = errors.New("topic does not exist")

// TopicMissingError names a missing topic.
type TopicMissingError struct{ Topic string }

func (e *TopicMissingError) Error() string {
	return fmt.Sprintf("topic %s does not exist (deleted, or the cluster came back without its data)", e.Topic)
}

// Is makes errors.Is(err, ErrTopicMissing) match.
func (e *TopicMissingError) Is(target error) bool { return target == ErrTopicMissing }

// MissingTopic returns the first of t's topics that md shows missing (the state topic first:
// its loss matters most), or nil.
func MissingTopic(md kadm.Metadata, t Topics) *TopicMissingError {
	names := t.Names()
	names[0], names[1] = names[1], names[0]
	for _, name := range names {
		td, ok := md.Topics[name]
		if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return &TopicMissingError{Topic: name}
		}
	}
	return nil
}
