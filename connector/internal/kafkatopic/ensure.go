package kafkatopic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Spec describes a topic to create.
type Spec struct {
	Name       string
	Partitions int32
	// ReplicationFactor of the topic; 0 or -1 takes the broker's default
	// (default.replication.factor).
	ReplicationFactor int16
	// Configs are the topic's settings (cleanup.policy, retention.ms, ...); nil: the broker's
	// defaults.
	Configs map[string]string
}

// Ensure creates the topic if it does not exist. It reports whether it created it: false
// means the topic already existed (its settings are left as they are: a caller that relies on
// one reads and checks it). The error names the topic ("create topic <name>: ...") and wraps
// the broker's.
func Ensure(ctx context.Context, adm *kadm.Client, s Spec) (created bool, err error) {
	replication := s.ReplicationFactor
	if replication == 0 {
		replication = -1
	}
	var configs map[string]*string
	if len(s.Configs) > 0 {
		configs = make(map[string]*string, len(s.Configs))
		for k, v := range s.Configs {
			configs[k] = kadm.StringPtr(v)
		}
	}
	resp, err := adm.CreateTopic(ctx, s.Partitions, replication, configs, s.Name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	}
	return false, fmt.Errorf("create topic %s: %w", s.Name, err)
}

// EnsureGroupTopic creates, if missing, the one-partition topic a consumer group joins only
// to be a group (a lease, the organisations' group): it holds no record (an hour's retention
// in case one is written). It connects with opts and gives up after 30 s.
func EnsureGroupTopic(ctx context.Context, opts []kgo.Opt, name string, replication int16) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = Ensure(cctx, kadm.NewClient(cl), Spec{Name: name, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"retention.ms": "3600000"}})
	return err
}
