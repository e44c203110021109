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
//  5. conversations whose last walk failed, again after a growing delay;
//  6. with what is left, a reconciliation walk of every conversation in turn: the safety net.
//     SCHEDULER_RECONCILE_PERIOD (Config.ReconcilePeriod) paces it: a pass that finishes early
//     waits for the period to end instead of spending every leftover request.
//
// Whether the listing really puts the most recently active first is checked at run time on
// every discovery page (last_message dates must mostly descend); while it does not hold, the
// scheduler falls back to walking every page of /conversations, paced, and comparing each
// conversation's last_message.
//
// The listing is never a single point of failure: a failed discovery is logged, counted
// (Status) and tried again at the next interval, and while the listing fails reconciliation
// walks the conversations the state already knows.
package schedule

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/clock"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/ratelog"
)

// Config tunes the scheduler. Zero values take the defaults in brackets.
type Config struct {
	Partoo *partoo.Client // required
	Clock  clock.Clock    // [wall clock]
	// State returns the recorded state of a conversation (nil if none). Required.
	State func(id int64) *diff.State
	// Known lists every tracked conversation, for reconciliation.
	Known       func() []int64
	BusinessIDs []string
	// Log gets the listing failures (rate-limited). Default: none.
	Log *ratelog.Logger
	// DiscoveryInterval between two polls of /conversations page 1 [2 s].
	DiscoveryInterval time.Duration
	// FallbackPageInterval paces the pages of a full discovery while the listing is not in
	// recency order [500 ms].
	FallbackPageInterval time.Duration
	// SendingMinBackoff and Max bound the delay between re-walks of a conversation with a
	// message in Sending; the delay grows ×1.5 [2 s, 30 s].
	SendingMinBackoff, SendingMaxBackoff time.Duration
	// InstagramChecks are the delays after activity at which an Instagram conversation is
	// walked again to catch deletions [1 m, 5 m, 30 m].
	InstagramChecks []time.Duration
	// ReconcileReserve is how many budget tokens reconciliation leaves for urgent work [1].
	ReconcileReserve int
	// ReconcilePeriod is the target duration of a reconciliation pass: a pass that ends
	// sooner waits for the rest of the period before the next begins [0: no wait, the next
	// pass starts at once with whatever budget is left].
	ReconcilePeriod time.Duration
	// RetryMin and RetryMax bound the delay before a conversation whose walk failed is walked
	// again; it doubles at each failure in a row [10 s, 10 min].
	RetryMin, RetryMax time.Duration
	// RecencyThreshold is the share of adjacent listed conversations whose last_message dates
	// must descend (within RecencyTolerance) for the listing to count as recency-ordered [0.9].
	RecencyThreshold float64
	// RecencyTolerance is how much a later-listed last message may be newer [5 min].
	RecencyTolerance time.Duration
	// Now and then Next waits; Tick bounds each wait so hints are seen promptly [50 ms].
	Tick time.Duration
	// HintShare is the share of the budget's rate that hints may take ahead of other work;
	// beyond it they wait for a pick nothing else wants [0.5].
	HintShare float64
	// MaxHints caps the hints waiting; more are dropped (Hint says so) [1,000].
	MaxHints int
	// GoneFor is how long a conversation that answered 404 or 403 takes no hints [10 min].
	GoneFor time.Duration
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DiscoveryInterval, 2*time.Second)
	def(&c.FallbackPageInterval, 500*time.Millisecond)
	def(&c.SendingMinBackoff, 2*time.Second)
	def(&c.SendingMaxBackoff, 30*time.Second)
	def(&c.Tick, 50*time.Millisecond)
	def(&c.RetryMin, 10*time.Second)
	def(&c.GoneFor, 10*time.Minute)
	if c.HintShare <= 0 || c.HintShare > 1 {
		c.HintShare = 0.5
	}
	if c.MaxHints <= 0 {
		c.MaxHints = 1000
	}
	def(&c.RetryMax, 10*time.Minute)
	if c.InstagramChecks == nil {
		c.InstagramChecks = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}
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
	ReasonRetry
	ReasonReconcile
	numReasons
)

func (r Reason) String() string {
	return [...]string{"hint", "discovery", "sending", "deletable", "retry", "reconcile"}[r]
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

// Smart implements the policy above. Next and Walked are called by one goroutine (the walk
// loop); Hint and Status may be called from any goroutine.
type Smart struct {
	cfg Config

	hintMu     sync.Mutex
	hints      []int64
	hinted     map[int64]bool
	hintTokens float64
	hintFilled time.Time
	goneUntil  map[int64]time.Time // conversations that answered 404/403 take no hints until then
	hintWake   *clock.Wake

	urgent    []int64
	urgentSet map[int64]bool
	queue     dueHeap
	queued    map[int64]due // conversation → its pending entry (older heap entries are stale)

	sig         map[int64]lmSig          // last known last_message per conversation
	rank        map[int64]int            // position in the previous page-1 listing
	partner     map[int64]partoo.Partner // channel, from listings
	backoff     map[int64]time.Duration  // Sending re-walk delay
	retry       map[int64]time.Duration  // delay before re-walking a conversation whose walk failed
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
	warnedNoLM    bool
	stats         Stats

	// What Status reports, written by the walk loop's goroutine, read by any.
	stMu   sync.Mutex
	status Status
}

// NewSmart returns the smart scheduler.
func NewSmart(cfg Config) *Smart {
	cfg.defaults()
	return &Smart{
		cfg: cfg, hinted: map[int64]bool{}, goneUntil: map[int64]time.Time{}, hintWake: clock.NewWake(),
		urgentSet: map[int64]bool{}, queued: map[int64]due{},
		sig: map[int64]lmSig{}, rank: map[int64]int{}, partner: map[int64]partoo.Partner{},
		backoff: map[int64]time.Duration{}, retry: map[int64]time.Duration{}, checks: map[int64]int{},
	}
}

// Stats returns cumulative counts.
func (s *Smart) Stats() Stats {
	st := s.stats
	st.RecencyOrdered = s.recency
	return st
}

// Next returns the conversation to walk now, spending discovery requests as needed. It blocks
// until there is something worth a request, or ctx ends.
func (s *Smart) Next(ctx context.Context) (int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if id, ok := s.popHint(false); ok {
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
			if s.queued[d.id] == d {
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
		// Nothing else wants this pick: a hint beyond its share may have it.
		if id, ok := s.popHint(true); ok {
			return s.pick(id, ReasonHint), nil
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

// wait sleeps up to d (at most one Tick), and returns early for a hint.
func (s *Smart) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 || d > s.cfg.Tick {
		d = s.cfg.Tick
	}
	return s.cfg.Clock.Wait(ctx, d, s.hintWake)
}

func (s *Smart) pick(id int64, r Reason) int64 {
	s.stats.Picked[r]++
	return id
}

// nextReconcile returns the next conversation of the reconciliation pass. A pass walks the
// listing one page at a time (so every conversation is covered, listed on page 1 or not,
// tracked or not) and then every tracked conversation the listing no longer showed; the
// listed last messages are compared on the way, for free. When the listing fails, the pass
// goes on with the tracked conversations it has not covered yet, and the next pass tries the
// listing again.
func (s *Smart) nextReconcile(ctx context.Context) (int64, bool, error) {
	for s.reconPos >= len(s.recon) {
		if s.reconDone || s.reconSeen == nil {
			if !s.startPass() {
				return 0, false, nil
			}
		}
		page, err := s.cfg.Partoo.ListConversations(ctx, partoo.ListConversationsParams{
			Cursor: s.reconCursor, BusinessIDs: s.cfg.BusinessIDs, MaxAttempts: 2})
		if err != nil {
			if ctx.Err() != nil || partoo.IsAuth(err) {
				return 0, false, err
			}
			s.cfg.Log.Warn("reconcile:"+partoo.ErrorKind(err),
				"reconciliation could not read the conversation listing; walking the conversations the state knows instead",
				"err", err, "error_kind", partoo.ErrorKind(err))
			s.recon, s.reconPos = s.recon[:0], 0
			if !s.addKnown() {
				return 0, false, nil
			}
			continue
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
		total := max(page.Count, len(s.reconSeen))
		s.setPass(func(p *Pass) { p.Total = max(p.Total, total) })
		if page.NextCursor != nil {
			s.reconCursor = *page.NextCursor
			continue
		}
		if !s.addKnown() {
			return 0, false, nil
		}
	}
	id := s.recon[s.reconPos]
	s.reconPos++
	last := s.reconDone && s.reconPos >= len(s.recon)
	now := s.cfg.Clock.Now()
	s.setPass(func(p *Pass) {
		p.Done++
		p.Total = max(p.Total, p.Done)
		if last {
			p.Phase, p.Finished = PhaseIdle, now
			if s.cfg.ReconcilePeriod > 0 {
				p.NextStart = p.Started.Add(s.cfg.ReconcilePeriod)
			}
		}
	})
	return id, true, nil
}

// startPass begins a reconciliation pass, unless the period of the last one is not over, or
// the last one walked nothing and began less than a discovery interval ago (an empty or
// failing listing is not read in a loop).
func (s *Smart) startPass() bool {
	now := s.cfg.Clock.Now()
	if s.reconSeen != nil {
		last := s.Status().Pass
		wait := s.cfg.ReconcilePeriod
		if last.Done == 0 {
			wait = max(wait, s.cfg.DiscoveryInterval)
		}
		if next := last.Started.Add(wait); now.Before(next) {
			s.setPass(func(p *Pass) { p.Phase, p.NextStart = PhaseIdle, next })
			return false
		}
	}
	s.reconCursor, s.reconSeen, s.reconDone = "", map[int64]bool{}, false
	s.recon, s.reconPos = s.recon[:0], 0
	s.stats.ReconcileCycles++
	phase := PhaseReconcile
	if s.stats.ReconcileCycles == 1 && len(s.cfg.Known()) == 0 {
		phase = PhaseSnapshot
	}
	s.setPass(func(p *Pass) { *p = Pass{Phase: phase, Number: s.stats.ReconcileCycles, Started: now} })
	return true
}

// addKnown ends the listing part of a pass: every tracked conversation the pass has not
// covered yet is walked too. It reports whether the pass has anything left to walk.
func (s *Smart) addKnown() bool {
	for _, id := range s.cfg.Known() {
		if !s.reconSeen[id] {
			s.reconSeen[id] = true
			s.recon = append(s.recon, id)
		}
	}
	s.reconDone = true
	s.setPass(func(p *Pass) { p.Total = max(p.Total, p.Done+len(s.recon)-s.reconPos) })
	return len(s.recon) > s.reconPos
}

func (s *Smart) markUrgent(id int64) {
	if !s.urgentSet[id] {
		s.urgentSet[id] = true
		s.urgent = append(s.urgent, id)
	}
}

// schedule asks for a walk of id at at. A conversation has one pending entry: a new request
// replaces it when it comes sooner or for a more urgent reason.
func (s *Smart) schedule(id int64, at time.Time, r Reason) {
	if cur, ok := s.queued[id]; ok && cur.reason <= r && !at.Before(cur.at) {
		return
	}
	s.queued[id] = due{at: at, id: id, reason: r}
	heap.Push(&s.queue, due{at: at, id: id, reason: r})
}

// Outcome is what the scheduler learns from a walk.
type Outcome struct {
	// Changed: the walk produced events.
	Changed bool
	// Gone: the conversation answered 404 or 403; it takes no hints for Config.GoneFor.
	Gone bool
	// Failed: the walk could not read every page, or its transaction did not commit: the
	// conversation is walked again after a delay that grows while it keeps failing.
	Failed bool
}

// Walked tells the scheduler a conversation was walked and what its state now is (nil if it
// has none).
func (s *Smart) Walked(id int64, st *diff.State, o Outcome) {
	now := s.cfg.Clock.Now()
	if o.Gone {
		s.hintMu.Lock()
		s.goneUntil[id] = now.Add(s.cfg.GoneFor)
		s.hintMu.Unlock()
	}
	if o.Failed {
		d := s.retry[id]
		if d == 0 {
			d = s.cfg.RetryMin
		} else {
			d = min(2*d, s.cfg.RetryMax)
		}
		s.retry[id] = d
		s.schedule(id, now.Add(d), ReasonRetry)
	} else {
		delete(s.retry, id)
	}
	// Sending: re-walk with a growing delay until every message is terminal.
	if st != nil && hasSending(st) {
		b := s.backoff[id]
		if b == 0 || o.Changed {
			b = s.cfg.SendingMinBackoff
		} else {
			b = min(b*3/2, s.cfg.SendingMaxBackoff)
		}
		s.backoff[id] = b
		s.schedule(id, now.Add(b), ReasonSending)
	} else {
		delete(s.backoff, id)
	}
	// Deletable channel: check again a few times after activity.
	if s.partner[id] == partoo.PartnerInstagram && len(s.cfg.InstagramChecks) > 0 {
		if o.Changed {
			s.checks[id] = 0
		}
		if i, ok := s.checks[id]; ok && i < len(s.cfg.InstagramChecks) {
			s.checks[id] = i + 1
			if _, pending := s.queued[id]; !pending {
				s.schedule(id, now.Add(s.cfg.InstagramChecks[i]), ReasonDeletable)
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
