package partoo

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultRequestsPerMinute is Partoo's default rate limit per organisation.
const DefaultRequestsPerMinute = 300

// Budget is the one gate every request passes through. It combines
//
//   - a token bucket refilled at RequestsPerMinute/60 per second, holding at most Burst
//     tokens, which spreads requests evenly, and
//   - a hard cap: never more than RequestsPerMinute request starts in any Window (60 s plus a
//     small slack for network jitter), which is what Partoo's limiter counts,
//
// plus a pause that a 429's Retry-After sets for every caller. A Budget is safe for concurrent
// use; waiters are served in no particular order.
type Budget struct {
	clock    Clock
	limit    int
	window   time.Duration
	interval time.Duration // one token per interval
	burst    float64

	mu          sync.Mutex
	tokens      float64
	refilled    time.Time
	starts      []time.Time // ring of the last `limit` request starts
	head        int
	pausedUntil time.Time
	waited      time.Duration
	granted     int64
}

// BudgetConfig configures a Budget.
type BudgetConfig struct {
	// RequestsPerMinute is the organisation's limit. Default 300.
	RequestsPerMinute int
	// Burst is how many requests may go back to back after an idle spell. Default 5; it never
	// lets the hard per-window cap be exceeded.
	Burst int
	// Slack widens the 60 s window of the hard cap so that a request sent 59.9 s after another
	// cannot reach Partoo inside the same minute. Default 1 s.
	Slack time.Duration
	// Clock defaults to RealClock.
	Clock Clock
}

// NewBudget returns a Budget. It is full: Burst requests may start at once.
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.RequestsPerMinute < 0 {
		return nil, errors.New("partoo: requests per minute must be positive")
	}
	if cfg.Burst == 0 {
		cfg.Burst = 5
	}
	if cfg.Burst < 0 || cfg.Burst > cfg.RequestsPerMinute {
		return nil, errors.New("partoo: burst must be between 1 and the requests per minute")
	}
	if cfg.Slack == 0 {
		cfg.Slack = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	window := time.Minute + cfg.Slack
	return &Budget{
		clock:    cfg.Clock,
		limit:    cfg.RequestsPerMinute,
		window:   window,
		interval: window / time.Duration(cfg.RequestsPerMinute),
		burst:    float64(cfg.Burst),
		tokens:   float64(cfg.Burst),
		refilled: cfg.Clock.Now(),
		starts:   make([]time.Time, cfg.RequestsPerMinute),
	}, nil
}

// RequestsPerMinute returns the configured limit.
func (b *Budget) RequestsPerMinute() int { return b.limit }

// Wait blocks until one request may start, and takes it. It returns ctx.Err() if ctx ends
// first, in which case nothing is taken.
func (b *Budget) Wait(ctx context.Context) error {
	start := b.clock.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		now := b.clock.Now()
		at := b.readyAt(now)
		if !at.After(now) {
			b.take(now)
			b.waited += now.Sub(start)
			b.granted++
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		if err := b.clock.Sleep(ctx, at.Sub(now)); err != nil {
			return err
		}
	}
}

// readyAt is the earliest time a request may start. Call with mu held.
func (b *Budget) readyAt(now time.Time) time.Time {
	b.refill(now)
	at := now
	if b.tokens < 1 {
		at = now.Add(time.Duration((1 - b.tokens) * float64(b.interval)))
	}
	if oldest := b.starts[b.head]; !oldest.IsZero() {
		if free := oldest.Add(b.window); free.After(at) {
			at = free
		}
	}
	if b.pausedUntil.After(at) {
		at = b.pausedUntil
	}
	return at
}

func (b *Budget) refill(now time.Time) {
	if elapsed := now.Sub(b.refilled); elapsed > 0 {
		b.tokens += float64(elapsed) / float64(b.interval)
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.refilled = now
	}
}

func (b *Budget) take(now time.Time) {
	b.tokens--
	b.starts[b.head] = now
	b.head = (b.head + 1) % len(b.starts)
}

// Pause stops every request from starting before until (a 429's Retry-After). An earlier
// time than a pause already in force is ignored.
func (b *Budget) Pause(until time.Time) {
	b.mu.Lock()
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	b.mu.Unlock()
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
	inWindow := 0
	for _, s := range b.starts {
		if !s.IsZero() && now.Sub(s) < b.window {
			inWindow++
		}
	}
	if free := b.limit - inWindow; free < n {
		n = free
	}
	return n
}

// BudgetStats are cumulative figures for metrics.
type BudgetStats struct {
	Granted int64         // requests let through
	Waited  time.Duration // total time callers spent waiting
}

// Stats returns cumulative figures.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{Granted: b.granted, Waited: b.waited}
}
