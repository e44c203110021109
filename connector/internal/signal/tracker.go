package signal

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/ratelog"
)

// Config wires a Tracker to the engine it serves.
type Config struct {
	// Topic is the signal topic (Topic(state topic)); Group holds its committed offset
	// (Group(transactional id)).
	Topic, Group string
	Clock        clock.Clock
	Log          *slog.Logger
	RateLog      *ratelog.Logger
	// Hint asks for a walk of a conversation soon; Known lists the conversations in the state
	// (a request for all of them); Has says whether the state knows one.
	Hint  func(id int64)
	Known func() []int64
	Has   func(id int64) bool
	// Error counts a failure by operation: fetch_offset, read, commit.
	Error func(op string)
}

// Tracker reads resnapshot requests from the signal topic (Serve), tells the walk step which
// conversations owe a snapshot (Pending), hears which were re-emitted (Done), and commits the
// signal topic's offset past each request once all its conversations are done. Safe for
// concurrent use.
type Tracker struct {
	cfg     Config
	mu      sync.Mutex
	pending map[int64]string  // conversation → request id
	types   map[string]string // request id → its type (Resnapshot, FillTables)
	queue   []*request
	commits chan *kgo.Record // to Serve's committer; nil while the topic is not read
}

type request struct {
	signal  Signal
	record  *kgo.Record
	left    map[int64]bool
	total   int
	started time.Time
}

// NewTracker returns a tracker with nothing pending.
func NewTracker(cfg Config) *Tracker {
	return &Tracker{cfg: cfg, pending: map[int64]string{}, types: map[string]string{}}
}

// Pending returns the id of the resnapshot request a conversation owes a snapshot to ("" for
// none).
func (t *Tracker) Pending(id int64) string { return t.pendingOf(id, Resnapshot) }

// PendingFill returns the id of the table-fill request a conversation owes its rows to ("" for
// none).
func (t *Tracker) PendingFill(id int64) string { return t.pendingOf(id, FillTables) }

func (t *Tracker) pendingOf(id int64, typ string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if req := t.pending[id]; t.types[req] == typ {
		return req
	}
	return ""
}

// Done notes that a conversation was walked completely and committed for request (or is gone):
// once every conversation of a request is done, the request is.
func (t *Tracker) Done(id int64, req string) {
	t.mu.Lock()
	if t.pending[id] == req {
		delete(t.pending, id)
	}
	for _, q := range t.queue {
		if q.signal.ID == req {
			delete(q.left, id)
		}
	}
	t.mu.Unlock()
	t.drain()
}

// drain retires the done requests at the head of the queue and hands the signal topic's offset
// past the last of them to the committer.
func (t *Tracker) drain() {
	t.mu.Lock()
	defer t.mu.Unlock()
	var commit *kgo.Record
	for len(t.queue) > 0 && len(t.queue[0].left) == 0 {
		q := t.queue[0]
		t.queue = t.queue[1:]
		commit = q.record
		switch q.signal.Type {
		case Resnapshot:
			t.cfg.Log.Info("resnapshot done: every conversation of the request re-emitted", "request", q.signal.ID,
				"conversations", q.total, "took", t.cfg.Clock.Now().Sub(q.started).Round(time.Millisecond))
		case FillTables:
			t.cfg.Log.Info("table fill done: every current message of the request's conversations has its row", "request", q.signal.ID,
				"conversations", q.total, "took", t.cfg.Clock.Now().Sub(q.started).Round(time.Millisecond))
		}
		delete(t.types, q.signal.ID)
	}
	if commit != nil && t.commits != nil {
		// Never block the walks on Kafka: the latest offset supersedes one not yet committed.
		// Sent under the lock: in order.
		select {
		case <-t.commits:
		default:
		}
		t.commits <- commit
	}
}

// Reader reads the signal topic from an offset, delivering every record in order and every
// fetch error, until the organisation leaves the process's Kafka layer (cluster.Member's
// ReadSignals).
type Reader func(from kgo.Offset, deliver func(*kgo.Record), failed func(error))

// Serve carries out the signal topic's requests until ctx ends: read (by the process's reader)
// from the offset committed for the group, which is used for its offsets only — no member
// joins it, so there is no rebalance to wait for at start or at shutdown (one writer reads the
// signals: the one instance, or the lease holder).
func (t *Tracker) Serve(ctx context.Context, adm *kadm.Client, read Reader) {
	start, ok := t.start(ctx, adm)
	if !ok {
		return // ctx ended
	}
	commits := make(chan *kgo.Record, 1)
	t.mu.Lock()
	t.commits = commits
	t.mu.Unlock()
	read(start, t.received, func(err error) {
		t.cfg.Error("read")
		t.cfg.RateLog.Warn("signals:fetch", "cannot read the signal topic", "topic", t.cfg.Topic, "err", err)
	})
	t.commitLoop(ctx, adm, commits) // until ctx ends: the offsets of carried out requests
	t.mu.Lock()
	t.commits = nil
	t.mu.Unlock()
}

// commitLoop commits the offsets of carried out requests, off the walks' path, until ctx ends;
// a failed commit is retried every second until a newer offset supersedes it, and the last one
// is committed at the end.
func (t *Tracker) commitLoop(ctx context.Context, adm *kadm.Client, commits <-chan *kgo.Record) {
	commit := func(ctx context.Context, r *kgo.Record) error {
		resp, err := adm.CommitOffsets(ctx, t.cfg.Group, kadm.OffsetsFromRecords(*r))
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.cfg.Error("commit")
			t.cfg.RateLog.Warn("signals:commit", "could not commit the signal topic's offset; retrying (until then a restart carries the request out again, with the same event ids)", "group", t.cfg.Group, "err", err)
		}
		return err
	}
	var pending *kgo.Record
	for {
		var retry <-chan time.Time
		if pending != nil {
			retry = time.After(time.Second)
		}
		select {
		case r := <-commits:
			pending = r
		case <-retry:
		case <-ctx.Done():
			select { // one last offset handed over just before the end
			case r := <-commits:
				pending = r
			default:
			}
			if pending != nil {
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = commit(cctx, pending)
				cancel()
			}
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if commit(cctx, pending) == nil {
			pending = nil
		}
		cancel()
	}
}

// start returns where to resume reading the signal topic: the offset committed for the group,
// or the start. A coordinator that is not ready yet (a new group, __consumer_offsets still
// being created or loaded: COORDINATOR_NOT_AVAILABLE, seen on a fresh broker) or any other
// failure is retried with backoff until ctx ends (false), logged and counted; requests written
// meanwhile wait in the topic.
func (t *Tracker) start(ctx context.Context, adm *kadm.Client) (kgo.Offset, bool) {
	backoff := 250 * time.Millisecond
	for {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		offs, err := adm.FetchOffsets(fctx, t.cfg.Group)
		cancel()
		if err == nil {
			if o, ok := offs.Lookup(t.cfg.Topic, 0); ok {
				if o.Err != nil {
					err = o.Err
				} else if o.At >= 0 {
					return kgo.NewOffset().At(o.At), true
				}
			}
		}
		if err == nil || errors.Is(err, kerr.GroupIDNotFound) { // nothing committed yet
			return kgo.NewOffset().AtStart(), true
		}
		if ctx.Err() != nil {
			return kgo.Offset{}, false
		}
		t.cfg.Error("fetch_offset")
		t.cfg.RateLog.Warn("signals:fetch_offset", "cannot read the signal topic's committed offset yet; retrying (resnapshot requests wait meanwhile)",
			"group", t.cfg.Group, "retry_in", backoff, "err", err)
		if clock.Sleep(ctx, t.cfg.Clock, backoff) != nil {
			return kgo.Offset{}, false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// received starts carrying out one request.
func (t *Tracker) received(r *kgo.Record) {
	var s Signal
	if err := json.Unmarshal(r.Value, &s); err != nil || (s.Type != Resnapshot && s.Type != FillTables) || s.ID == "" {
		t.cfg.RateLog.Warn("signals:unknown", "ignoring a record of the signal topic that is not a resnapshot request",
			"offset", r.Offset, "err", err)
		t.mu.Lock()
		t.queue = append(t.queue, &request{record: r, left: map[int64]bool{}})
		t.mu.Unlock()
		t.drain() // commits it once the requests before it are done
		return
	}
	ids := s.ConversationIDs
	if s.All {
		ids = t.cfg.Known()
	}
	q := &request{signal: s, record: r, left: map[int64]bool{}, started: t.cfg.Clock.Now()}
	for _, id := range ids {
		q.left[id] = true
	}
	q.total = len(q.left)
	t.mu.Lock()
	for id := range q.left {
		t.pending[id] = s.ID
	}
	t.types[s.ID] = s.Type
	t.queue = append(t.queue, q)
	t.mu.Unlock()
	if s.Type == FillTables {
		// No hints: the fill rides on the walks the scheduler does anyway (reconciliation
		// reaches every conversation), so it never takes the budget from fresh changes.
		t.cfg.Log.Info("table fill requested: each conversation's next complete walk writes the rows of all its current messages",
			"request", s.ID, "conversations", q.total)
		if q.total == 0 {
			t.drain()
		}
		return
	}
	for _, id := range ids {
		t.cfg.Hint(id) // soon; reconciliation covers any the hint queue cannot take
	}
	t.cfg.Log.Info("resnapshot requested: re-emitting the current messages of the conversations as snapshots",
		"request", s.ID, "conversations", q.total, "all", s.All)
	if !s.All {
		var unknown []int64
		for _, id := range ids {
			if !t.cfg.Has(id) {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			t.cfg.Log.Warn("resnapshot names conversations the state does not know: they are walked as new ones (all their messages published as snapshots); one Partoo does not have is reported gone and counts as done",
				"request", s.ID, "unknown_conversation_ids", unknown)
		}
	}
	if q.total == 0 {
		t.drain()
	}
}
