package engine_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
)

// TestSignalsSurviveAnUnreadyCoordinator: on a fresh broker the group coordinator answers
// COORDINATOR_NOT_AVAILABLE for a while (seen on the real broker: the signal reader gave up and
// a resnapshot request waited for a restart). The reader retries; a request written meanwhile is
// carried out, and its offset committed although the first commits fail too. kfake makes the
// coordinator's failures deterministic.
func TestSignalsSurviveAnUnreadyCoordinator(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fetches, commits atomic.Int32
	// The group coordinator of the signal reader's group is not available for the first
	// lookups, as on a broker still creating __consumer_offsets.
	c.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.FindCoordinatorRequest)
		if r.CoordinatorType != 0 || fetches.Load() >= 4 {
			return nil, nil, false
		}
		fetches.Add(1)
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		for _, k := range r.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key, rc.ErrorCode = k, kerr.CoordinatorNotAvailable.Code
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if commits.Add(1) > 2 {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownServerError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	e := newEnv(t)
	e.cluster = &kafkatest.Cluster{Brokers: c.ListenAddrs(), Kind: kafkatest.KindFake}
	partoosim.NewGenerator(e.sim, partoosim.Activity{}, 3).Populate(4, 3, time.Hour)
	opt := e.options()
	opt.Kafka = []kgo.Opt{kgo.SeedBrokers(e.cluster.Brokers...)}
	opt.Scheduler = engine.SchedulerSmart
	r := e.start(opt)
	want := e.publishable()
	before := e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= want })

	id := e.sim.ConversationIDs()[1]
	chosen := 0
	for _, m := range e.sim.Messages(id) {
		if m.SenderType.Known() {
			chosen++
		}
	}
	ctx := kafkatest.Context(t, time.Minute)
	if _, _, err := signal.Send(ctx, opt.Kafka, e.topics.State, signal.Signal{Type: signal.Resnapshot, ConversationIDs: []int64{id}}); err != nil {
		t.Fatal(err)
	}
	after := e.waitEvents(t, "the re-emitted snapshots", func(evs []event) bool { return len(evs) >= len(before)+chosen })
	for _, ev := range since(before, after) {
		if ev.Type != "MessageCreated" || ev.Body["snapshot"] != true || ev.Key != strconv.FormatInt(id, 10) {
			t.Fatalf("re-emitted %s for %s snapshot=%v, want snapshots of conversation %d only", ev.Type, ev.Key, ev.Body["snapshot"], id)
		}
	}
	if n := fetches.Load(); n < 4 {
		t.Fatalf("%d coordinator lookups refused: the reader never met the unready coordinator", n)
	}
	adm := kadm.NewClient(e.cluster.Client(t))
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := adm.FetchOffsets(context.Background(), e.txnID+".signals")
		if err == nil {
			if o, ok := offs.Lookup(signal.Topic(e.topics.State), 0); ok && o.At == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request's offset was not committed after %d commit attempts (%v)", commits.Load(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := commits.Load(); n <= 2 {
		t.Fatalf("%d commits: the committer never met a failure", n)
	}
	r.stop(t)
}
