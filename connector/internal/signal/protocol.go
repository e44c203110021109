// Package signal is the resnapshot feature: the protocol of the signal topic, the client the
// CLI uses to send a request (Send), and the server side the running engine uses to read and
// carry out requests (Tracker).
//
// The signal topic carries requests to the running connector, as Debezium's signalling topic
// does: `partoo-connector resnapshot` writes one, the active instance reads it, carries it out
// and then commits its offset (for the group <transactional id>.signals), so a request written
// while the connector is down or failing over is carried out once it runs again (at least once;
// the events it produces have ids derived from the request, so a repeat produces the same ones).
package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Resnapshot asks for the current messages of some conversations (or all) to be re-emitted as
// MessageCreated with snapshot=true.
const Resnapshot = "resnapshot"

// FillTables asks for the messages table rows of every current message of some conversations
// (or all) to be written, without any event: what a deployment whose messages table is newer
// than its state needs (an upgrade from a release without tables). The connector sends it
// itself when it finds the table empty and the state not.
const FillTables = "fill-tables"

// Signal is one request, a JSON value on the signal topic.
type Signal struct {
	ID              string    `json:"id"`
	Type            string    `json:"type"`
	ConversationIDs []int64   `json:"conversation_ids,omitempty"`
	All             bool      `json:"all,omitempty"`
	RequestedAt     time.Time `json:"requested_at"`
}

// Topic names the signal topic of a deployment: <state topic>.signals.
func Topic(stateTopic string) string { return stateTopic + ".signals" }

// Group names the consumer group whose committed offset says which requests are done:
// <transactional id>.signals. No member joins it (offsets only).
func Group(transactionalID string) string { return transactionalID + ".signals" }

// ErrNoTopic: the signal topic does not exist, so no connector has run with these topics.
var ErrNoTopic = errors.New("the signal topic does not exist: the connector creates it when it starts")

// Send writes a signal for the connector of stateTopic and returns it with where it was
// written. It fills in ID and RequestedAt when they are empty.
func Send(ctx context.Context, kopts []kgo.Opt, stateTopic string, s Signal) (Signal, int64, error) {
	topic := Topic(stateTopic)
	if s.RequestedAt.IsZero() {
		s.RequestedAt = time.Now().UTC()
	}
	if s.ID == "" {
		s.ID = strconv.FormatInt(s.RequestedAt.UnixNano(), 36)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), kopts...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return s, 0, err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return s, 0, err
	}
	if td, ok := listed[topic]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return s, 0, fmt.Errorf("%s: %w", topic, ErrNoTopic)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return s, 0, err
	}
	r, err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(s.ID), Value: v}).First()
	if err != nil {
		return s, 0, err
	}
	return s, r.Offset, nil
}

// EnsureTopic creates the signal topic if missing: one partition (signals are carried out in
// order), kept a day.
func EnsureTopic(ctx context.Context, adm *kadm.Client, topic string, replication int16) error {
	_, err := kafkatopic.Ensure(ctx, adm, kafkatopic.Spec{Name: topic, Partitions: 1, ReplicationFactor: replication,
		Configs: map[string]string{"retention.ms": "86400000"}})
	if err != nil {
		return fmt.Errorf("signal topic: %w", err)
	}
	return nil
}
