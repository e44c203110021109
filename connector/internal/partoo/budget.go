package partoo

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// DefaultRequestsPerMinute is Partoo's default rate limit per organisation.
const DefaultRequestsPerMinute = 300

// AIMD tuning: how the budget gives way to the organisation's other API clients.
const (
	aimdDecrease     = 0.7              // a 429 multiplies our rate by this…
	aimdFloor        = 0.1              // …never below this share of the target rate…
	aimdDebounce     = 10 * time.Second // …at most once per this long (one burst of 429s is one signal)
	aimdIncrease     = 0.05             // then every aimdIncreaseEvery without a 429 adds this share back
	aimdIncreaseEach = 30 * time.Second
)

// Budget is the one gate every request passes through. It combines
//
//   - a token bucket refilled at the target rate — RequestsPerMinute less the Reserve, lowered
//     further while Partoo answers 429 (see below) — holding at most Burst tokens, which
//     spreads requests evenly;
//   - a hard cap: never more than RequestsPerMinute requests that Partoo's limiter, which
//     counts arrivals, can see within one 60 s window. A request counts from its start until
//     60 s plus its margin later: once it was answered (Answered), the time it took to its
//     answer — it cannot have arrived later — less the quickest answer seen lately (a new
//     request cannot arrive sooner after its start), at least Slack; while it is in flight,
//     the longest request duration seen in the last minute or two (up to MaxSlack). So the
//     margin follows each request's own latency, not the slowest one's;
//   - a pause that a 429's Retry-After sets for every caller.
//
// The organisation's budget is shared with its other integrations, so a 429 — which our own
// accounting never predicts — means someone else is spending it: the rate is multiplied by 0.7
// (at most once per 10 s, never below 10 % of the target), and recovers by 5 % of the target
// every 30 s without a 429 (additive increase, multiplicative decrease, as TCP does).
//
// A Budget is safe for concurrent use; waiters are served earliest deadline first (Wait).
type Budget struct {
	clock    clock.Clock
	limit    int
	reserve  float64
	burst    float64
	slack    time.Duration
	maxSlack time.Duration

	mu           sync.Mutex
	factor       float64 // AIMD share of the target rate, aimdFloor..1
	lastDecrease time.Time
	lastChange   time.Time
	tokens       float64
	refilled     time.Time
	starts       []time.Time     // request starts of the last 60 s + maxSlack, ascending
	margins      []time.Duration // per start: its margin once answered, -1 while in flight
	pausedUntil  time.Time
	waiters      []*waiter // callers in Wait
	seq          uint64
	latStart     time.Time // start of the current latency bucket (one minute)
	latCur       time.Duration
	latPrev      time.Duration
	latMinCur    time.Duration // the quickest answers of the current and previous latency buckets (0: none)
	latMinPrev   time.Duration
	latAvg       time.Duration // moving average of request durations (EWMA, 1/8)
	waited       time.Duration
	granted      int64
	throttled    int64
}

// BudgetConfig configures a Budget.
type BudgetConfig struct {
	// RequestsPerMinute is the organisation's limit. Default 300.
	RequestsPerMinute int
	// Reserve is the share of RequestsPerMinute left unused, for the organisation's other
	// integrations: 0 (default) to 0.9.
	Reserve float64
	// Burst is how many requests may go back to back after an idle spell. Default 5; it never
	// lets the hard per-window cap be exceeded.
	Burst int
	// Slack is the least margin added to the 60 s window of the hard cap, so that a request
	// sent 59.9 s after another cannot reach Partoo inside the same minute. Default 1 s.
	Slack time.Duration
	// MaxSlack bounds the margin when it grows with observed request durations. Default 10 s.
	MaxSlack time.Duration
	// Clock defaults to RealClock.
	Clock clock.Clock
}

// NewBudget returns a Budget. It is full: Burst requests may start at once.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.RequestsPerMinute < 0 {
		return nil, errors.New("partoo: requests per minute must be positive")
	}
	if cfg.Reserve < 0 || cfg.Reserve > 0.9 {
		return nil, errors.New("partoo: the budget reserve must be between 0 and 0.9")
	}
	if cfg.Burst == 0 {
		cfg.Burst = 5
	}
	if cfg.Burst < 0 || cfg.Burst > cfg.RequestsPerMinute {
		return nil, errors.New("partoo: burst must be between 1 and the requests per minute")
	}
	if cfg.Slack <= 0 {
		cfg.Slack = time.Second
	}
	if cfg.MaxSlack < cfg.Slack {
		cfg.MaxSlack = max(10*time.Second, cfg.Slack)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	now := cfg.Clock.Now()
	return &Budget{
		clock: cfg.Clock, limit: cfg.RequestsPerMinute, reserve: cfg.Reserve, burst: float64(cfg.Burst),
		slack: cfg.Slack, maxSlack: cfg.MaxSlack,
		factor: 1, lastChange: now, tokens: float64(cfg.Burst), refilled: now, latStart: now,
	}, nil
}

// RatePerMinute returns the rate the budget currently lets requests through at: the limit
// less the reserve, lowered while Partoo answers 429.
func (b *Budget) RatePerMinute() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recover(b.clock.Now())
	return b.rate()
}

// rate is the target (the limit less the reserve) lowered by the 429 slow-down.
func (b *Budget) rate() float64 { return float64(b.limit) * (1 - b.reserve) * b.factor }

// Wait blocks until one request may start, and takes it. It returns ctx.Err() if ctx ends
// first, in which case nothing is taken. Waiting requests are served earliest deadline
// first, a request's deadline being its arrival plus its Priority (see WithPriority): a walk
// for a fresh change goes ahead of the Sending re-walks and background work, yet nothing
// waits for ever however busy the budget is.
func (b *Budget) Wait(ctx context.Context) error {
	start := b.clock.Now()
	b.mu.Lock()
	b.seq++
	w := &waiter{arrival: start, seq: b.seq, ticket: ticketOf(ctx), wake: clock.NewWake()}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			b.leave(w)
			return err
		}
		b.mu.Lock()
		now := b.clock.Now()
		var d time.Duration
		if first := b.first(); first != w {
			// Not our turn: the one served before us wakes us (a safety net of a minute).
			first.wake.Signal()
			d = time.Minute
		} else if at := b.readyAt(now, w.need(now)); at.After(now) {
			d = at.Sub(now) // our turn, not yet a token
			if due := w.due(); due.After(now) && due.Before(at) {
				d = due.Sub(now) // needs fewer tokens then
			}
		} else {
			b.take(now)
			b.waited += now.Sub(start)
			b.granted++
			b.remove(w)
			w.ticket.started.Store(true)
			if next := b.first(); next != nil {
				next.wake.Signal()
			}
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		if err := b.clock.Wait(ctx, d, w.wake); err != nil {
			b.leave(w)
			return err
		}
	}
}

// first returns the waiter to serve next: the earliest deadline, then the earliest arrival.
// Call with mu held.
func (b *Budget) first() *waiter {
	var best *waiter
	var bestAt time.Time
	for _, w := range b.waiters {
		at := w.due()
		if best == nil || at.Before(bestAt) || (at.Equal(bestAt) && w.seq < best.seq) {
			best, bestAt = w, at
		}
	}
	return best
}

// remove takes w out of the waiters. Call with mu held.
func (b *Budget) remove(w *waiter) bool {
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// leave removes a waiter that gave up, and hands the turn on.
func (b *Budget) leave(w *waiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.remove(w) {
		if next := b.first(); next != nil {
			next.wake.Signal()
		}
	}
}

// waiter is one request waiting in Budget.Wait.
type waiter struct {
	arrival time.Time
	seq     uint64
	ticket  *Ticket
	wake    *clock.Wake
}

// due is w's deadline: its arrival plus its priority.
func (w *waiter) due() time.Time { return w.arrival.Add(time.Duration(w.ticket.Priority())) }

// need is the tokens the bucket must hold for w to take one: a request less urgent than
// PriorityNormal leaves two to the urgent ones that may come next (a discovery and the walk it
// asks for), so that they do not wait for the bucket to refill — until its deadline, after
// which it takes the next token like any other.
func (w *waiter) need(now time.Time) float64 {
	if w.ticket.Priority() > PriorityNormal && now.Before(w.due()) {
		return 3
	}
	return 1
}

// Priority is how long a request waiting for the budget lets requests that arrive after it
// go first: the budget serves the earliest arrival + Priority. Zero is the most urgent.
type Priority time.Duration

// PriorityNormal is the default; PriorityLow is background work, which yields to everything
// that arrives within a minute after it and never takes the bucket's last token.
const (
	PriorityNormal Priority = 0
	PriorityLow             = Priority(time.Minute)
)

// A Ticket is the place at the budget of a unit of work (a walk) that makes requests: its
// priority, which may be raised while its requests wait (a background walk that a fresh
// change now waits for becomes urgent), and whether one of its requests has started.
type Ticket struct {
	prio    atomic.Int64
	started atomic.Bool
}

// NewTicket returns a Ticket with priority p.
func NewTicket(p Priority) *Ticket {
	t := &Ticket{}
	t.prio.Store(int64(p))
	return t
}

// Priority returns the current priority.
func (t *Ticket) Priority() Priority { return Priority(t.prio.Load()) }

// Raise makes the priority at least as urgent as p.
func (t *Ticket) Raise(p Priority) {
	for {
		cur := t.prio.Load()
		if int64(p) >= cur || t.prio.CompareAndSwap(cur, int64(p)) {
			return
		}
	}
}

// Started reports whether a request with this ticket has been let through: everything the
// work reads from now on is read after this moment.
func (t *Ticket) Started() bool { return t.started.Load() }

type ticketKey struct{}

// WithPriority returns a context whose requests wait for the budget with priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return WithTicket(ctx, NewTicket(p))
}

// WithTicket returns a context whose requests wait for the budget with t.
func WithTicket(ctx context.Context, t *Ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

// ticketOf returns ctx's ticket, or a fresh one of normal priority.
func ticketOf(ctx context.Context) *Ticket {
	if t, ok := ctx.Value(ticketKey{}).(*Ticket); ok {
		return t
	}
	return NewTicket(PriorityNormal)
}

// window is the hard cap's window: 60 s plus the margin. Call with mu held.
func (b *Budget) window(now time.Time) time.Duration {
	if now.Sub(b.latStart) >= 2*time.Minute {
		b.latPrev, b.latCur, b.latStart = 0, 0, now
		b.latMinPrev, b.latMinCur = 0, 0
	} else if now.Sub(b.latStart) >= time.Minute {
		b.latPrev, b.latCur, b.latStart = b.latCur, 0, now
		b.latMinPrev, b.latMinCur = b.latMinCur, 0
	}
	m := min(max(b.slack, b.latPrev, b.latCur), b.maxSlack)
	return time.Minute + m
}

// readyAt is the earliest time a request may start. Call with mu held.
func (b *Budget) readyAt(now time.Time, need float64) time.Time {
	b.refill(now)
	at := now
	if need = min(need, b.burst); b.tokens < need {
		at = now.Add(time.Duration((need - b.tokens) * float64(b.interval())))
	}
	b.prune(now)
	if n := len(b.starts); n >= b.limit {
		// The time by which enough requests have left every window a new one can share.
		leaves := b.leaves(now)
		if free := leaves[n-b.limit]; free.After(at) {
			at = free
		}
	}
	if b.pausedUntil.After(at) {
		at = b.pausedUntil
	}
	return at
}

func (b *Budget) interval() time.Duration {
	return time.Duration(float64(time.Minute) / b.rate())
}

// recover applies the additive increase due since the last change. Call with mu held.
func (b *Budget) recover(now time.Time) {
	if b.factor >= 1 {
		return
	}
	if steps := int(now.Sub(b.lastChange) / aimdIncreaseEach); steps > 0 {
		b.factor = min(1, b.factor+float64(steps)*aimdIncrease)
		b.lastChange = b.lastChange.Add(time.Duration(steps) * aimdIncreaseEach)
	}
}

func (b *Budget) refill(now time.Time) {
	b.recover(now)
	if elapsed := now.Sub(b.refilled); elapsed > 0 {
		b.tokens += float64(elapsed) / float64(b.interval())
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.refilled = now
	}
}

// leaves returns, sorted, when each recorded start stops counting: 60 s plus its margin after
// it. Call with mu held.
func (b *Budget) leaves(now time.Time) []time.Time {
	inFlight := b.window(now) - time.Minute
	out := make([]time.Time, len(b.starts))
	for i, st := range b.starts {
		m := b.margins[i]
		if m < 0 {
			m = inFlight
		}
		out[i] = st.Add(time.Minute + min(max(m, b.slack), b.maxSlack))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// prune drops starts that can no longer be in any window. Call with mu held.
func (b *Budget) prune(now time.Time) {
	cut := now.Add(-time.Minute - b.maxSlack)
	i := sort.Search(len(b.starts), func(i int) bool { return b.starts[i].After(cut) })
	if i > 0 {
		b.starts = append(b.starts[:0], b.starts[i:]...)
		b.margins = append(b.margins[:0], b.margins[i:]...)
	}
}

func (b *Budget) take(now time.Time) {
	b.tokens--
	b.starts = append(b.starts, now)
	b.margins = append(b.margins, -1)
}

// Answered records that the request granted at granted got its answer (or gave up) elapsed
// later: it cannot have reached Partoo after that, and no request reaches it sooner after its
// start than the quickest answer seen lately, so it stops counting against the hard cap 60 s
// plus the difference after its start. Call it once per request, after ObserveLatency.
func (b *Budget) Answered(granted time.Time, elapsed time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.window(b.clock.Now())
	quickest := b.latMinCur
	if b.latMinPrev > 0 && (quickest == 0 || b.latMinPrev < quickest) {
		quickest = b.latMinPrev
	}
	// The latest start at or before granted still in flight is this request's (concurrent
	// grants within a few microseconds may swap: their margins differ as little).
	for i := sort.Search(len(b.starts), func(i int) bool { return b.starts[i].After(granted) }) - 1; i >= 0; i-- {
		if b.margins[i] < 0 {
			b.margins[i] = max(granted.Sub(b.starts[i])+elapsed-quickest, 0)
			return
		}
	}
}

// Pause stops every request from starting before until. An earlier time than a pause already
// in force is ignored.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	b.mu.Unlock()
}

// RateLimited records a 429: every request pauses until until (its Retry-After), and the rate
// is lowered (see Budget).
func (b *Budget) RateLimited(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.throttled++
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	b.recover(now)
	if b.lastDecrease.IsZero() || now.Sub(b.lastDecrease) >= aimdDebounce {
		b.factor = max(aimdFloor, b.factor*aimdDecrease)
		b.lastDecrease, b.lastChange = now, now
		b.tokens = min(b.tokens, 0)
	}
}

// ObserveLatency records a request's duration; the hard cap's margin follows the longest.
func (b *Budget) ObserveLatency(d time.Duration) {
	b.mu.Lock()
	b.window(b.clock.Now())
	b.latCur = max(b.latCur, d)
	if b.latMinCur == 0 || d < b.latMinCur {
		b.latMinCur = d
	}
	if b.latAvg == 0 {
		b.latAvg = d
	} else {
		b.latAvg += (d - b.latAvg) / 8
	}
	b.mu.Unlock()
}

// Latency is the moving average of request durations (0 before the first answer).
func (b *Budget) Latency() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latAvg
}

// PausedUntil returns the end of the current pause (zero if none was ever set).
func (b *Budget) PausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pausedUntil
}

// Available reports how many requests could start right now without waiting.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.refill(now)
	if b.pausedUntil.After(now) {
		return 0
	}
	n := int(b.tokens)
	leaves := b.leaves(now)
	inWindow := len(leaves) - sort.Search(len(leaves), func(i int) bool { return leaves[i].After(now) })
	if free := b.limit - inWindow; free < n {
		n = free
	}
	return max(n, 0)
}

// BudgetStats are cumulative figures for metrics.
type BudgetStats struct {
	Granted       int64         // requests let through
	Waited        time.Duration // total time callers spent waiting
	RateLimited   int64         // 429s recorded
	RatePerMinute float64       // the current rate (after the reserve and any 429 slow-down)
}

// Stats returns cumulative figures.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recover(b.clock.Now())
	return BudgetStats{Granted: b.granted, Waited: b.waited, RateLimited: b.throttled, RatePerMinute: b.rate()}
}
