package schedule

import "time"

// Phases of the reconciliation pass.
const (
	PhaseSnapshot  = "snapshot"       // the first pass over an organisation the state did not know
	PhaseReconcile = "reconciliation" // a pass over every conversation, the safety net
	PhaseIdle      = "idle"           // between passes
)

// Pass is the progress of the current (or last) reconciliation pass.
type Pass struct {
	Phase     string    // PhaseSnapshot, PhaseReconcile or PhaseIdle
	Number    int64     // passes begun since the start
	Started   time.Time // when the current or last pass began
	Finished  time.Time // when the last pass picked its last conversation (zero while one runs)
	NextStart time.Time // with a reconcile period, when the next pass may begin
	Done      int       // conversations picked in the pass so far
	Total     int       // conversations the pass will cover, as far as is known (the listing's count, or more)
}

// Status is what the scheduler reports for health checks, logs and metrics.
type Status struct {
	Pass Pass
	// DiscoveryFailures counts failed discoveries in a row (0 after a success).
	DiscoveryFailures int
	// LastDiscoveryError is the latest failed discovery's error ("" if none yet).
	LastDiscoveryError string
	// LastDiscovery is when a discovery last succeeded (zero: never).
	LastDiscovery time.Time
	// ListingOrder is "recent" while page 1 lists the most recently active conversations
	// first, "other" when it does not (discovery reads every page instead), "" before it is
	// known.
	ListingOrder string
	// ListingWithoutLastMessage is true when the last discovery page carried no last_message
	// at all: changes can then be found only by rank moves and reconciliation.
	ListingWithoutLastMessage bool
}

// Status returns the scheduler's status. It is safe to call from any goroutine.
func (s *Smart) Status() Status {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	return s.status
}

func (s *Smart) setPass(f func(*Pass)) {
	s.stMu.Lock()
	f(&s.status.Pass)
	s.stMu.Unlock()
}

func (s *Smart) setStatus(f func(*Status)) {
	s.stMu.Lock()
	f(&s.status)
	s.stMu.Unlock()
}
