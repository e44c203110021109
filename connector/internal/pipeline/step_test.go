package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// memCommitter records what it is asked to commit, or fails with err.
type memCommitter struct {
	mu    sync.Mutex
	calls [][]publish.Change
	err   error
}

func (m *memCommitter) Publish(_ context.Context, changes []publish.Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.calls = append(m.calls, changes)
	return nil
}

// recScheduler records what the step tells it.
type recScheduler struct {
	schedule.Scheduler
	outcomes map[int64][]schedule.Outcome
}

func (r *recScheduler) Walked(id int64, _ *diff.State, o schedule.Outcome) {
	r.outcomes[id] = append(r.outcomes[id], o)
}

type recHooks struct {
	reports []pipeline.Report
	txns    []error
}

func (h *recHooks) OnWalked(r pipeline.Report)     { h.reports = append(h.reports, r) }
func (h *recHooks) OnTransaction(_ int, err error) { h.txns = append(h.txns, err) }

type world struct {
	sim   *partoosim.Sim
	idx   *state.Index
	com   *memCommitter
	sched *recScheduler
	hooks *recHooks
	step  *pipeline.Step
}

func newWorld(t *testing.T) *world {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	cl, err := partoo.New(partoo.Config{APIURL: simtest.Serve(t, sim), APIKey: secret.New("k"), RequestsPerMinute: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{sim: sim, idx: state.NewIndex(), com: &memCommitter{}, sched: &recScheduler{outcomes: map[int64][]schedule.Outcome{}}, hooks: &recHooks{}}
	w.step, err = pipeline.New(pipeline.Config{Partoo: cl, Index: func() *state.Index { return w.idx }, Committer: w.com,
		Scheduler: w.sched, Hooks: []pipeline.Hook{w.hooks}, Clock: clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) conversation(msgs int) int64 {
	c := w.sim.CreateConversation(partoosim.ConversationSpec{})
	for i := 0; i < msgs; i++ {
		_, _ = w.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, Content: fmt.Sprint(i)})
	}
	return c.ID
}

// TestWalkCommitsThenRecords: a walk's change goes to the committer as one change (its events
// and state), and only then into the index; walking again finds nothing to commit.
func TestWalkCommitsThenRecords(t *testing.T) {
	w := newWorld(t)
	id := w.conversation(3)
	ctx := context.Background()
	if err := w.step.Walk(ctx, id); err != nil {
		t.Fatal(err)
	}
	if len(w.com.calls) != 1 || len(w.com.calls[0]) != 1 || len(w.com.calls[0][0].Events) != 3 || w.com.calls[0][0].State == nil {
		t.Fatalf("committer calls %+v", w.com.calls)
	}
	if st := w.idx.Get(id); st == nil || len(st.Messages) != 3 {
		t.Fatalf("index %+v", st)
	}
	if o := w.sched.outcomes[id]; len(o) != 1 || !o[0].Changed || o[0].Failed {
		t.Fatalf("scheduler told %+v", o)
	}
	if r := w.hooks.reports[0]; r.Result != pipeline.ResultComplete || len(r.Events) != 3 || !r.OK {
		t.Fatalf("report %+v", r)
	}
	if err := w.step.Walk(ctx, id); err != nil {
		t.Fatal(err)
	}
	if len(w.com.calls) != 1 {
		t.Fatal("an unchanged conversation must not be committed")
	}
}

// TestFailedCommitRecordsNothing: when the transaction fails, nothing reaches the index, the
// scheduler hears of a failed walk (to walk it again), and Walk carries on; a fence stops it.
func TestFailedCommitRecordsNothing(t *testing.T) {
	w := newWorld(t)
	id := w.conversation(2)
	w.com.err = errors.New("broker unreachable")
	if err := w.step.Walk(context.Background(), id); err != nil {
		t.Fatalf("a failed transaction must not stop the walks: %v", err)
	}
	if w.idx.Get(id) != nil {
		t.Fatal("the state was recorded although the commit failed")
	}
	if o := w.sched.outcomes[id]; len(o) != 1 || !o[0].Failed {
		t.Fatalf("scheduler told %+v", o)
	}
	if len(w.hooks.txns) != 1 || w.hooks.txns[0] == nil || w.hooks.reports[0].Result != pipeline.ResultFailed {
		t.Fatalf("hooks %+v %+v", w.hooks.txns, w.hooks.reports)
	}
	w.com.err = fmt.Errorf("commit: %w", publish.ErrFenced)
	if err := w.step.Walk(context.Background(), id); !errors.Is(err, publish.ErrFenced) {
		t.Fatalf("Walk = %v, want ErrFenced", err)
	}
}

// TestBatchCommitsInOneTransaction: conversations read separately are committed together, in
// one call to the committer; an unchanged one in the batch is told to the scheduler only.
func TestBatchCommitsInOneTransaction(t *testing.T) {
	w := newWorld(t)
	a, b, quiet := w.conversation(1), w.conversation(2), w.conversation(1)
	ctx := context.Background()
	if err := w.step.Walk(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	var batch []*pipeline.Prepared
	for _, id := range []int64{a, b, quiet} {
		p, err := w.step.Read(ctx, id, nil)
		if err != nil || p == nil {
			t.Fatalf("read %d: %v", id, err)
		}
		batch = append(batch, p)
	}
	if err := w.step.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if len(w.com.calls) != 2 || len(w.com.calls[1]) != 2 {
		t.Fatalf("committer calls %d, last with %d changes; want the batch's two changes in one call", len(w.com.calls), len(w.com.calls[1]))
	}
	if w.idx.Get(a) == nil || w.idx.Get(b) == nil || len(w.sched.outcomes[quiet]) != 2 {
		t.Fatal("the batch was not applied")
	}
}

// TestGoneConversationIsSkipped: a conversation that answers 404 is reported skipped and
// marked gone for the scheduler, never diffed (no mass deletion).
func TestGoneConversationIsSkipped(t *testing.T) {
	w := newWorld(t)
	if err := w.step.Walk(context.Background(), 999); err != nil {
		t.Fatal(err)
	}
	if o := w.sched.outcomes[999]; len(o) != 1 || !o[0].Gone {
		t.Fatalf("scheduler told %+v", o)
	}
	if len(w.com.calls) != 0 || w.hooks.reports[0].Result != pipeline.ResultSkipped {
		t.Fatalf("calls %v report %+v", w.com.calls, w.hooks.reports)
	}
}

// refusingCommitter refuses, like Kafka's MESSAGE_TOO_LARGE, every transaction that carries a
// change of one conversation, and commits the others.
type refusingCommitter struct {
	memCommitter
	bad int64
}

func (m *refusingCommitter) Publish(ctx context.Context, changes []publish.Change) error {
	for _, ch := range changes {
		if ch.ConversationID == m.bad {
			return &publish.RefusedError{ConversationIDs: []int64{m.bad}, Err: errors.New("MESSAGE_TOO_LARGE")}
		}
	}
	return m.memCommitter.Publish(ctx, changes)
}

// TestRefusedConversationLeavesItsBatch: when Kafka refuses one conversation's records, the
// rest of the batch is committed at once without it; it alone counts as failed (walked again
// later), named in its report.
func TestRefusedConversationLeavesItsBatch(t *testing.T) {
	w := newWorld(t)
	a, bad, b := w.conversation(1), w.conversation(2), w.conversation(3)
	com := &refusingCommitter{bad: bad}
	step, err := pipeline.New(pipeline.Config{Partoo: mustClient(t, w), Index: func() *state.Index { return w.idx }, Committer: com,
		Scheduler: w.sched, Hooks: []pipeline.Hook{w.hooks}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var batch []*pipeline.Prepared
	for _, id := range []int64{a, bad, b} {
		p, err := step.Read(ctx, id, nil)
		if err != nil || p == nil {
			t.Fatalf("read %d: %v", id, err)
		}
		batch = append(batch, p)
	}
	if err := step.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if len(com.calls) != 1 || len(com.calls[0]) != 2 {
		t.Fatalf("committed %+v, want one transaction of the two other conversations", com.calls)
	}
	if w.idx.Get(a) == nil || w.idx.Get(b) == nil || w.idx.Get(bad) != nil {
		t.Fatal("only the refused conversation must stay unrecorded")
	}
	if o := w.sched.outcomes[bad]; len(o) != 1 || !o[0].Failed {
		t.Fatalf("the refused conversation: scheduler told %+v", o)
	}
	for _, r := range w.hooks.reports {
		if (r.ConversationID == bad) != r.Refused || (r.ConversationID == bad) != (r.Result == pipeline.ResultFailed) {
			t.Fatalf("report %+v", r)
		}
	}
}

func mustClient(t *testing.T, w *world) *partoo.Client {
	cl, err := partoo.New(partoo.Config{APIURL: simtest.Serve(t, w.sim), APIKey: secret.New("k"), RequestsPerMinute: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}
