package budget

import (
	"errors"
	"sort"
	"sync"
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
	leavesBuf    []time.Time     // scratch of leaves (with mu held)
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

// Config configures a Budget.
type Config struct {
	// RequestsPerMinute is the organisation's limit. Default 300.
	RequestsPerMinute int
	// Reserve is the share of RequestsPerMinute left unused, for the organisation's other
	// integrations: 0 (default) to 0.9.
	Reserve float64
	// Burst is how many requests may go back to back after an idle spell. Default 5 (or
	// RequestsPerMinute when less); it never lets the hard per-window cap be exceeded.
	Burst int
	// Slack is the least margin added to the 60 s window of the hard cap, so that a request
	// sent 59.9 s after another cannot reach Partoo inside the same minute. Default 1 s.
	Slack time.Duration
	// MaxSlack bounds the margin when it grows with observed request durations. Default 10 s.
	MaxSlack time.Duration
	// Clock defaults to the wall clock (clock.Real).
	Clock clock.Clock
}

// New returns a Budget. It is full: Burst requests may start at once.
func New(cfg Config) (*Budget, error) {
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
		cfg.Burst = min(5, cfg.RequestsPerMinute) // a limit below 5 (a small share of a shared key) is valid
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

// Stats are cumulative figures for metrics.
type Stats struct {
	Granted       int64         // requests let through
	Waited        time.Duration // total time callers spent waiting
	RateLimited   int64         // 429s recorded
	RatePerMinute float64       // the current rate (after the reserve and any 429 slow-down)
}

// Stats returns cumulative figures.
func (b *Budget) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recover(b.clock.Now())
	return Stats{Granted: b.granted, Waited: b.waited, RateLimited: b.throttled, RatePerMinute: b.rate()}
}
