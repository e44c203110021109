package engine_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestPartooClockSkew: Partoo's clock is not ours. With Partoo's dates 3 hours behind or ahead
// of the connector's clock, a conversation created during the run is found by discovery and
// published as soon as without skew, and the detection lag is not off by hours. The
// reconciliation is slowed to one pass in 10 minutes, so that only discovery can find the
// conversation within the (generous) bound.
func TestPartooClockSkew(t *testing.T) {
	cluster := kafkatest.New(t)
	for _, tc := range []struct {
		name string
		skew time.Duration
	}{{"none", 0}, {"behind_3h", -3 * time.Hour}, {"ahead_3h", 3 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1, ClockSkew: tc.skew})
			base := kafkatest.Topic(t)
			e := &env{t: t, sim: sim, url: simtest.Serve(t, sim), cluster: cluster, txnID: base + ".txn",
				topics: state.Topics{Events: base + ".events", State: base + ".state", EventsPartitions: 1, StatePartitions: 1}}
			gen := partoosim.NewGenerator(sim, partoosim.Activity{}, 7)
			gen.Populate(5, 4, 24*time.Hour)
			want := e.publishable()
			old := sim.ConversationIDs()[0]

			m := metrics.New(metrics.Gauges{})
			opt := e.options()
			opt.Metrics = m
			opt.Schedule.ReconcilePeriod = 10 * time.Minute
			r := e.start(opt)
			e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
			r.waitPastWatch(t, sim)
			if w := r.c.WatchingSince(); w.Sub(sim.Clock().Now()).Abs() > 5*time.Second {
				t.Errorf("skew %v: watching since %v, Partoo's clock reads %v", tc.skew, w, sim.Clock().Now())
			}
			if st := r.c.Status(); st.API.ClockOffset == nil || st.WatchingSince == nil ||
				time.Duration(*st.API.ClockOffset*float64(time.Second)-float64(tc.skew)).Abs() > 2*time.Second {
				t.Errorf("skew %v: /status says Partoo's clock is off by %v s", tc.skew, st.API.ClockOffset)
			}

			reply, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: old})
			// Generous bounds: discovery polls every 2 s; without it a conversation waits 10 minutes.
			const bound = 30 * time.Second
			evs := waitPublished(t, e, reply.ID, bound)
			n, sum := histogram(t, m, "partoo_connector_detection_lag_seconds", "MessageCreated")
			if n == 0 || sum/float64(n) > bound.Seconds() {
				t.Fatalf("skew %v: detection lag of MessageCreated: %d observations, mean %.0f s; want some, under %v", tc.skew, n, sum/float64(max(n, 1)), bound)
			}

			conv := sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerWhatsapp})
			first, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: conv.ID})
			evs = waitPublished(t, e, first.ID, bound)
			for _, id := range []int64{first.ID, reply.ID} {
				if snap, _ := snapshotOf(evs, id); snap {
					t.Errorf("skew %v: message %d, created during the run, published with snapshot=true", tc.skew, id)
				}
			}
		})
	}
}

// waitPublished waits at most within for the MessageCreated of message id.
func waitPublished(t *testing.T, e *env, id int64, within time.Duration) []event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		evs := e.readEvents(t)
		if hasCreated(id)(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d was not published within %v: %v", id, within, summary(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// histogram reads the count and sum of one histogram series (by label value).
func histogram(t *testing.T, m *metrics.Metrics, name, label string) (uint64, float64) {
	t.Helper()
	for _, s := range series(t, m, name) {
		if s.hasLabelValue(label) {
			return s.count, s.sum
		}
	}
	return 0, 0
}
