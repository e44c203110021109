package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// Committer writes a batch of conversations' changes atomically: all visible, or none.
// *publish.Publisher is the Kafka committer.
type Committer interface {
	Publish(ctx context.Context, changes []publish.Change) error
}

// Config configures a Step.
type Config struct {
	Partoo    *partoo.Client      // required
	Index     func() *state.Index // the recorded states; required (the index may be replaced)
	Committer Committer           // required
	Scheduler schedule.Scheduler  // told about every walk; required
	Events    *events.Codec       // default: a new codec
	State     *state.Codec        // default: a new codec
	Clock     clock.Clock         // default: the wall clock
	Hooks     []Hook              // hear each walk and transaction (HookWalked, HookTransaction)
	// Published, if set, is told each transaction's outcome (nil: committed) on the
	// committer's goroutine, before anything else is committed: the owner's Kafka failure
	// policy. Unlike hooks, which only observe, it decides; it must not wait on Kafka.
	Published func(n int, err error)
	Diff      diff.Options // VanishAfterWalks
	// EventMaxBytes returns the most an event record may take (events.RecordSize): the events
	// topic's max.message.bytes, or the producer's limit if lower. An event over it is
	// published with its content cut to fit and flagged (content_truncated_from). Default:
	// no limit.
	EventMaxBytes func() int
	// Resnapshot, if set, returns the pending resnapshot request of a conversation ("" for
	// none): its walk re-emits every recorded message as a snapshot (diff.Options.Resnapshot).
	Resnapshot func(conversationID int64) string
	// Fill, if set, returns the pending table-fill request of a conversation ("" for none):
	// its complete walk writes the messages table row of every current message, events or not.
	Fill func(conversationID int64) string
	// Context returns a conversation's context (organisation, business, channel) and whether
	// the API has said it (tables.Conversations.Context); a changed conversation whose
	// context is unknown is fetched first. Nil: events carry no context.
	Context func(conversationID int64) (model.Context, bool)
	// Watch, if set, returns since when a conversation has been watched (diff.Options.Watch):
	// the snapshot rule for a conversation whose state records no watch of its own. Nil: the
	// rule of a conversation's first complete walk.
	Watch func(conversationID int64) diff.Watch
	// Organization is the Partoo organisation read for (0: not configured): part of every
	// event id (diff.Options.Organization) and of every event's context.
	Organization int64
	// OrganizationName scopes the event ids of an organisation without an id among several
	// (diff.Options.OrganizationName); "" for a single organisation.
	OrganizationName string
	// Tables, when set, adds the table topics' records to the transactions.
	Tables *Tables
}

// Step is the walk step. Read may be called by several goroutines at once, for different
// conversations; Commit by one at a time.
type Step struct {
	cfg Config

	mu       sync.Mutex
	lastWalk map[int64]time.Time // start of the previous walk of each conversation (for lags)
}

// New validates cfg and returns a Step.
func New(cfg Config) (*Step, error) {
	if cfg.Partoo == nil || cfg.Index == nil || cfg.Committer == nil || cfg.Scheduler == nil {
		return nil, errors.New("pipeline: Partoo, Index, Committer and Scheduler are required")
	}
	var err error
	if cfg.Events == nil {
		if cfg.Events, err = events.NewCodec(); err != nil {
			return nil, err
		}
	}
	if cfg.State == nil {
		if cfg.State, err = state.NewCodec(); err != nil {
			return nil, err
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Step{cfg: cfg, lastWalk: map[int64]time.Time{}}, nil
}

// Prepared is one conversation walked, diffed and encoded, ready to commit.
type Prepared struct {
	Report  Report
	Result  diff.Result
	Change  publish.Change  // encoded events, rows and state; meaningful when publishes()
	walk    []model.Message // the walk's messages, kept for a table fill only
	context model.Context   // the conversation's context, when known
	prev    *diff.State
	idx     *state.Index // the index it was diffed against
}

// Walk reads one conversation and commits the result on its own.
func (s *Step) Walk(ctx context.Context, id int64) error {
	p, err := s.Read(ctx, id, nil)
	if err != nil || p == nil {
		return err
	}
	return s.Commit(ctx, []*Prepared{p})
}

// Read walks every page of a conversation's messages, diffs them against its recorded state
// and encodes the change. The walk's requests wait at the budget with t (nil: each at
// budget.PriorityNormal). It returns nil (and has told the hooks and the scheduler) when the
// conversation cannot be read (404, 403).
func (s *Step) Read(ctx context.Context, id int64, t *budget.Ticket) (*Prepared, error) {
	w, r := s.readWalk(ctx, id, t)
	cov, unreadable, ok, err := s.coverage(ctx, w, &r)
	if !ok {
		return nil, err
	}
	idx := s.cfg.Index()
	prev := idx.Get(id)
	res := s.diffWalk(prev, w, cov, unreadable, &r)
	fill := r.Fill != "" && s.cfg.Tables != nil && s.cfg.Tables.MessagesTopic != "" &&
		(r.Result == ResultComplete || r.Result == ResultAllPages)
	cx, err := s.withContext(ctx, id, t, &res, fill)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, partoo.ErrUnauthorized) {
			return nil, err
		}
		// Nothing is published without its context: the walk fails and is done again.
		r.Err, r.OK, r.Result = err, false, ResultFailed
		res = diff.Result{}
	}
	p := &Prepared{Report: r, Result: res, prev: prev, idx: idx, context: cx}
	if fill && r.Err == nil {
		p.walk = w.Messages
	}
	if !p.publishes() {
		return p, nil
	}
	if err := s.encode(p); err != nil {
		return nil, err
	}
	return p, nil
}

// publishes says whether the walk has records to commit: a changed state, or a table fill.
func (p *Prepared) publishes() bool { return p.Result.Changed || p.walk != nil }

// readWalk walks a conversation's messages and starts the walk's report.
func (s *Step) readWalk(ctx context.Context, id int64, t *budget.Ticket) (partoo.Walk, Report) {
	started := s.cfg.Clock.Now()
	w, werr := s.cfg.Partoo.WithTicket(t).Messages(ctx, id)
	r := Report{ConversationID: id, Started: started, Duration: s.cfg.Clock.Now().Sub(started),
		Pages: w.Pages, Messages: len(w.Messages), Skipped: len(w.Skipped), Err: werr}
	if s.cfg.Resnapshot != nil {
		r.Resnapshot = s.cfg.Resnapshot(id) // reported even when the conversation is gone
	}
	if s.cfg.Fill != nil {
		r.Fill = s.cfg.Fill(id)
	}
	s.mu.Lock()
	r.PreviousWalk = s.lastWalk[id]
	s.lastWalk[id] = started
	s.mu.Unlock()
	return w, r
}

// coverage says how much of the conversation the walk saw (its error is r.Err), and which
// messages it received without being able to decode them. ok is false when there is nothing
// to diff: the walk must stop the connector (err), or the conversation is gone or no longer
// visible to the key (the hooks and the scheduler are told; err is nil).
func (s *Step) coverage(ctx context.Context, w partoo.Walk, r *Report) (cov diff.Coverage, unreadable []int64, ok bool, err error) {
	werr := r.Err
	cov = diff.Complete
	switch {
	case werr == nil && w.Short():
		// Every page read, yet fewer messages than Partoo's own count: what was read is
		// published, nothing is concluded from what was not.
		cov, r.Short = diff.AllPages, true
	case werr == nil && len(w.Skipped) > 0:
		// The client reported each skipped item to its observer. When each has its id, the
		// walk still accounts for every message (present, if unreadable): complete.
		for _, sk := range w.Skipped {
			if sk.ID == 0 {
				cov, unreadable = diff.AllPages, nil
				break
			}
			unreadable = append(unreadable, sk.ID)
		}
	case werr == nil:
	case ctx.Err() != nil:
		return 0, nil, false, ctx.Err()
	case errors.Is(werr, partoo.ErrUnauthorized):
		return 0, nil, false, werr
	case errors.Is(werr, partoo.ErrNotFound), errors.Is(werr, partoo.ErrForbidden):
		// Gone or no longer visible to this key: never a reason to report mass deletions.
		r.Result = ResultSkipped
		hooks(s.cfg.Hooks).walked(*r)
		s.cfg.Scheduler.Walked(r.ConversationID, s.cfg.Index().Get(r.ConversationID), schedule.Outcome{Gone: true})
		return 0, nil, false, nil
	default:
		cov = diff.Partial
	}
	return cov, unreadable, true, nil
}

// diffWalk diffs the walk against the recorded state prev and completes the report.
func (s *Step) diffWalk(prev *diff.State, w partoo.Walk, cov diff.Coverage, unreadable []int64, r *Report) diff.Result {
	opts := s.cfg.Diff
	opts.Resnapshot = r.Resnapshot
	opts.Counted = w.HasCount && w.Distinct == w.Count
	opts.Unreadable = unreadable
	opts.Organization, opts.OrganizationName = s.cfg.Organization, s.cfg.OrganizationName
	if s.cfg.Watch != nil {
		opts.Watch = s.cfg.Watch(r.ConversationID)
	}
	res := diff.Diff(prev, r.ConversationID, w.Messages, cov, s.cfg.Clock.Now(), opts)
	r.Coverage, r.Result, r.Ignored = cov, resultOf(cov), res.Ignored
	if cov == diff.Complete && len(w.Skipped) > 0 {
		r.Result = ResultAllPages // every message accounted for, some not publishable
	}
	r.Count, r.HasCount, r.Distinct, r.Absent, r.Suspect = w.Count, w.HasCount, w.Distinct, res.Absent, res.Suspect
	// A walk succeeds when it read every page (and commits), unless nothing it read was usable.
	r.OK = r.Err == nil && !(len(w.Skipped) > 0 && len(w.Messages) == 0)
	if res.Ignored > 0 {
		r.noteIgnored(w.Messages)
	}
	return res
}

// encode encodes a changed conversation's events and next state into p.Change. An event that
// does not fit the events topic even with its content cut is left out and named in the
// report: one item never blocks its conversation.
func (s *Step) encode(p *Prepared) error {
	id := p.Report.ConversationID
	p.Change = publish.Change{ConversationID: id, Events: make([]events.Encoded, 0, len(p.Result.Events))}
	maxBytes := 0
	if s.cfg.EventMaxBytes != nil {
		maxBytes = s.cfg.EventMaxBytes()
	}
	for _, e := range p.Result.Events {
		enc, from, err := s.cfg.Events.EncodeFit(e, maxBytes)
		switch {
		case errors.Is(err, events.ErrTooLarge):
			p.Report.Dropped = append(p.Report.Dropped, Dropped{MessageID: e.MessageID, Type: e.Type, Err: err})
			continue
		case err != nil:
			return fmt.Errorf("encode event of conversation %d: %w", id, err)
		case from > 0:
			p.Report.Truncated = append(p.Report.Truncated, Truncated{MessageID: e.MessageID, Type: e.Type, From: from, Size: events.RecordSize(enc)})
		}
		p.Change.Events = append(p.Change.Events, enc)
	}
	p.Change.Records = s.messageRecords(p, maxBytes)
	if !p.Result.Changed {
		return nil // a table fill of an unchanged conversation: rows only
	}
	sv, err := s.cfg.State.Encode(p.Result.Next)
	if err != nil {
		return fmt.Errorf("encode state of conversation %d: %w", id, err)
	}
	p.Change.State = sv
	return nil
}

// Commit writes the changed conversations of a batch in one transaction and, once it has
// committed, records their new states; then it tells the hooks and the scheduler about every
// conversation of the batch. When the transaction fails, nothing of it is recorded and every
// conversation of the batch counts as a failed walk (walked again later); Commit returns an
// error only when the connector must stop (publish.ErrFenced, publish.ErrNotAuthorized,
// cancellation).
//
// A conversation diffed against an index that has been replaced since (the state was
// re-read from Kafka) is not committed: it counts as failed and is walked again.
func (s *Step) Commit(ctx context.Context, batch []*Prepared) error {
	idx := s.cfg.Index()
	var changes []publish.Change
	for _, p := range batch {
		if p.idx == idx && (p.Result.Changed || len(p.Change.Records) > 0) {
			changes = append(changes, p.Change)
		}
	}
	convChanges, convRows := s.conversationChanges()
	changes = append(changes, convChanges...)
	var perr error
	refused := map[int64]error{} // conversations Kafka refused records of, left out of the retry
	defer func() { s.settleConversations(convRows, refused, perr) }()
	for len(changes) > 0 {
		perr = s.cfg.Committer.Publish(ctx, changes)
		if s.cfg.Published != nil {
			s.cfg.Published(len(changes), perr)
		}
		hooks(s.cfg.Hooks).transaction(len(changes), perr)
		if perr != nil && (errors.Is(perr, publish.ErrFenced) || errors.Is(perr, publish.ErrNotAuthorized) || ctx.Err() != nil) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return perr
		}
		// One conversation never blocks a batch: the others are published at once without it.
		var re *publish.RefusedError
		if !errors.As(perr, &re) {
			break
		}
		rest := changes[:0:0]
		for _, ch := range changes {
			if slices.Contains(re.ConversationIDs, ch.ConversationID) {
				refused[ch.ConversationID] = perr
			} else {
				rest = append(rest, ch)
			}
		}
		if len(rest) == len(changes) {
			break
		}
		changes, perr = rest, nil
	}
	for _, p := range batch {
		r, id := p.Report, p.Report.ConversationID
		defer func(p *Prepared, r *Report) { p.Report = *r }(p, &r) // the report as settled, for the runner
		switch rerr, isRefused := refused[id]; {
		case isRefused:
			r.Result, r.OK, r.Err, r.Refused = ResultFailed, false, rerr, true
			hooks(s.cfg.Hooks).walked(r)
			s.cfg.Scheduler.Walked(id, p.prev, schedule.Outcome{Failed: true})
		case p.idx != idx:
			r.Result, r.OK, r.Err = ResultFailed, false, errors.New("the state was re-read since this walk: walked again")
			hooks(s.cfg.Hooks).walked(r)
			s.cfg.Scheduler.Walked(id, idx.Get(id), schedule.Outcome{Failed: true})
		case !p.publishes():
			hooks(s.cfg.Hooks).walked(r)
			// A suspect walk (most of the conversation missing, nothing vouching for it) is
			// looked at again soon, like a failed one.
			s.cfg.Scheduler.Walked(id, p.prev, schedule.Outcome{Failed: r.Err != nil || r.Suspect})
		case perr != nil:
			r.Result, r.OK, r.Err = ResultFailed, false, perr
			hooks(s.cfg.Hooks).walked(r)
			s.cfg.Scheduler.Walked(id, p.prev, schedule.Outcome{Failed: true})
		case !p.Result.Changed: // a table fill's rows committed
			hooks(s.cfg.Hooks).walked(r)
			s.cfg.Scheduler.Walked(id, p.prev, schedule.Outcome{Failed: r.Err != nil || r.Suspect})
		default:
			idx.Put(p.Result.Next) // only after the commit
			r.Events = p.Result.Events
			hooks(s.cfg.Hooks).walked(r)
			s.cfg.Scheduler.Walked(id, p.Result.Next, schedule.Outcome{Failed: r.Err != nil || r.Suspect, Changed: len(r.Events) > 0})
		}
	}
	return nil
}
