package publish_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// BenchmarkBackfill measures a backfill into the broker kafkatest gives (the real one with
// KAFKA_BROKERS): conversations of 100 new messages each are diffed, encoded and published
// with their state, N conversations per transaction. Reported: events/s end to end.
// Run with -benchtime 1x: one iteration is the whole backfill.
func BenchmarkBackfill(b *testing.B) {
	cluster := kafkatest.New(b)
	for _, tc := range []struct{ convs, perTxn int }{{1_000, 1}, {10_000, 100}} {
		b.Run(fmt.Sprintf("messages=%d/conversations_per_txn=%d", tc.convs*100, tc.perTxn), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			codec, _ := events.NewCodec()
			sc, _ := state.NewCodec()
			var total int
			for b.Loop() {
				b.StopTimer()
				topic := kafkatest.Topic(b)
				topics := state.Topics{Events: topic + ".events", State: topic + ".state"}
				if err := state.EnsureTopics(ctx, cluster.Admin(b), topics); err != nil {
					b.Fatal(err)
				}
				p, err := publish.New(publish.Config{Base: []kgo.Opt{kgo.SeedBrokers(cluster.Brokers...)}, TransactionalID: topic,
					EventsTopic: topics.Events, StateTopic: topics.State})
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Init(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var batch []publish.Change
				for c := 1; c <= tc.convs; c++ {
					id := int64(c)
					walk := make([]model.Message, 100)
					for i := range walk {
						walk[i] = model.Message{ID: id*1000 + int64(i), ConversationID: id, Date: model.Time{Time: t0.Add(time.Duration(i) * time.Minute)},
							ContentType: model.ContentText, SenderType: model.SenderConsumer, SenderLabel: "Ann Example",
							Status: model.StatusSuccess, Content: "Hello, is the shop open on Sunday morning?"}
					}
					r := diff.Diff(nil, id, walk, diff.Complete, t0, diff.Options{})
					ch := publish.Change{ConversationID: id}
					for _, e := range r.Events {
						enc, err := codec.Encode(e)
						if err != nil {
							b.Fatal(err)
						}
						ch.Events = append(ch.Events, enc)
					}
					if ch.State, err = sc.Encode(r.Next); err != nil {
						b.Fatal(err)
					}
					total += len(ch.Events)
					batch = append(batch, ch)
					if len(batch) == tc.perTxn || c == tc.convs {
						if err := p.Publish(ctx, batch); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
				b.StopTimer()
				p.Close()
				_, _ = cluster.Admin(b).DeleteTopics(ctx, topics.Events, topics.State)
				b.StartTimer()
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
			b.Logf("kafka=%s", cluster.Kind)
		})
	}
}
