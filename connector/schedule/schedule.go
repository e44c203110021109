// Package schedule decides which conversation to walk next, spending Partoo's request budget
// where changes are likely:
//
//  1. webhook hints (Hint), at once;
//  2. conversations that discovery found changed: GET /conversations lists them with their
//     last_message, so a new message, a new status or a deletion of the last message shows
//     without walking; with the listing ordered by recent activity, a conversation that moved
//     up the list had activity too, and page 1 (one request) is enough;
//  3. conversations with a message in Sending, re-walked with a growing delay until terminal;
//  4. Instagram conversations (the channel where consumers delete messages), re-checked a few
//     times after activity;
//  5. with what is left, a reconciliation walk of every conversation in turn: the safety net.
//
// Whether the listing really puts the most recently active first is checked at run time on
// every discovery page (last_message dates must mostly descend); while it does not hold, the
// scheduler falls back to walking every page of /conversations, paced, and comparing each
// conversation's last_message.
package schedule

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
)

// Config tunes the scheduler. Zero values take the defaults in brackets.
type Config struct {
	Partoo *partoo.Client // required
	Clock  partoo.Clock   // [wall clock]
	// State returns the recorded state of a conversation (nil if none). Required.
	State func(id int64) *diff.State
	// Known lists every tracked conversation, for reconciliation.
	Known       func() []int64
	BusinessIDs []int64
	// DiscoveryInterval between two polls of /conversations page 1 [2 s].
	DiscoveryInterval time.Duration
	// FallbackPageInterval paces the pages of a full discovery while the listing is not in
	// recency order [500 ms].
	FallbackPageInterval time.Duration
	// SendingBackoffMin and Max bound the delay between re-walks of a conversation with a
	// message in Sending; the delay grows ×1.5 [2 s, 30 s].
	SendingBackoffMin, SendingBackoffMax time.Duration
	// DeletableChecks are the delays after activity at which an Instagram conversation is
	// walked again to catch deletions [1 m, 5 m, 30 m].
	DeletableChecks []time.Duration
	// ReconcileReserve is how many budget tokens reconciliation leaves for urgent work [1].
	ReconcileReserve int
	// RecencyThreshold is the share of adjacent listed conversations whose last_message dates
	// must descend (within RecencyTolerance) for the listing to count as recency-ordered [0.9].
	RecencyThreshold float64
	// RecencyTolerance is how much a later-listed last message may be newer [5 min].
	RecencyTolerance time.Duration
	// Now and then Next waits; Tick bounds each wait so hints are seen promptly [50 ms].
	Tick time.Duration
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = partoo.RealClock{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DiscoveryInterval, 2*time.Second)
	def(&c.FallbackPageInterval, 500*time.Millisecond)
	def(&c.SendingBackoffMin, 2*time.Second)
	def(&c.SendingBackoffMax, 30*time.Second)
	def(&c.Tick, 50*time.Millisecond)
	if c.DeletableChecks == nil {
		c.DeletableChecks = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}
	}
	if c.ReconcileReserve <= 0 {
		c.ReconcileReserve = 1
	}
	if c.RecencyThreshold <= 0 {
		c.RecencyThreshold = 0.9
	}
	def(&c.RecencyTolerance, 5*time.Minute)
	if c.Known == nil {
		c.Known = func() []int64 { return nil }
	}
}

// Reason says why a conversation was picked; Stats count them.
type Reason int

// Reasons, in priority order.
const (
	ReasonHint Reason = iota
	ReasonDiscovery
	ReasonSending
	ReasonDeletable
	ReasonReconcile
	numReasons
)

func (r Reason) String() string {
	return [...]string{"hint", "discovery", "sending", "deletable", "reconcile"}[r]
}

// Stats are cumulative counts for metrics and benchmarks.
type Stats struct {
	Picked          [numReasons]int64
	DiscoveryPages  int64
	RecencyOrdered  bool
	ReconcileCycles int64
}

// lmSig is what the listing says of a conversation's last message.
type lmSig struct {
	id      int64
	status  partoo.Status
	deleted bool
}

type due struct {
	at     time.Time
	id     int64
	reason Reason
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Scheduler implements the policy above. Next and Walked are called by one goroutine (the
// walk loop); Hint may be called from any goroutine.
type Scheduler struct {
	cfg Config

	hintMu  sync.Mutex
	hints   []int64
	hinted  map[int64]bool
	hintSig chan struct{}

	urgent    []int64
	urgentSet map[int64]bool
	queue     dueHeap
	queued    map[int64]Reason // conversation → reason of its pending due entry

	sig         map[int64]lmSig          // last known last_message per conversation
	rank        map[int64]int            // position in the previous page-1 listing
	partner     map[int64]partoo.Partner // channel, from listings
	backoff     map[int64]time.Duration  // Sending re-walk delay
	checks      map[int64]int            // next deletable check index
	recon       []int64
	reconPos    int
	reconCursor string
	reconSeen   map[int64]bool
	reconDone   bool

	nextDiscovery time.Time
	recency       bool
	recencyKnown  bool
	fallbackCur   string // cursor of a full discovery in progress
	stats         Stats
}

// New returns a scheduler.
func New(cfg Config) *Scheduler {
	cfg.defaults()
	return &Scheduler{
		cfg: cfg, hinted: map[int64]bool{}, hintSig: make(chan struct{}, 1),
		urgentSet: map[int64]bool{}, queued: map[int64]Reason{},
		sig: map[int64]lmSig{}, rank: map[int64]int{}, partner: map[int64]partoo.Partner{},
		backoff: map[int64]time.Duration{}, checks: map[int64]int{},
	}
}

// Stats returns cumulative counts.
func (s *Scheduler) Stats() Stats {
	st := s.stats
	st.RecencyOrdered = s.recency
	return st
}

// Hint asks for a walk of a conversation as soon as possible (a webhook said it changed). It
// never blocks; repeated hints for a conversation not yet walked count once.
func (s *Scheduler) Hint(id int64) {
	s.hintMu.Lock()
	if !s.hinted[id] {
		s.hinted[id] = true
		s.hints = append(s.hints, id)
	}
	s.hintMu.Unlock()
	select {
	case s.hintSig <- struct{}{}:
	default:
	}
}

func (s *Scheduler) popHint() (int64, bool) {
	s.hintMu.Lock()
	defer s.hintMu.Unlock()
	if len(s.hints) == 0 {
		return 0, false
	}
	id := s.hints[0]
	s.hints = s.hints[1:]
	delete(s.hinted, id)
	return id, true
}

// Next returns the conversation to walk now, spending discovery requests as needed. It blocks
// until there is something worth a request, or ctx ends.
func (s *Scheduler) Next(ctx context.Context) (int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if id, ok := s.popHint(); ok {
			return s.pick(id, ReasonHint), nil
		}
		if len(s.urgent) > 0 {
			id := s.urgent[0]
			s.urgent = s.urgent[1:]
			delete(s.urgentSet, id)
			return s.pick(id, ReasonDiscovery), nil
		}
		now := s.cfg.Clock.Now()
		if !now.Before(s.nextDiscovery) {
			if err := s.discover(ctx); err != nil {
				return 0, err
			}
			continue
		}
		if len(s.queue) > 0 && !s.queue[0].at.After(now) {
			d := heap.Pop(&s.queue).(due)
			if s.queued[d.id] == d.reason {
				delete(s.queued, d.id)
				return s.pick(d.id, d.reason), nil
			}
			continue // superseded entry
		}
		if s.cfg.Partoo.Budget().Available() > s.cfg.ReconcileReserve {
			id, ok, err := s.nextReconcile(ctx)
			if err != nil {
				return 0, err
			}
			if ok {
				return s.pick(id, ReasonReconcile), nil
			}
		}
		wake := s.nextDiscovery
		if len(s.queue) > 0 && s.queue[0].at.Before(wake) {
			wake = s.queue[0].at
		}
		if err := s.wait(ctx, wake.Sub(now)); err != nil {
			return 0, err
		}
	}
}

// wait sleeps up to d (at most one Tick), returning early for a hint on a real clock.
func (s *Scheduler) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 || d > s.cfg.Tick {
		d = s.cfg.Tick
	}
	if _, real := s.cfg.Clock.(partoo.RealClock); !real {
		return s.cfg.Clock.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.hintSig:
	case <-t.C:
	}
	return nil
}

func (s *Scheduler) pick(id int64, r Reason) int64 {
	s.stats.Picked[r]++
	return id
}

// nextReconcile returns the next conversation of the reconciliation pass. A pass walks the
// listing one page at a time (so every conversation is covered, listed on page 1 or not,
// tracked or not) and then every tracked conversation the listing no longer showed; the
// listed last messages are compared on the way, for free.
func (s *Scheduler) nextReconcile(ctx context.Context) (int64, bool, error) {
	for s.reconPos >= len(s.recon) {
		if s.reconDone || s.reconSeen == nil {
			s.reconCursor, s.reconSeen, s.reconDone = "", map[int64]bool{}, false
			s.stats.ReconcileCycles++
		}
		page, err := s.cfg.Partoo.ListConversations(ctx, partoo.ListConversationsParams{Cursor: s.reconCursor, BusinessIDs: s.cfg.BusinessIDs})
		if err != nil {
			if ctx.Err() != nil || partoo.IsAuth(err) {
				return 0, false, err
			}
			s.reconCursor, s.reconDone = "", true // start the pass again later
			return 0, false, nil
		}
		s.stats.DiscoveryPages++
		s.compare(page.Conversations, false)
		s.recon, s.reconPos = s.recon[:0], 0
		for _, c := range page.Conversations {
			if !s.reconSeen[c.ID] {
				s.reconSeen[c.ID] = true
				s.recon = append(s.recon, c.ID)
			}
		}
		if page.NextCursor != nil {
			s.reconCursor = *page.NextCursor
			continue
		}
		for _, id := range s.cfg.Known() {
			if !s.reconSeen[id] {
				s.reconSeen[id] = true
				s.recon = append(s.recon, id)
			}
		}
		s.reconDone = true
		if len(s.recon) == 0 {
			return 0, false, nil
		}
	}
	id := s.recon[s.reconPos]
	s.reconPos++
	return id, true, nil
}

func (s *Scheduler) markUrgent(id int64) {
	if !s.urgentSet[id] {
		s.urgentSet[id] = true
		s.urgent = append(s.urgent, id)
	}
}

func (s *Scheduler) schedule(id int64, at time.Time, r Reason) {
	if cur, ok := s.queued[id]; ok && cur <= r {
		return // an entry of higher or equal priority is pending
	}
	s.queued[id] = r
	heap.Push(&s.queue, due{at: at, id: id, reason: r})
}

// Walked tells the scheduler a conversation was walked and what its state now is (nil if it
// has none); changed says the walk produced events.
func (s *Scheduler) Walked(id int64, st *diff.State, changed bool) {
	now := s.cfg.Clock.Now()
	if st != nil && len(st.Messages) > 0 {
		last := st.Messages[len(st.Messages)-1]
		s.sig[id] = lmSig{id: last.ID, status: st.StatusOf(last), deleted: last.Deleted()}
	}
	// Sending: re-walk with a growing delay until every message is terminal.
	if st != nil && hasSending(st) {
		b := s.backoff[id]
		if b == 0 || changed {
			b = s.cfg.SendingBackoffMin
		} else {
			b = min(b*3/2, s.cfg.SendingBackoffMax)
		}
		s.backoff[id] = b
		s.schedule(id, now.Add(b), ReasonSending)
	} else {
		delete(s.backoff, id)
	}
	// Deletable channel: check again a few times after activity.
	if s.partner[id] == partoo.PartnerInstagram && len(s.cfg.DeletableChecks) > 0 {
		if changed {
			s.checks[id] = 0
		}
		if i, ok := s.checks[id]; ok && i < len(s.cfg.DeletableChecks) {
			s.checks[id] = i + 1
			if _, pending := s.queued[id]; !pending {
				s.schedule(id, now.Add(s.cfg.DeletableChecks[i]), ReasonDeletable)
			}
		}
	}
}

func hasSending(st *diff.State) bool {
	for _, m := range st.Messages {
		if m.Status == diff.StatusSending {
			return true
		}
	}
	return false
}
