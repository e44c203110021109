package state_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

func TestOwnerFingerprint(t *testing.T) {
	a := state.NewOwner("a-long-random-api-key", 0)
	if len(a.Key) != 16 || strings.Contains(a.String(), "a-long-random-api-key") {
		t.Fatalf("owner %q: want 16 hex digits of the key's SHA-256, never the key", a)
	}
	if a != state.NewOwner("a-long-random-api-key", 0) || a == state.NewOwner("another-key", 0) {
		t.Fatal("the fingerprint must be stable and tell keys apart")
	}
	for _, o := range []state.Owner{a, state.NewOwner("a-long-random-api-key", 42)} {
		back, err := state.ParseOwner(o.String())
		if err != nil || back != o {
			t.Fatalf("ParseOwner(%q) = %v, %v", o, back, err)
		}
	}
	if d := a.Differs(state.NewOwner("a-long-random-api-key", 42)); d != "another organisation id" {
		t.Fatalf("same key, another org: %q", d)
	}
}

// TestRestoreChecksTheOwner: the latest state record of each conversation must name this
// connector's owner or none (an earlier release's); another owner's fails the restore naming
// the topic, partition and offset, unless AdoptForeign, which restores and lists them.
func TestRestoreChecksTheOwner(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	topic := kafkatest.Topic(t)
	if err := state.EnsureTopics(ctx, cluster.Admin(t), state.Topics{Events: topic + ".events", State: topic, StatePartitions: 1, EventsPartitions: 1}); err != nil {
		t.Fatal(err)
	}
	c, _ := state.NewCodec()
	mine, theirs := state.NewOwner("key-a", 0), state.NewOwner("key-b", 0)
	p := cluster.Client(t, kgo.DefaultProduceTopic(topic))
	put := func(id int64, owner state.Owner) {
		t.Helper()
		b, err := c.Encode(conversation(id, 3))
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Key: events.Key(id), Value: b}
		for _, h := range owner.Header() {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	kopts := []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}
	restore := func(o state.RestoreOptions) (*state.Index, state.RestoreStats, error) {
		return state.Restore(ctx, kopts, topic, c, o)
	}
	put(1, mine)
	put(2, state.Owner{}) // an earlier release: no header
	put(3, theirs)
	put(3, mine) // superseded: only the latest record of a key counts
	idx, stats, err := restore(state.RestoreOptions{Owner: mine})
	if err != nil || idx.Get(1) == nil || idx.Get(2) == nil || idx.Get(3) == nil {
		t.Fatalf("own and header-less state: %v", err)
	}
	if len(stats.Unowned) != 1 || stats.Unowned[0].Key != "2" || len(stats.Adopted) != 0 {
		t.Fatalf("the header-less record is listed for its rewrite: %+v", stats)
	}
	put(4, theirs)                     // offset 4
	put(5, state.NewOwner("key-a", 7)) // the same key for another organisation
	_, _, err = restore(state.RestoreOptions{Owner: mine})
	var foreign *state.ForeignStateError
	if !errors.As(err, &foreign) || len(foreign.Records) != 2 || foreign.Records[0].Offset != 4 {
		t.Fatalf("another owner's state: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{topic, "another API key", "partition 0, offset 4", "KAFKA_STATE_TOPIC", "STATE_OWNER_CHECK=adopt"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "key-a") || strings.Contains(msg, "key-b") || strings.Contains(msg, "\n") {
		t.Errorf("the error must be one line and never hold a key: %s", msg)
	}
	idx, stats, err = restore(state.RestoreOptions{Owner: mine, AdoptForeign: true})
	if err != nil || idx.Get(4) == nil || idx.Get(5) == nil || len(stats.Adopted) != 2 || stats.Adopted[0].Owner != theirs {
		t.Fatalf("adopt: %+v, %v", stats.Adopted, err)
	}
	if _, _, err := restore(state.RestoreOptions{}); err != nil {
		t.Fatalf("without an owner nothing is checked: %v", err)
	}
}
