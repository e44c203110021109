package doctor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/doctor"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestDoctorNamesTheStateOwner: doctor reads the latest state records and says whose they are:
// this key's (✓), an earlier release's (✓), another key's (✗ naming the partition and offset).
func TestDoctorNamesTheStateOwner(t *testing.T) {
	cluster := kafkatest.New(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	base := kafkatest.Topic(t)
	topics := state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 1, StatePartitions: 1}
	if err := state.EnsureTopics(ctx, cluster.Admin(t), topics); err != nil {
		t.Fatal(err)
	}
	sim := partoosim.New(partoosim.Config{APIKey: "key-a", RequestsPerMinute: -1})
	for k, v := range map[string]string{"PARTOO_API_URL": simtest.Serve(t, sim), "PARTOO_API_KEY": "key-a",
		"KAFKA_BROKERS": strings.Join(cluster.Brokers, ","), "KAFKA_EVENTS_TOPIC": topics.Events, "KAFKA_STATE_TOPIC": topics.State,
		"KAFKA_MESSAGES_TABLE": "false", "KAFKA_CONVERSATIONS_TABLE": "false"} {
		t.Setenv(k, v)
	}
	p := cluster.Client(t, kgo.DefaultProduceTopic(topics.State))
	put := func(id int64, owner state.Owner) {
		r := &kgo.Record{Key: events.Key(id), Value: []byte("state")}
		for _, h := range owner.Header() {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	line := func() string {
		var found string
		doctor.Run(context.Background(), doctor.Options{}, func(c doctor.Check) {
			if strings.HasPrefix(c.Name, "state owner") {
				found = c.String()
			}
		})
		return found
	}
	if got := line(); !strings.HasPrefix(got, "✓ state owner "+topics.State+": empty") {
		t.Errorf("empty state topic: %q", got)
	}
	put(1, state.Owner{})
	if got := line(); !strings.Contains(got, "✓") || !strings.Contains(got, "earlier release") {
		t.Errorf("header-less state: %q", got)
	}
	put(2, state.NewOwner("key-a", 0))
	if got := line(); !strings.HasPrefix(got, "✓ state owner "+topics.State+": this key") {
		t.Errorf("this key's state: %q", got)
	}
	put(3, state.NewOwner("key-b", 0))
	got := line()
	if !strings.HasPrefix(got, "✗ state owner "+topics.State+": another API key: 1 of the latest 3 records") ||
		!strings.Contains(got, "partition 0 offset 2") || !strings.Contains(got, "KAFKA_STATE_TOPIC") || strings.Contains(got, "key-b") {
		t.Errorf("another key's state: %q", got)
	}
	t.Setenv("STATE_OWNER_CHECK", "adopt")
	if got := line(); !strings.HasPrefix(got, "! state owner") {
		t.Errorf("another key's state with STATE_OWNER_CHECK=adopt: %q", got)
	}
}
