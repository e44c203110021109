package partoo

import (
	"net/http"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
)

// ServerClock is Partoo's clock as the connector estimates it: its own clock plus an offset
// learnt from the Date header of Partoo's answers. Every decision that compares a Partoo date
// (a message's date, a last message's) with "now" asks it, never the local clock: Partoo's
// clock may be minutes or hours off ours.
//
// The estimate: an answer sent at local time s and received at r, whose Date header says D
// (whole seconds, truncated, as HTTP dates are), was stamped by Partoo at some server time in
// [D, D+1s) and some local time in [s, r]; so offset = server − local lies in
// (D − r, D + 1s − s). The clock keeps the intersection of these intervals over the answers
// it has seen: each answer can only narrow it, so the error is at most half of one second
// plus the quickest round trip, and usually much less once answers straddle a second
// boundary. When two answers in a row contradict the interval and agree with each other
// (Partoo's clock was stepped, or drifted past the bound), it starts again from them; one
// alone (a stale Date) is ignored. Until an answer with a
// Date has been seen, the offset is taken to be 0 (Known is false).
//
// Safe for concurrent use. A nil *ServerClock is the local clock.
type ServerClock struct {
	local clock.Clock

	mu           sync.Mutex
	known        bool
	lo, hi       time.Duration // bounds of the offset, server − local
	odd          bool          // an answer contradicted [lo, hi]: its interval, until confirmed
	oddLo, oddHi time.Duration
}

// Server returns Partoo's clock as estimated from the answers' Date headers: what every
// comparison of a Partoo date with "now" must use.
func (c *Client) Server() *ServerClock { return c.server }

// NewServerClock returns a ServerClock over local (nil: the wall clock) with nothing learnt.
func NewServerClock(local clock.Clock) *ServerClock {
	if local == nil {
		local = clock.Real{}
	}
	return &ServerClock{local: local}
}

// Observe learns from one answer: sent and received are local times, date its Date header
// ("" or unreadable: nothing is learnt).
func (c *ServerClock) Observe(sent, received time.Time, date string) {
	if c == nil || date == "" {
		return
	}
	d, err := http.ParseTime(date)
	if err != nil {
		return
	}
	lo, hi := d.Sub(received), d.Add(time.Second).Sub(sent)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.known:
		c.lo, c.hi, c.known = lo, hi, true
	case lo < c.hi && hi > c.lo:
		c.lo, c.hi, c.odd = max(c.lo, lo), min(c.hi, hi), false
	case c.odd && lo < c.oddHi && hi > c.oddLo:
		// A second answer agrees with the one that contradicted: Partoo's clock moved.
		c.lo, c.hi, c.odd = max(c.oddLo, lo), min(c.oddHi, hi), false
	default:
		// One answer against the interval (a stepped clock, or a stale Date such as a cached
		// page's) is believed only once the next agrees with it.
		c.oddLo, c.oddHi, c.odd = lo, hi, true
	}
}

// Offset returns the estimated offset of Partoo's clock (server − local), the most it can be
// wrong by (half the interval), and whether any answer carried a Date.
func (c *ServerClock) Offset() (offset, bound time.Duration, known bool) {
	if c == nil {
		return 0, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		return 0, 0, false
	}
	return c.lo + (c.hi-c.lo)/2, (c.hi - c.lo) / 2, true
}

// At returns what Partoo's clock read at local time t, by the current estimate.
func (c *ServerClock) At(t time.Time) time.Time {
	off, _, _ := c.Offset()
	return t.Add(off)
}

// Now returns Partoo's estimated current time.
func (c *ServerClock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c.At(c.local.Now())
}

// Latest returns the latest time Partoo's clock can read now: the estimate plus its error
// bound. What must not be later than "now" on Partoo's clock (the instant the connector
// started watching, which a message dated before it predates) uses it.
func (c *ServerClock) Latest() time.Time {
	if c == nil {
		return time.Now()
	}
	return c.LatestAt(c.local.Now())
}

// Earliest returns the earliest time Partoo's clock can read now: a wait until a Partoo
// time (an epoch Retry-After) measured from it is never too short.
func (c *ServerClock) Earliest() time.Time {
	if c == nil {
		return time.Now()
	}
	c.mu.Lock()
	lo := c.lo
	c.mu.Unlock()
	return c.local.Now().Add(lo)
}

// LatestAt returns the latest time Partoo's clock can have read at local time t, with what
// has been learnt so far: later answers only make it earlier (closer to the truth), never
// later, while Partoo's clock keeps its rate.
func (c *ServerClock) LatestAt(t time.Time) time.Time {
	if c == nil {
		return t
	}
	c.mu.Lock()
	hi := c.hi
	c.mu.Unlock()
	return t.Add(hi)
}

// Since returns how long ago t (a Partoo date) was, on Partoo's clock.
func (c *ServerClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Local converts a Partoo time to the local clock (for a wait until it).
func (c *ServerClock) Local(t time.Time) time.Time {
	off, _, _ := c.Offset()
	return t.Add(-off)
}
