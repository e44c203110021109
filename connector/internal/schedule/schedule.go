package schedule

import (
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
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
	// DiscoveryPerPage is the page size of discovery once the listing is known to be in
	// recency order [25]: page 1 then holds what changed lately (discovery reads further only
	// when every conversation on it moved), and decoding 25 conversations every 2 s instead
	// of 100 was most of the listing's CPU. Before the order is known, and in any other
	// order, pages have the client's size.
	DiscoveryPerPage int
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
	if c.DiscoveryPerPage <= 0 || c.DiscoveryPerPage > 100 {
		c.DiscoveryPerPage = 25
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
