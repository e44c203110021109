package freshness

import (
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// The stand-ins and observers of a run: Kafka, the recorder of detections, the oracle
// scheduler, the counter of picks.

// committer stands in for Kafka: a transaction takes its latency.
type committer struct {
	clock   clock.Clock
	latency time.Duration
}

func (c committer) Publish(ctx context.Context, _ []publish.Change) error {
	return clock.Sleep(ctx, c.clock, c.latency)
}

// recorder hears the committed events of every walk.
type recorder struct {
	clock      clock.Clock
	mu         sync.Mutex
	detections map[int64][]Detection
	tracked    func() int
	snapshotN  int       // conversations the snapshot must cover (Fresh)
	snapshot   time.Time // when it did
	end        time.Time // the end of the run (the final reconciliation does not count)
}

func (r *recorder) OnWalked(rep pipeline.Report) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range rep.Events {
		st := e.Status
		if e.Type == diff.MessageCreated {
			st = e.Message.Status
		}
		r.detections[e.MessageID] = append(r.detections[e.MessageID], Detection{Type: e.Type, Status: st, At: now})
	}
	if r.snapshotN > 0 && r.snapshot.IsZero() && now.Before(r.end) && r.tracked() >= r.snapshotN {
		r.snapshot = now
	}
}

func (r *recorder) OnTransaction(int, error) {}

// oracle walks exactly the conversation of each change, at the moment of the change.
type oracle struct {
	clock  clock.Clock
	wake   *clock.Wake
	mu     sync.Mutex
	queue  []int64
	queued map[int64]bool
}

func (o *oracle) changed(c partoosim.Change) {
	o.mu.Lock()
	if !o.queued[c.ConversationID] {
		o.queued[c.ConversationID] = true
		o.queue = append(o.queue, c.ConversationID)
	}
	o.mu.Unlock()
	o.wake.Signal()
}

func (o *oracle) Next(ctx context.Context, _ func(schedule.Pick) bool) (schedule.Pick, error) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			id := o.queue[0]
			o.queue = o.queue[1:]
			delete(o.queued, id)
			o.mu.Unlock()
			return schedule.Pick{ID: id, Reason: schedule.ReasonHint}, nil
		}
		o.mu.Unlock()
		if err := o.clock.Wait(ctx, time.Hour, o.wake); err != nil {
			return schedule.Pick{}, err
		}
	}
}

func (o *oracle) Walked(int64, *diff.State, schedule.Outcome) {}
func (o *oracle) Hint(int64) schedule.HintResult              { return schedule.HintIgnored }
func (o *oracle) Status() schedule.Status                     { return schedule.Status{} }

// picks counts the runner's picks.
type picks struct {
	mu    sync.Mutex
	n     map[schedule.Reason]int
	limit int
}

func (p *picks) OnPicked(r schedule.Reason) { p.mu.Lock(); p.n[r]++; p.mu.Unlock() }
func (p *picks) OnInFlight(_, limit int)    { p.mu.Lock(); p.limit = limit; p.mu.Unlock() }
func (p *picks) OnBatch(int)                {}
