package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
)

// Phase is where an organisation's engine is in its life; /status shows it with since when.
type Phase string

// The phases. Kafka down is a condition of any phase (life.down); an engine that is running
// while Kafka does not answer is in PhaseKafkaDown.
const (
	PhaseStarting  Phase = "starting"   // the checks before writing: API key, schemas, topics (life.why says what it waits for)
	PhaseStandby   Phase = "standby"    // waiting for the lease another instance holds
	PhaseRestoring Phase = "restoring"  // registering the transactional id, reading the state
	PhaseRunning   Phase = "running"    // walking and committing
	PhaseKafkaDown Phase = "kafka_down" // running, but Kafka does not answer: no walk starts
	PhaseReloading Phase = "reloading"  // a commit's outcome is unknown: the state is re-read before anything else commits
	PhaseStopped   Phase = "stopped"    // Run returned
)

// life is the engine's one state value: its phase and the conditions that qualify it. It is
// only ever replaced by next (under lifeMu), never changed in place.
type life struct {
	phase Phase
	since time.Time       // when phase was entered
	why   string          // starting or restoring: what it waits for ("": nothing in particular)
	down  *cluster.Outage // Kafka does not answer (any phase)
	// failing: the last transaction failed and none committed since (Kafka answering with
	// the topics there clears it too).
	failing bool
}

// event is something that happened to the engine; next says what it makes of its life.
type event struct {
	kind eventKind
	why  string          // evWaiting
	down *cluster.Outage // evKafka
	at   time.Time
}

type eventKind int

const (
	evWaiting   eventKind = iota // a start step waits (why), or stopped waiting ("")
	evStandby                    // waiting for the lease
	evRestoring                  // the lease is held (or none is needed): register the id, restore
	evRunning                    // the state is restored: walks start
	evKafka                      // Kafka stopped answering (down) or answers again (nil)
	evTxnFailed                  // a transaction failed
	evTxnOK                      // a transaction committed, or Kafka answers with the topics there
	evReload                     // a commit's outcome (or the producer id) is unknown: re-read the state
	evReloaded                   // the state was re-read
	evStopped                    // Run returns
)

// next is the transition function: the life after ev. Events that do not apply to the phase
// change nothing (a reload asked while restoring is the restore itself).
func next(l life, ev event) life {
	enter := func(p Phase) life {
		if l.phase != p {
			l.phase, l.since = p, ev.at
		}
		return l
	}
	switch ev.kind {
	case evWaiting:
		switch l.phase {
		case PhaseRestoring:
			l.why = ev.why
		case PhaseStarting, "":
			l.why = ev.why
			return enter(PhaseStarting)
		}
	case evStandby:
		l.why = ""
		return enter(PhaseStandby)
	case evRestoring:
		l.why = ""
		return enter(PhaseRestoring)
	case evRunning:
		l.failing = false
		return enter(PhaseRunning)
	case evKafka:
		l.down = ev.down
	case evTxnFailed:
		l.failing = true
	case evTxnOK:
		l.failing = false
	case evReload:
		if l.phase == PhaseRunning {
			return enter(PhaseReloading)
		}
	case evReloaded:
		if l.phase == PhaseReloading {
			return enter(PhaseRunning)
		}
	case evStopped:
		l.why, l.failing = "", false
		return enter(PhaseStopped)
	}
	return l
}

// Phase is the phase the life shows: running while Kafka does not answer is kafka_down.
func (l life) Phase() Phase {
	if l.phase == PhaseRunning && l.down != nil {
		return PhaseKafkaDown
	}
	if l.phase == "" {
		return PhaseStarting
	}
	return l.phase
}

// readiness says why an engine in this life is not ready, or nil: a standby is ready (to take
// over); a running engine is, unless Kafka does not answer or its transactions fail.
func (l life) readiness() error {
	switch {
	case l.phase == PhaseStandby:
		return nil
	case l.phase == PhaseStopped:
		return errors.New("stopped")
	case l.down != nil:
		return errors.New(l.down.String())
	case l.phase == PhaseStarting || l.phase == PhaseRestoring || l.phase == "":
		if l.why != "" {
			return errors.New(l.why)
		}
		return errors.New("restoring the state")
	case l.failing || l.phase == PhaseReloading:
		return errors.New("Kafka transactions are failing (see /status and the log)")
	}
	return nil
}

// writing reports whether the state is restored and walks may run (running, Kafka down or
// reloading).
func (l life) writing() bool {
	return l.phase == PhaseRunning || l.phase == PhaseReloading
}

// lifeCycle holds the engine's life; on applies an event.
type lifeCycle struct {
	mu sync.Mutex
	l  life
}

func (c *lifeCycle) get() life {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.l
}

// on applies ev (stamped now) and returns the life before and after it.
func (c *lifeCycle) on(ev event) (before, after life) {
	if ev.at.IsZero() {
		ev.at = time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before = c.l
	c.l = next(c.l, ev)
	return before, c.l
}
