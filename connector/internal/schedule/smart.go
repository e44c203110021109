package schedule

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

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
