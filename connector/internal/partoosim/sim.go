package partoosim

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// Order is how GET /conversations orders conversations.
type Order string

// Conversation orders.
const (
	OrderRecent Order = "recent" // most recent activity first (default; our assumption)
	OrderID     Order = "id"     // ascending id
)

// Faults are injected into /v2 answers; all off by default.
type Faults struct {
	ErrorRatio     float64 // share of requests answered 500/502/503
	MalformedRatio float64 // share of 200 answers with a truncated JSON body
	// Latency is the median time a request takes to reach the simulator, which counts it
	// against the rate limit on arrival: with LatencyP99 above it, latencies are log-normal
	// (arrivals bunch up as a real network makes them); else every request takes Latency.
	Latency    time.Duration
	LatencyP99 time.Duration
}

// Config configures a Sim.
type Config struct {
	APIKey            string        // required key; default "test-key"
	RequestsPerMinute int           // rate limit; default 300, negative disables it
	Window            time.Duration // rate limit window; default 60 s
	Order             Order         // default OrderRecent
	Faults            Faults
	Variant           Variant // how the API's answers are shaped (see Variant); zero: the classic shape
	Seed              uint64
	Clock             clock.Clock // default clock.Real
	// ClockSkew moves the simulator's clock off Clock (negative: Partoo's clock is behind the
	// connector's): message dates, the generator's history and the Date header of every
	// answer all read the skewed clock, as a Partoo whose clock is off would send them.
	ClockSkew time.Duration
}

// Sim is the simulator. All methods are safe for concurrent use.
type Sim struct {
	cfg   Config
	clock clock.Clock

	mu         sync.Mutex
	convs      map[int64]*conv
	msgs       map[int64]*conv // message id → conversation
	nextConvID int64
	nextMsgID  int64
	changes    []Change
	rnd        *rand.Rand

	// rate limiting and counters
	accepted  []time.Time // accepted request times within the window
	counters  map[string]map[int]int64
	maxInWin  int
	throttled int64
	active    int // requests in progress
	maxActive int
	onChange  func(Change)
	glitches  map[int64]glitchSpell // conversation → a glitch that lasts (Variant.GlitchFor)
	glitched  map[int64]int         // conversation → glitches suffered (Variant.GlitchesPerConversation)
}

// glitchSpell is a glitch one conversation's listing suffers until a time.
type glitchSpell struct {
	kind  string
	until time.Time
}

// New returns an empty simulator.
func New(cfg Config) *Sim {
	if cfg.APIKey == "" {
		cfg.APIKey = "test-key"
	}
	if cfg.RequestsPerMinute == 0 {
		cfg.RequestsPerMinute = budget.DefaultRequestsPerMinute
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.Order == "" {
		cfg.Order = OrderRecent
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.ClockSkew != 0 {
		cfg.Clock = clock.Shifted{Clock: cfg.Clock, By: cfg.ClockSkew}
	}
	s := &Sim{cfg: cfg, clock: cfg.Clock}
	s.reset()
	return s
}

func (s *Sim) reset() {
	s.convs = map[int64]*conv{}
	s.msgs = map[int64]*conv{}
	s.nextConvID, s.nextMsgID = 0, 0
	s.changes = nil
	s.rnd = rand.New(rand.NewPCG(s.cfg.Seed, 0x5eed))
	s.accepted = nil
	s.counters = map[string]map[int]int64{}
	s.maxInWin = 0
	s.throttled = 0
}

// Reset empties the organisation, the change log and the counters.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// Clock returns the simulator's clock.
func (s *Sim) Clock() clock.Clock { return s.clock }

// APIKey returns the key the simulator accepts.
func (s *Sim) APIKey() string { return s.cfg.APIKey }

// SetFaults replaces the fault injection settings.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.cfg.Faults = f
	s.mu.Unlock()
}

// SetVariant replaces the shape of the API's answers.
func (s *Sim) SetVariant(v Variant) {
	s.mu.Lock()
	s.cfg.Variant = v
	s.mu.Unlock()
}

// OnChange registers f to be called for every change, with the simulator's lock held: f must
// be quick and must not call the Sim. Used to deliver webhooks in benchmarks.
func (s *Sim) OnChange(f func(Change)) {
	s.mu.Lock()
	s.onChange = f
	s.mu.Unlock()
}

// SetOrder switches the conversation order.
func (s *Sim) SetOrder(o Order) {
	s.mu.Lock()
	s.cfg.Order = o
	s.mu.Unlock()
}

// Counters are request counts for tests and benchmarks.
type Counters struct {
	// ByEndpoint maps an endpoint label ("/v2/messages", …) to counts by HTTP status.
	ByEndpoint map[string]map[int]int64 `json:"by_endpoint"`
	// MaxPerWindow is the largest number of accepted requests seen in any rate-limit window.
	MaxPerWindow int `json:"max_per_window"`
	// Throttled is the number of 429 answers.
	Throttled int64 `json:"throttled"`
	// Total is the number of /v2 requests answered.
	Total int64 `json:"total"`
	// MaxConcurrent is the most /v2 requests ever in progress at once.
	MaxConcurrent int `json:"max_concurrent"`
}

// Counters returns a copy of the request counters.
func (s *Sim) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Counters{ByEndpoint: map[string]map[int]int64{}, MaxPerWindow: s.maxInWin, Throttled: s.throttled, MaxConcurrent: s.maxActive}
	for ep, m := range s.counters {
		out.ByEndpoint[ep] = map[int]int64{}
		for st, n := range m {
			out.ByEndpoint[ep][st] = n
			out.Total += n
		}
	}
	return out
}
