// Package schedule decides which conversation to walk next, spending Partoo's request budget
// where changes are likely. Two schedulers implement the Scheduler interface: Smart (the
// default) and Sweep (every conversation in turn).
//
// Smart picks, in this order:
//
//  1. reconciliation, whenever it is behind its guaranteed share of the picks
//     (ReconcileShare): the safety net is never starved, even at saturation;
//  2. webhook hints (Hint), within their share of the budget (HintShare);
//  3. conversations that discovery found changed: GET /conversations lists them with their
//     last_message, so a new message, a new status or a deletion of the last message shows
//     without walking; with the listing ordered by recent activity, a conversation that moved
//     up the list had activity too, and page 1 (one request) is enough. Discovery runs on its
//     own goroutine at its own cadence (DiscoveryInterval), whatever else is going on;
//  4. conversations with a message in Sending, re-walked with a growing delay until terminal;
//     Instagram conversations (the channel where consumers delete messages), re-checked a few
//     times after activity; conversations whose last walk failed, after a delay of RetryMin
//     doubling to RetryMax — nothing else walks them before it runs out;
//  5. with what is left, a reconciliation walk of every conversation in turn: the first pass
//     over an organisation is its snapshot. ReconcilePeriod paces it: a pass that finishes
//     early waits for the period's end instead of spending every leftover request; and a
//     pass never begins sooner than DiscoveryInterval after the previous one, so that a small
//     organisation is not walked in a loop (when page 1 holds the whole listing, the pass
//     takes it from discovery rather than read it again). The first pass after a start walks
//     the conversations the state does not know first: a snapshot cut short by a restart goes
//     on where it was, and is reported as the snapshot.
//
// A conversation discovery lists but the state has never seen is left to reconciliation
// unless its last message is recent (LiveWindow): during a first snapshot, discovery keeps
// reporting live changes instead of turning into a second, competing snapshot.
//
// Whether the listing really puts the most recently active first is checked at run time on
// every discovery page (last_message dates must mostly descend); while it does not hold,
// discovery reads every page of /conversations, paced, comparing each last_message.
//
// Scope comes from Partoo, never from a webhook: discovery and reconciliation read the listing
// filtered by business (Config.BusinessIDs), and with a filter set, a hint for a conversation
// the state does not know is walked only after GET /conversations/{id} says its business is
// one of the filter's (Hint).
//
// The listing is never a single point of failure: a failed discovery is logged, counted
// (Status) and tried again at the next interval, and while the listing fails reconciliation
// walks the conversations the state already knows.
//
// Concurrency: Next is called by one goroutine (the dispatcher of the walks), Walked by the
// goroutine that commits them; Hint and Status by any. Discovery and the reconciliation's
// listing run on goroutines of their own, started with Config.Go.
package schedule

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/ratelog"
)

// Config tunes the scheduler. Zero values take the defaults in brackets.
type Config struct {
	Partoo *partoo.Client // required
	Clock  clock.Clock    // [wall clock]
	// Go starts the scheduler's own goroutines (discovery, listing) [go f()]. Simulations
	// pass clock.Event's Go.
	Go func(f func())
	// State returns the recorded state of a conversation (nil if none). Required.
	State func(id int64) *diff.State
	// Known lists every tracked conversation, for reconciliation.
	Known func() []int64
	// BusinessIDs (PARTOO_BUSINESS_IDS) filters the listing (business__in); with it set, a
	// hint for a conversation the state does not know is walked only once Partoo says its
	// business is one of these (Hint).
	BusinessIDs []string
	// Log gets the listing failures (rate-limited). Default: none.
	Log *ratelog.Logger
	// DiscoveryInterval between two polls of /conversations page 1 [2 s].
	DiscoveryInterval time.Duration
	// SnapshotDiscoveryInterval is the longest discovery interval while the first snapshot
	// runs [7 s]: the interval stretches towards it while discoveries find nothing, so the
	// snapshot of a quiet organisation gets about 97 % of the budget (it ends within 1.05
	// times conversations ÷ rate), and comes back to DiscoveryInterval when they find changes.
	SnapshotDiscoveryInterval time.Duration
	// FallbackPageInterval paces the pages of a full discovery while the listing is not in
	// recency order [500 ms].
	FallbackPageInterval time.Duration
	// LiveWindow: a conversation never walked is urgent for discovery only when its last
	// message is at most this old at the scheduler's start [10 min]; older ones wait for
	// the reconciliation (the snapshot).
	LiveWindow time.Duration
	// SendingMinBackoff and Max bound the delay between re-walks of a conversation with a
	// message in Sending; the delay grows ×1.5 [2 s, 30 s].
	SendingMinBackoff, SendingMaxBackoff time.Duration
	// InstagramChecks are the delays after activity at which an Instagram conversation is
	// walked again to catch deletions [1 m, 5 m, 30 m].
	InstagramChecks []time.Duration
	// ReconcileShare is the least share of the budget's rate reconciliation gets whenever it
	// has work, however much else is due [0.2]: at saturation a pass over N conversations
	// takes at most about N ÷ (ReconcileShare × the rate).
	ReconcileShare float64
	// ReconcilePeriod is the target duration of a reconciliation pass: a pass that ends
	// sooner waits for the rest of the period before the next begins [0: no wait, the next
	// pass starts at once with whatever budget is left]. Whatever the period, a pass never
	// begins sooner than DiscoveryInterval after the previous one began: a small
	// organisation's conversations are not walked, nor its listing read, in a loop.
	ReconcilePeriod time.Duration
	// RetryMin and RetryMax bound the delay before a conversation whose walk failed is walked
	// again; it doubles at each failure in a row [10 s, 10 min]. Nothing walks it meanwhile:
	// not reconciliation (a pass counts it as covered), discovery, a Sending re-walk, an
	// Instagram check nor a hint.
	RetryMin, RetryMax time.Duration
	// RecencyThreshold is the share of adjacent listed conversations whose last_message dates
	// must descend (within RecencyTolerance) for the listing to count as recency-ordered [0.9].
	RecencyThreshold float64
	// RecencyTolerance is how much a later-listed last message may be newer [5 min].
	RecencyTolerance time.Duration
	// Tick bounds each wait of Next, a safety net: every change of what is due wakes it
	// anyway [1 s].
	Tick time.Duration
	// HintShare is the share of the budget's rate that hints may take ahead of other work;
	// beyond it they wait for a pick nothing else wants [0.5].
	HintShare float64
	// MaxHints caps the hints waiting; more are dropped (Hint says so) [1,000].
	MaxHints int
	// GoneFor is how long a conversation that answered 404 or 403 takes no hints [10 min].
	GoneFor time.Duration
	// OutsideFor is how long a conversation Partoo said belongs to a business outside
	// BusinessIDs takes no hints (see Hint) [1 h].
	OutsideFor time.Duration
	// Prefetch is how many conversations the reconciliation keeps listed ahead [100].
	Prefetch int
}

func (c *Config) defaults() {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Go == nil {
		c.Go = func(f func()) { go f() }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DiscoveryInterval, 2*time.Second)
	def(&c.SnapshotDiscoveryInterval, 7*time.Second)
	def(&c.FallbackPageInterval, 500*time.Millisecond)
	def(&c.LiveWindow, 10*time.Minute)
	def(&c.SendingMinBackoff, 2*time.Second)
	def(&c.SendingMaxBackoff, 30*time.Second)
	def(&c.Tick, time.Second)
	def(&c.RetryMin, 10*time.Second)
	def(&c.RetryMax, 10*time.Minute)
	def(&c.GoneFor, 10*time.Minute)
	def(&c.OutsideFor, time.Hour)
	def(&c.RecencyTolerance, DefaultRecencyTolerance)
	if c.HintShare <= 0 || c.HintShare > 1 {
		c.HintShare = 0.5
	}
	if c.ReconcileShare <= 0 || c.ReconcileShare > 1 {
		c.ReconcileShare = 0.2
	}
	if c.MaxHints <= 0 {
		c.MaxHints = 1000
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 100
	}
	if c.InstagramChecks == nil {
		c.InstagramChecks = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}
	}
	if c.RecencyThreshold <= 0 {
		c.RecencyThreshold = DefaultRecencyThreshold
	}
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

// Reasons lists every reason, for metrics.
var Reasons = []Reason{ReasonHint, ReasonDiscovery, ReasonSending, ReasonDeletable, ReasonRetry, ReasonReconcile}

func (r Reason) String() string {
	return [...]string{"hint", "discovery", "sending", "deletable", "retry", "reconcile"}[r]
}

// Pick is the scheduler's answer: a conversation to walk, and why.
type Pick struct {
	ID     int64
	Reason Reason
	// Background: work that may wait for everything else (reconciliation with the budget
	// left over). Its requests yield to all others at the budget, and the runner holds it to
	// the walks the budget can use, keeping the other slots for fresh changes.
	Background bool
}

// Priority is the pick's place in the budget's queue (partoo.Client.WithPriority: how long its
// requests let later ones go first). Fresh changes (webhook hints, discovery) 0 — a flood of
// hints cannot fill the queue, as the runner holds them to a few walks in flight;
// reconciliation's guaranteed share 1 s; Sending re-walks 3 s; Instagram checks and retries
// 6 s; background work a minute.
func (p Pick) Priority() budget.Priority {
	switch {
	case p.Background:
		return budget.PriorityLow
	case p.Reason == ReasonHint || p.Reason == ReasonDiscovery:
		return budget.PriorityNormal
	case p.Reason == ReasonSending:
		return PrioritySending
	case p.Reason == ReasonDeletable || p.Reason == ReasonRetry:
		return budget.Priority(6 * time.Second)
	}
	return budget.Priority(time.Second) // reconciliation's share
}

// PrioritySending is the priority of Sending re-walks, and of the reconciliation's listing.
const PrioritySending = budget.Priority(3 * time.Second)

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
	status  model.Status
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

// Smart implements the policy of the package doc.
type Smart struct {
	cfg     Config
	started time.Time
	wake    *clock.Wake // signalled whenever what is due may have changed

	hintMu     sync.Mutex
	hints      []int64
	hinted     map[int64]bool
	hintTokens float64
	hintFilled time.Time
	goneUntil  map[int64]time.Time // conversations that answered 404/403 take no hints until then
	toCheck    []int64             // hinted conversations waiting for a scope check (scope.go)
	checkSet   map[int64]bool
	checking   bool                // the scope checks' goroutine runs
	inScope    map[int64]bool      // checked: of a business in BusinessIDs
	outside    map[int64]time.Time // checked: of another business; no hints until then

	mu          sync.Mutex // guards everything below
	urgent      []int64
	urgentSet   map[int64]bool
	queue       dueHeap
	queued      map[int64]due           // conversation → its pending entry (older heap entries are stale)
	sig         map[int64]lmSig         // last listed last_message per conversation
	rank        map[int64]int           // position in the previous page-1 listing
	partner     map[int64]model.Partner // channel, from listings
	backoff     map[int64]time.Duration // Sending re-walk delay
	retry       retries                 // conversations whose walks failed, held back for a growing delay
	checks      map[int64]int           // next deletable check index
	reconCredit float64                 // walks owed to reconciliation (accrueReconCredit)
	creditAt    time.Time
	pass        reconPass
	discovering bool
	// quietDiscoveries counts the discoveries in a row that found no change.
	quietDiscoveries int
	fatal            error // an error of a background goroutine that must stop the connector

	nextDiscovery   time.Time
	recency         bool
	recencyKnown    bool
	fallbackCur     string    // cursor of a full discovery in progress
	fallbackStarted time.Time // when the last full discovery read page 1
	// whole is the complete listing when page 1 held it all (a small organisation), read by
	// discovery at wholeAt.
	whole      []int64
	wholeAt    time.Time
	warnedNoLM bool
	stats      Stats

	// What Status reports, written under mu, read by any goroutine.
	stMu   sync.Mutex
	status Status
}

// NewSmart returns the smart scheduler.
func NewSmart(cfg Config) *Smart {
	cfg.defaults()
	return &Smart{
		cfg: cfg, started: cfg.Clock.Now(), wake: clock.NewWake(),
		hinted: map[int64]bool{}, goneUntil: map[int64]time.Time{},
		checkSet: map[int64]bool{}, inScope: map[int64]bool{}, outside: map[int64]time.Time{},
		urgentSet: map[int64]bool{}, queued: map[int64]due{},
		sig: map[int64]lmSig{}, rank: map[int64]int{}, partner: map[int64]model.Partner{},
		backoff: map[int64]time.Duration{}, retry: newRetries(cfg.RetryMin, cfg.RetryMax), checks: map[int64]int{},
	}
}

// Shares returns the shares of the budget's rate the scheduler guarantees reconciliation and
// lets webhook hints take ahead of other work (Config.ReconcileShare and HintShare, defaults
// applied).
func (s *Smart) Shares() (reconcile, hints float64) { return s.cfg.ReconcileShare, s.cfg.HintShare }

// Stats returns cumulative counts.
func (s *Smart) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.RecencyOrdered = s.recency
	return st
}

// Next returns the conversation to walk now (see Scheduler). It blocks until something is
// worth a request, or ctx ends; it does no request itself (discovery and the reconciliation's
// listing run on their own goroutines).
func (s *Smart) Next(ctx context.Context, room func(Pick) bool) (Pick, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Pick{}, err
		}
		now := s.cfg.Clock.Now()
		s.mu.Lock()
		if err := s.fatal; err != nil {
			s.mu.Unlock()
			return Pick{}, err
		}
		s.startDiscovery(ctx, now)
		s.startChecks(ctx)
		s.reconcileMaintain(ctx, now)
		p, ok := s.pickLocked(now, room)
		wake := s.nextWake(now)
		s.mu.Unlock()
		if ok {
			return p, nil
		}
		d := wake.Sub(now)
		if d <= 0 || d > s.cfg.Tick {
			d = s.cfg.Tick
		}
		if err := s.cfg.Clock.Wait(ctx, d, s.wake); err != nil {
			return Pick{}, err
		}
	}
}

// pickLocked chooses by the order of the package doc, among the picks the runner has room
// for. Call with mu held.
func (s *Smart) pickLocked(now time.Time, room func(Pick) bool) (Pick, bool) {
	s.accrueReconCredit(now)
	if s.pass.available() && s.reconCredit >= 1 && room(Pick{Reason: ReasonReconcile}) {
		// Reconciliation is behind its share: this pick is owed to it.
		if id, ok := s.takeFromPass(now); ok {
			return s.pick(id, ReasonReconcile), true
		}
	}
	hintRoom := room(Pick{Reason: ReasonHint})
	if hintRoom {
		if id, ok := s.popHintNotHeld(false, now); ok {
			return s.pick(id, ReasonHint), true
		}
	}
	for len(s.urgent) > 0 {
		id := s.urgent[0]
		s.urgent = s.urgent[1:]
		delete(s.urgentSet, id)
		if s.retry.held(id, now) {
			continue // its retry walks it when the delay runs out
		}
		return s.pick(id, ReasonDiscovery), true
	}
	for len(s.queue) > 0 && !s.queue[0].at.After(now) {
		d := heap.Pop(&s.queue).(due)
		if s.queued[d.id] != d {
			continue // stale
		}
		delete(s.queued, d.id)
		if s.retry.held(d.id, now) {
			// A Sending re-walk or a check due while the conversation backs off: its retry
			// walks it.
			s.scheduleRetry(d.id, s.retry.until[d.id])
			continue
		}
		return s.pick(d.id, d.reason), true
	}
	if s.pass.available() && room(Pick{Reason: ReasonReconcile, Background: true}) {
		if id, ok := s.takeFromPass(now); ok {
			p := s.pick(id, ReasonReconcile)
			p.Background = true
			return p, true
		}
	}
	// Nothing else wants this pick: a hint beyond its share may have it.
	if hintRoom {
		if id, ok := s.popHintNotHeld(true, now); ok {
			return s.pick(id, ReasonHint), true
		}
	}
	return Pick{}, false
}

// takeFromPass returns the pass's next conversation that is not backing off after failed
// walks (its retry walks it when its delay runs out; the pass counts it as covered). Call with
// mu held.
func (s *Smart) takeFromPass(now time.Time) (int64, bool) {
	for s.pass.available() {
		if id := s.pass.take(s); !s.retry.held(id, now) {
			return id, true
		}
	}
	return 0, false
}

// popHintNotHeld is popHint, leaving out the hints for conversations that back off after
// failed walks: their retry walks them when the delay runs out. Call with mu held.
func (s *Smart) popHintNotHeld(force bool, now time.Time) (int64, bool) {
	for {
		id, ok := s.popHint(force)
		if !ok || !s.retry.held(id, now) {
			return id, ok
		}
	}
}

// nextWake is when something may become due without anybody signalling it. Call with mu held.
func (s *Smart) nextWake(now time.Time) time.Time {
	wake := now.Add(s.cfg.Tick)
	if !s.discovering && s.nextDiscovery.Before(wake) {
		wake = s.nextDiscovery
	}
	if len(s.queue) > 0 && s.queue[0].at.Before(wake) {
		wake = s.queue[0].at
	}
	if t := s.pass.nextStart; !t.IsZero() && t.Before(wake) {
		wake = t
	}
	return wake
}

// discoveryInterval is the interval to the next discovery. While the first snapshot runs it
// stretches ×1.5 with each discovery in a row that found nothing, up to
// SnapshotDiscoveryInterval, and snaps back when one finds a change: a quiet organisation's
// snapshot gets nearly the whole budget, a busy one's live changes keep their cadence. Call
// with mu held.
func (s *Smart) discoveryInterval() time.Duration {
	d := s.cfg.DiscoveryInterval
	if s.pass.active && s.pass.snapshot {
		for i := 0; i < s.quietDiscoveries && d < s.cfg.SnapshotDiscoveryInterval; i++ {
			d = d * 3 / 2
		}
		d = min(d, max(s.cfg.DiscoveryInterval, s.cfg.SnapshotDiscoveryInterval))
	}
	return d
}

func (s *Smart) pick(id int64, r Reason) Pick {
	s.stats.Picked[r]++
	if r == ReasonReconcile {
		// A surplus is banked for a minute's worth of the share at most: a burst of fresh
		// changes may borrow that long before reconciliation claims its share back.
		s.reconCredit = max(s.reconCredit-1, -s.reconSharePerMinute())
	}
	return Pick{ID: id, Reason: r}
}

func (s *Smart) reconSharePerMinute() float64 {
	return s.cfg.ReconcileShare * s.cfg.Partoo.Budget().RatePerMinute()
}

// accrueReconCredit adds what reconciliation is owed since the last call: ReconcileShare of
// the budget's rate. Its walks, background or not, pay it back; while they keep up on their
// own (the budget is not saturated) the credit stays below one and nothing is forced. A
// debt is capped at a few walks. Call with mu held.
func (s *Smart) accrueReconCredit(now time.Time) {
	if !s.creditAt.IsZero() && now.After(s.creditAt) {
		s.reconCredit = min(s.reconCredit+s.reconSharePerMinute()*now.Sub(s.creditAt).Minutes(), 3)
	}
	s.creditAt = now
}

func (s *Smart) markUrgent(id int64) {
	s.hintMu.Lock()
	hinted := s.hinted[id]
	s.hintMu.Unlock()
	if hinted {
		return // a hint waits for this conversation: its walk will see the change too
	}
	if !s.urgentSet[id] {
		s.urgentSet[id] = true
		s.urgent = append(s.urgent, id)
	}
}

// schedule asks for a walk of id at at. A conversation has one pending entry: a new request
// replaces it when it comes sooner or for a more urgent reason. Call with mu held.
func (s *Smart) schedule(id int64, at time.Time, r Reason) {
	if cur, ok := s.queued[id]; ok && cur.reason <= r && !at.Before(cur.at) {
		return
	}
	s.queued[id] = due{at: at, id: id, reason: r}
	heap.Push(&s.queue, due{at: at, id: id, reason: r})
}

// scheduleRetry makes a walk at at, for a retry, the conversation's pending entry, whatever
// was pending. Call with mu held.
func (s *Smart) scheduleRetry(id int64, at time.Time) {
	s.queued[id] = due{at: at, id: id, reason: ReasonRetry}
	heap.Push(&s.queue, due{at: at, id: id, reason: ReasonRetry})
}

// setFatal records an error that must stop the connector (a rejected key).
func (s *Smart) setFatal(err error) {
	s.mu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.mu.Unlock()
	s.wake.Signal()
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
	s.mu.Lock()
	if o.Failed {
		// Nothing else walks it before the delay runs out (pickLocked): not reconciliation,
		// discovery, a Sending re-walk nor a hint. Its state did not move: whatever was due
		// for it stays due, and the retry's walk does it.
		s.scheduleRetry(id, s.retry.failed(id, now))
		s.mu.Unlock()
		s.wake.Signal()
		return
	}
	s.retry.succeeded(id)
	// Sending: re-walk with a growing delay until every message is terminal. When the only
	// message in Sending is the conversation's last one and the conversation is on page 1 of
	// a recency-ordered listing, discovery sees its status change in the listing's
	// last_message: the re-walk is only a safety net, at the longest delay.
	if st != nil && hasSending(st) {
		b := s.backoff[id]
		_, onPage1 := s.rank[id]
		switch {
		case s.recency && onPage1 && onlyLastSending(st):
			b = s.cfg.SendingMaxBackoff
		case b == 0 || o.Changed:
			b = s.cfg.SendingMinBackoff
		default:
			b = min(b*3/2, s.cfg.SendingMaxBackoff)
		}
		s.backoff[id] = b
		s.schedule(id, now.Add(b), ReasonSending)
	} else {
		delete(s.backoff, id)
	}
	// Deletable channel: check again a few times after activity — live activity, not the
	// history a snapshot walk reads for the first time.
	if s.partner[id] == model.PartnerInstagram && len(s.cfg.InstagramChecks) > 0 {
		if o.Changed && st != nil && now.Sub(newest(st)) <= s.cfg.InstagramChecks[len(s.cfg.InstagramChecks)-1] {
			s.checks[id] = 0
		}
		if i, ok := s.checks[id]; ok && i < len(s.cfg.InstagramChecks) {
			s.checks[id] = i + 1
			if _, pending := s.queued[id]; !pending {
				s.schedule(id, now.Add(s.cfg.InstagramChecks[i]), ReasonDeletable)
			}
		}
	}
	s.mu.Unlock()
	s.wake.Signal()
}

// newest is the date of the conversation's newest recorded message.
func newest(st *diff.State) time.Time {
	var us int64
	for _, m := range st.Messages {
		us = max(us, m.DateMicros)
	}
	return time.UnixMicro(us)
}

// onlyLastSending reports whether the conversation's newest message is its only one in
// Sending.
func onlyLastSending(st *diff.State) bool {
	n := len(st.Messages)
	if n == 0 || st.Messages[n-1].Status != diff.StatusSending {
		return false
	}
	for _, m := range st.Messages[:n-1] {
		if m.Status == diff.StatusSending {
			return false
		}
	}
	return true
}

func hasSending(st *diff.State) bool {
	for _, m := range st.Messages {
		if m.Status == diff.StatusSending {
			return true
		}
	}
	return false
}
