package state_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestRebuild: Rebuild writes, from the events, the states the diff recorded; it refuses what
// its guard refuses, and a state topic that holds records unless Force.
func TestRebuild(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	base := kafkatest.Topic(t)
	topics := state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 2, StatePartitions: 2}
	kopts := []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}
	want := publishEvents(ctx, t, kopts, topics, 3)

	cfg := state.RebuildConfig{Kafka: kopts, Topics: topics, TransactionalID: base + ".txn", Batch: 2, Now: func() time.Time { return t0 },
		Owner: state.NewOwner("k", 0)}
	refused := errors.New("refused")
	cfg.Guard = func(context.Context, *kadm.Client) error { return refused }
	if _, err := state.Rebuild(ctx, cfg); !errors.Is(err, refused) {
		t.Fatalf("a guard that refuses: %v", err)
	}
	cfg.Guard = nil
	stats, err := state.Rebuild(ctx, cfg)
	if err != nil || stats.Conversations != len(want) || stats.Events == 0 {
		t.Fatalf("rebuild: %+v, %v", stats, err)
	}
	codec, err := state.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	idx, _, err := state.Restore(ctx, kopts, topics.State, codec, state.RestoreOptions{Owner: state.NewOwner("k", 0)})
	if err != nil {
		t.Fatal(err)
	}
	// The rebuilt states name their owner: another key's connector refuses them.
	var foreign *state.ForeignStateError
	if _, _, err := state.Restore(ctx, kopts, topics.State, codec, state.RestoreOptions{Owner: state.NewOwner("other", 0)}); !errors.As(err, &foreign) {
		t.Fatalf("restore of a rebuilt state by another key: %v", err)
	}
	messages := 0
	for id, w := range want {
		got := idx.Get(id)
		if got == nil || len(got.Messages) != len(w.Messages) {
			t.Fatalf("conversation %d: rebuilt %v, want %d messages", id, got, len(w.Messages))
		}
		for i, m := range w.Messages {
			if got.Messages[i].ID != m.ID || got.StatusOf(got.Messages[i]) != w.StatusOf(m) {
				t.Fatalf("conversation %d: message %d rebuilt as %+v, recorded %+v", id, i, got.Messages[i], m)
			}
		}
		messages += len(w.Messages)
	}
	if stats.Messages != messages {
		t.Fatalf("stats say %d messages, the states hold %d", stats.Messages, messages)
	}

	var notEmpty *state.StateNotEmptyError
	if _, err := state.Rebuild(ctx, cfg); !errors.As(err, &notEmpty) || notEmpty.Records == 0 || notEmpty.Topic != topics.State {
		t.Fatalf("over a state topic with records: %v", err)
	}
	cfg.Force = true
	if _, err := state.Rebuild(ctx, cfg); err != nil {
		t.Fatalf("with Force: %v", err)
	}
}

// publishEvents publishes, as the connector does, the events of the first walk of n
// conversations, and returns the states the diff recorded.
func publishEvents(ctx context.Context, t *testing.T, kopts []kgo.Opt, topics state.Topics, n int) map[int64]*diff.State {
	t.Helper()
	if err := state.EnsureTopics(ctx, kadm.NewClient(mustClient(t, kopts)), topics); err != nil {
		t.Fatal(err)
	}
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]*diff.State{}
	var changes []publish.Change
	for id := int64(1); id <= int64(n); id++ {
		res := diff.Diff(nil, id, walkOf(id, int(10*id)), diff.Complete, t0, diff.Options{})
		want[id] = res.Next
		ch := publish.Change{ConversationID: id}
		for _, e := range res.Events {
			enc, err := codec.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			ch.Events = append(ch.Events, enc)
		}
		changes = append(changes, ch)
	}
	pub, err := publish.New(publish.Config{Base: kopts, TransactionalID: topics.Events + ".writer", EventsTopic: topics.Events, StateTopic: topics.State})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, changes); err != nil {
		t.Fatal(err)
	}
	return want
}
