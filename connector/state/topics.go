package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
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
}

// DefaultStateMaxMessageBytes is the state topic's default max.message.bytes.
const DefaultStateMaxMessageBytes = 16 << 20

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
}

// ErrStateTopicNotCompacted: the state topic exists with a cleanup.policy other than compact.
var ErrStateTopicNotCompacted = errors.New("state topic must have cleanup.policy=compact")

// ErrEventsTopicCompacted: the events topic is compacted, which would drop events.
var ErrEventsTopicCompacted = errors.New("events topic must not be compacted (cleanup.policy must be delete)")

// EnsureTopics creates missing topics with their configs — events: cleanup.policy=delete,
// retention.ms=-1 (kept for replay); state: cleanup.policy=compact, large max.message.bytes —
// and refuses topics that exist with a configuration that would lose data.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t Topics) error {
	t.defaults()
	if t.Events == "" || t.State == "" || t.Events == t.State {
		return fmt.Errorf("events topic %q and state topic %q must be set and different", t.Events, t.State)
	}
	specs := []struct {
		name    string
		parts   int32
		configs map[string]*string
		check   func(policy string) error
	}{
		{t.Events, t.EventsPartitions, map[string]*string{
			"cleanup.policy": kadm.StringPtr("delete"),
			"retention.ms":   kadm.StringPtr("-1"),
		}, func(p string) error {
			if strings.Contains(p, "compact") {
				return fmt.Errorf("topic %s has cleanup.policy=%s: %w", t.Events, p, ErrEventsTopicCompacted)
			}
			return nil
		}},
		{t.State, t.StatePartitions, map[string]*string{
			"cleanup.policy":    kadm.StringPtr("compact"),
			"max.message.bytes": kadm.StringPtr(strconv.Itoa(t.StateMaxMessageBytes)),
			// A tombstone must stay long enough for a restoring reader to see it.
			"delete.retention.ms": kadm.StringPtr("86400000"),
		}, func(p string) error {
			if p != "compact" {
				return fmt.Errorf("topic %s has cleanup.policy=%s; the connector keeps one state record per conversation and needs it compacted (and never deleted): alter it to compact or choose another KAFKA_STATE_TOPIC: %w", t.State, p, ErrStateTopicNotCompacted)
			}
			return nil
		}},
	}
	for _, s := range specs {
		resp, err := adm.CreateTopic(ctx, s.parts, t.ReplicationFactor, s.configs, s.name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("create topic %s: %w", s.name, err)
		}
		cfgs, err := adm.DescribeTopicConfigs(ctx, s.name)
		if err != nil {
			return fmt.Errorf("describe topic %s: %w", s.name, err)
		}
		rc, err := cfgs.On(s.name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("describe topic %s: %w", s.name, err)
		}
		policy := "delete"
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		if err := s.check(policy); err != nil {
			return err
		}
	}
	return nil
}
