package partoo_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// fixed is a local clock that reads one instant, set by the test.
type fixed struct{ t time.Time }

func (f *fixed) Now() time.Time                                         { return f.t }
func (f *fixed) Wait(context.Context, time.Duration, *clock.Wake) error { return nil }

// TestServerClockEstimatesTheOffset: from Date headers (whole seconds) the offset of Partoo's
// clock is learnt to within half a second plus the round trip, whatever its size, narrows as
// answers straddle second boundaries, and starts again when Partoo's clock is stepped.
func TestServerClockEstimatesTheOffset(t *testing.T) {
	local := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, skew := range []time.Duration{0, -3 * time.Hour, 3 * time.Hour, 1234 * time.Millisecond} {
		lc := &fixed{local}
		c := partoo.NewServerClock(lc)
		if _, _, known := c.Offset(); known {
			t.Fatal("known before any answer")
		}
		rtt := 20 * time.Millisecond
		for i := 0; i < 40; i++ { // answers every 130 ms
			sent := local.Add(time.Duration(i) * 130 * time.Millisecond)
			stamped := sent.Add(rtt / 2).Add(skew)
			c.Observe(sent, sent.Add(rtt), stamped.UTC().Format(http.TimeFormat))
			lc.t = sent.Add(rtt)
			off, bound, known := c.Offset()
			if !known || off-skew > bound || skew-off > bound || bound > 500*time.Millisecond+rtt {
				t.Fatalf("skew %v, answer %d: offset %v ± %v", skew, i, off, bound)
			}
			if l := c.Latest(); l.Before(lc.t.Add(skew).Add(rtt / 2)) {
				t.Fatalf("skew %v: Latest %v is before Partoo's now", skew, l)
			}
		}
		if _, bound, _ := c.Offset(); bound > 2*rtt {
			t.Errorf("skew %v: after 40 answers the bound is still %v", skew, bound)
		}
	}
	// One answer against the interval (a stale Date) is ignored; two that agree (a stepped
	// clock) start it again.
	lc := &fixed{local}
	c := partoo.NewServerClock(lc)
	c.Observe(local, local, local.Format(http.TimeFormat))
	c.Observe(local, local, local.Add(-time.Hour).Format(http.TimeFormat))
	c.Observe(local, local, local.Format(http.TimeFormat))
	if off, _, _ := c.Offset(); off < 0 || off > time.Second {
		t.Fatalf("one stale Date moved the offset to %v", off)
	}
	c.Observe(local, local, local.Add(time.Hour).Format(http.TimeFormat))
	c.Observe(local, local, local.Add(time.Hour).Format(http.TimeFormat))
	if off, _, _ := c.Offset(); off < time.Hour-time.Second || off > time.Hour+time.Second {
		t.Fatalf("after a step of an hour: offset %v", off)
	}
	c.Observe(local, local, "not a date")
	if off, _, _ := c.Offset(); off < time.Hour-time.Second {
		t.Fatalf("an unreadable Date changed the offset: %v", off)
	}
}
