package budget

import (
	"slices"
	"sort"
	"time"
)

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
	out := b.leavesBuf[:0] // reused: at full budget every wait asks, over the ~300 starts of a window
	for i, st := range b.starts {
		m := b.margins[i]
		if m < 0 {
			m = inFlight
		}
		out = append(out, st.Add(time.Minute+min(max(m, b.slack), b.maxSlack)))
	}
	slices.SortFunc(out, time.Time.Compare)
	b.leavesBuf = out
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
