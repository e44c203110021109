package engine_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestFirstStartsOnFreshTopics: ten first starts on topics that do not exist yet each reach
// ready and commit (the restore used to ask for offsets before a new topic was in the
// broker's metadata, and crash).
func TestFirstStartsOnFreshTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("ten starts")
	}
	t.Parallel()
	base := newEnv(t)
	c := base.sim.CreateConversation(partoosim.ConversationSpec{})
	_, _ = base.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	for i := 0; i < 10; i++ {
		e := *base
		name := kafkatest.Topic(t)
		e.topics.Events, e.topics.State, e.txnID = name+".events", name+".state", name+".txn"
		began := time.Now()
		r := e.start(e.options())
		for r.c.Readiness() != nil {
			select {
			case err := <-r.done:
				t.Fatalf("start %d stopped: %v", i+1, err)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Since(began) > time.Minute {
				t.Fatalf("start %d not ready within a minute", i+1)
			}
		}
		e.waitEvents(t, "the first commit", func(evs []event) bool { return len(evs) == 1 })
		r.stop(t)
		t.Logf("start %d on fresh topics: ready and committed in %v", i+1, time.Since(began).Round(time.Millisecond))
	}
}

// TestLostTopics: a topic deleted while the connector runs, or a broker that comes back
// empty, is named in one ERROR line within 2 minutes; by default the connector exits
// non-zero (the orchestrator restarts it), with KAFKA_ON_MISSING_STATE=recreate it recreates
// the topics and re-snapshots.
func TestLostTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("deletes topics under a running connector")
	}
	t.Parallel()
	t.Run("state topic deleted, exit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		populate(e, 5)
		p := startProc(t, e.processStarter(t, "LOG_LEVEL=info"))
		e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
		deleted := time.Now()
		if _, err := e.cluster.Admin(t).DeleteTopic(kafkaCtx(t), e.topics.State); err != nil {
			t.Fatal(err)
		}
		p.waitExit(t, 2*time.Minute)
		t.Logf("exited %v after the deletion: %v", time.Since(deleted).Round(100*time.Millisecond), p.err)
		if p.err == nil || !strings.Contains(p.logs.String(), "topic "+e.topics.State+" does not exist") ||
			!strings.Contains(p.logs.String(), "level=ERROR") {
			t.Fatalf("want a non-zero exit and an ERROR naming %s; exit %v, log:\n%s", e.topics.State, p.err, tail(p.logs.String(), 5))
		}
		if strings.Contains(p.logs.String(), "fenced") {
			t.Fatal("a lost topic is not a fence")
		}
	})
	t.Run("state topic deleted, recreate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		populate(e, 5)
		p := startProc(t, e.processStarter(t, "LOG_LEVEL=info", "KAFKA_ON_MISSING_STATE=recreate"))
		first := e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
		if _, err := e.cluster.Admin(t).DeleteTopic(kafkaCtx(t), e.topics.State); err != nil {
			t.Fatal(err)
		}
		p.waitLog(t, "topics recreated", time.Now(), 2*time.Minute)
		// Every message is re-emitted as a snapshot, with the event id it had.
		ids := map[string]bool{}
		for _, ev := range first {
			ids[ev.Body["event_id"].(string)] = true
		}
		all := e.waitEvents(t, "the re-snapshot", func(evs []event) bool { return len(evs) >= len(first)+e.publishable() })
		for _, ev := range since(first, all) {
			if ev.Type != "MessageCreated" || ev.Body["snapshot"] != true || !ids[ev.Body["event_id"].(string)] {
				t.Fatalf("re-snapshot event %s %v: want a snapshot MessageCreated with a known event_id", ev.Type, ev.Body)
			}
		}
		p.stop(t)
	})
	t.Run("broker restarted empty", func(t *testing.T) {
		t.Parallel()
		b := kafkatest.NewPrivate(t)
		e := newEnvOn(t, &b.Cluster)
		populate(e, 5)
		p := startProc(t, e.processStarter(t, "LOG_LEVEL=info"))
		e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
		b.Restart()
		restarted := time.Now()
		p.waitExit(t, 2*time.Minute)
		t.Logf("exited %v after the broker came back empty: %v", time.Since(restarted).Round(100*time.Millisecond), p.err)
		if p.err == nil || !strings.Contains(p.logs.String(), "does not exist") || strings.Contains(p.logs.String(), "fenced") {
			t.Fatalf("want a non-zero exit naming the lost topic (never 'fenced'); exit %v, log:\n%s", p.err, tail(p.logs.String(), 8))
		}
	})
}

// TestStallLongerThanTheTransactionTimeout: the broker freezes with a transaction open for
// longer than KAFKA_TRANSACTION_TIMEOUT. The connector must not hang, must not report a false
// fence, must say what happened, and must go on publishing exactly once when the broker is
// back.
func TestStallLongerThanTheTransactionTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("freezes a broker")
	}
	t.Parallel()
	// Lively: 50 new messages a second over many conversations, so the connector commits a
	// transaction after most walks and one is often open.
	b, e, p, stopGen := busyOnPrivateBroker(t, partoosim.Activity{MessagesPerSecond: 50, NewConversationShare: 0.1,
		HotConversations: 200, StatusDelayMax: 2 * time.Second, DeleteRatio: 0.3}, 21, 30, "5s")

	// Freeze the broker while a transaction of ours is open.
	waitOpenTransaction(t, b, e.txnID, time.Time{}, 60*time.Second, p.alive)
	b.Freeze()
	frozen := time.Now()
	time.Sleep(12 * time.Second) // more than twice the transaction timeout
	b.Thaw()
	t.Logf("broker frozen for %v with a transaction open", time.Since(frozen).Round(100*time.Millisecond))

	p.waitLog(t, "Kafka transaction failed", frozen, 2*time.Minute)
	time.Sleep(5 * time.Second)
	stopGen()
	waitExactlyOnce(t, e, nil, 90*time.Second, p.alive)
	if strings.Contains(p.logs.String(), "fenced") {
		t.Fatalf("a stall was reported as fencing:\n%s", tail(p.logs.String(), 10))
	}
	p.stop(t)
}

// endOffsets sums the end offsets of the env's events topic: a cheap "how much was written".
func (e *env) endOffsets(t *testing.T) int64 {
	t.Helper()
	offs, err := e.cluster.Admin(t).ListEndOffsets(kafkaCtx(t), e.topics.Events)
	if err != nil {
		return 0
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// TestCorruptStateRecord: a state record that cannot be decoded stops the start with a
// message naming topic, partition, offset and key and the remedy; the documented remedy
// (STATE_ON_CORRUPT=rewalk, once) re-establishes that conversation alone — its messages
// re-emitted as snapshots with the event ids they had — and the next ordinary start is clean.
func TestCorruptStateRecord(t *testing.T) {
	e := newEnv(t)
	populate(e, 4)
	r := e.start(e.options())
	first := e.waitEvents(t, "the snapshot", func(evs []event) bool { return len(evs) >= e.publishable() })
	r.stop(t)

	victim := e.sim.ConversationIDs()[2]
	cl := e.cluster.Client(t)
	rec := &kgo.Record{Topic: e.topics.State, Key: []byte(strconv.FormatInt(victim, 10)), Value: []byte("not avro at all")}
	if err := cl.ProduceSync(kafkaCtx(t), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// And a record whose key is no conversation id at all: no walk will ever replace it, so
	// only a tombstone cleans it.
	if err := cl.ProduceSync(kafkaCtx(t), &kgo.Record{Topic: e.topics.State, Key: []byte("zzz"), Value: []byte("junk")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	c, err := engine.New(e.options())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(kafkaCtx(t))
	var corrupt *state.CorruptStateError
	if !errors.As(err, &corrupt) {
		t.Fatalf("Run = %v, want a CorruptStateError", err)
	}
	msg := err.Error()
	for _, want := range []string{e.topics.State, "2 state record(s)", "STATE_ON_CORRUPT=rewalk"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error %q does not name %s", msg, want)
		}
	}
	t.Logf("error shown to the user: %v", err)

	opt := e.options()
	opt.StateOnCorrupt = engine.StateCorruptRewalk
	r = e.start(opt)
	var victimMsgs int
	for _, m := range e.sim.Messages(victim) {
		if m.SenderType.Known() {
			victimMsgs++
		}
	}
	all := e.waitEvents(t, "the re-walk", func(evs []event) bool { return len(evs) >= len(first)+victimMsgs })
	r.stop(t)
	ids := map[string]bool{}
	for _, ev := range first {
		ids[ev.Body["event_id"].(string)] = true
	}
	again := since(first, all)
	if len(again) != victimMsgs {
		t.Fatalf("re-emitted %d events, want the %d messages of conversation %d", len(again), victimMsgs, victim)
	}
	for _, ev := range again {
		if ev.Key != strconv.FormatInt(victim, 10) || ev.Type != "MessageCreated" || ev.Body["snapshot"] != true || !ids[ev.Body["event_id"].(string)] {
			t.Fatalf("re-emitted %s of %s (snapshot %v): want snapshots of conversation %d with known event ids", ev.Type, ev.Key, ev.Body["snapshot"], victim)
		}
	}
	// The bad records are superseded (the conversation's by its new state, "zzz" by a
	// tombstone): an ordinary start is clean and emits nothing new.
	r = e.start(e.options())
	r.waitWalks(t, 8)
	r.stop(t) // fails the test if the start failed (a corrupt record left behind)
	if n := len(e.readEvents(t)); n != len(all) {
		t.Fatalf("%d events after a clean restart, want %d", n, len(all))
	}
}

// TestCommitWithAnUnknownOutcome: the broker applies a commit, but the connector reads a
// retriable error for it and for every retry (NOT_COORDINATOR, as when the transaction
// coordinator resigns right after writing the commit: seen after a broker stall, when the
// controller fenced the broker). The connector cannot know whether that transaction happened:
// it must re-read its state from Kafka before it redoes anything, and publish nothing twice.
func TestCommitWithAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	populate(e, 4)
	fault := &kafkatest.CommitFault{Code: kerr.NotCoordinator.Code}
	fault.Arm() // the first commit: the snapshot
	opt := e.options()
	opt.Kafka = append(opt.Kafka, fault.Opt())
	opt.TransactionTimeout = 4 * time.Second // a commit is given up after 2 s
	r := e.start(opt)
	waitExactlyOnce(t, e, nil, time.Minute, r.alive)
	if fault.Rewritten() == 0 {
		t.Fatal("no commit answer was garbled: the case was not exercised")
	}
	t.Logf("%d answers to the first commit garbled", fault.Rewritten())
	// And the connector goes on: a new message is published once.
	ids := e.sim.ConversationIDs()
	if _, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[0], SenderType: "Consumer", Content: "after"}); err != nil {
		t.Fatal(err)
	}
	waitExactlyOnce(t, e, nil, time.Minute, r.alive)
}
