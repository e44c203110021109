package engine

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// watch runs beside the walks until ctx ends: it keeps the degraded gauge current and logs
// status changes at once (every 5 s), watches the first snapshot (every second: snapshotWatch),
// and every LogSummaryInterval logs the progress line and flushes the
// rate-limited failure log. (The topics and Kafka itself are watched for every organisation at
// once by the process's Kafka layer: join.)
func (c *Engine) watch(ctx context.Context) {
	const tick = 5 * time.Second
	t := time.NewTicker(time.Second)
	defer t.Stop()
	snap := c.newSnapshotWatch()
	lastSummary := time.Now()
	degraded := false
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if snap != nil && snap.step() {
			snap = nil
		}
		if n%5 != 0 {
			continue
		}
		first := n == 10 // the first progress line comes 10 s after the start, then every interval
		r := c.Status()
		if d := r.Status != "ok"; d != degraded {
			degraded = d
			c.opt.Metrics.SetDegraded(d)
			if d {
				c.log.Error("status degraded", "reasons", r.Reasons)
			} else {
				c.log.Info("status ok again")
			}
		}
		every := c.opt.LogSummaryInterval
		if every < 0 {
			every = time.Minute // no summary line, but failure logs are still summarised
		}
		if time.Since(lastSummary) >= every-tick/2 || (first && c.opt.LogSummaryInterval > 2*tick) {
			lastSummary = time.Now()
			if c.opt.LogSummaryInterval > 0 {
				c.health.summarize(r, c.Budget().Stats().Granted)
			} else {
				c.health.rlog.Flush()
				c.health.flushSkips()
			}
		}
	}
}

// snapshotWatch logs when the first snapshot starts and when it completes (conversations,
// messages, duration), from the passes the scheduler reports, looked at every second (step,
// called by watch). A
// snapshot faster than that (a small organisation) gets both lines at once; a start with a
// complete state (the first pass a reconciliation that found nothing new) gets none. The
// snapshot is complete only when the state holds as many conversations as the listing showed;
// the complete line comes when the rest are in. A first pass that ends with walks still in
// flight is normal and says nothing; a snapshot still short after a further whole pass
// (conversations whose walks keep failing) is logged as a WARN.
type snapshotWatch struct {
	c                    *Engine
	start                time.Time
	known0, msgs0        int
	started, shortWarned bool
	shortAt              int64 // the pass at whose end the snapshot was first seen short
	at                   time.Time
	number               int64
	listed               int
}

func (c *Engine) newSnapshotWatch() *snapshotWatch {
	w := &snapshotWatch{c: c, start: c.opt.Clock.Now()}
	w.known0, w.msgs0 = c.Index().Len()
	return w
}

// step looks once; it returns true when there is nothing more to watch.
func (w *snapshotWatch) step() bool {
	c := w.c
	p := c.sched.Status().Pass
	convs, msgs := c.Index().Len()
	if p.Phase == schedule.PhaseSnapshot {
		w.listed = max(w.listed, p.Total)
	}
	switch {
	case !w.started && p.Phase == schedule.PhaseSnapshot:
		w.started, w.at, w.number = true, c.opt.Clock.Now(), p.Number
		c.log.Info("first snapshot started: every conversation not in the state is walked and its messages published (snapshot=true for those dated before watching began, false for later ones)",
			"conversations_in_state", w.known0, "conversations_listed", p.Total)
		return false
	case w.started && p.Phase == schedule.PhaseSnapshot && p.Number == w.number:
		return false
	case !w.started && (p.Number == 0 || (p.Number == 1 && p.Finished.IsZero())):
		return false // the first pass has not told yet
	case !w.started && convs == w.known0:
		return true // the state was complete: no snapshot
	case !w.started:
		w.started, w.at = true, w.start
		w.listed = max(w.listed, p.Total)
		c.log.Info("first snapshot started: every conversation not in the state is walked and its messages published (snapshot=true for those dated before watching began, false for later ones)",
			"conversations_in_state", w.known0, "conversations_listed", w.listed)
	}
	if convs < w.listed {
		// The first pass picked every listed conversation, but some walks are still in
		// flight or were retried: normal at a healthy start, so nothing is said yet. Only
		// when a whole further pass has ended and conversations are still missing is it
		// news: their walks keep failing.
		switch {
		case w.shortAt == 0:
			w.shortAt = p.Number
		case !w.shortWarned && p.Number > w.shortAt+1:
			w.shortWarned = true
			c.log.Warn("first snapshot still incomplete after a further pass: some listed conversations are not in the state (their walks keep failing: see the failing walks' errors); the snapshot completes when they are",
				"conversations", convs, "conversations_listed", w.listed, "passes", p.Number)
		}
		return false
	}
	c.log.Info("first snapshot complete", "conversations", convs, "conversations_added", convs-w.known0,
		"messages", msgs, "messages_added", msgs-w.msgs0,
		"duration_seconds", c.opt.Clock.Now().Sub(w.at).Seconds())
	return true
}
