package engine

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// watch runs beside the walks until ctx ends: it keeps the degraded gauge current and logs
// status changes at once, checks that the topics still exist (every 10 s, every 5 s while
// Kafka fails), and every LogSummaryInterval logs the progress line and flushes the rate-limited
// failure log.
func (c *Engine) watch(ctx context.Context) {
	const tick = 5 * time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	lastSummary := time.Now()
	began := time.Now() // writing began about now: producers of the state topic since are this one's or another writer's
	degraded := false
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		first := n == 2 // the first progress line comes 10 s after the start, then every interval
		if c.kafkaDown.Load() == nil && (n%2 == 0 || !c.kafkaOK.Load()) {
			c.checkTopics(ctx)
		}
		if c.kafkaDown.Load() == nil && n%6 == 0 { // every 30 s
			c.checkOtherWriters(ctx, began)
			if o := c.otherWriter.Load(); o != nil && time.Since(o.at) >= otherWriterMemory {
				c.otherWriter.Store(nil)
				c.opt.Metrics.SetOtherWriter(false)
			}
		}
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

// watchSnapshot logs when the first snapshot starts and when it completes (conversations,
// messages, duration), from the passes the scheduler reports, looked at every second. A
// snapshot faster than that (a small organisation) gets both lines at once; a start with a
// complete state (the first pass a reconciliation that found nothing new) gets none. The
// snapshot is complete only when the state holds as many conversations as the listing showed;
// the complete line comes when the rest are in. A first pass that ends with walks still in
// flight is normal and says nothing; a snapshot still short after a further whole pass
// (conversations whose walks keep failing) is logged as a WARN.
func (c *Engine) watchSnapshot(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := c.opt.Clock.Now()
	known0, msgs0 := c.Index().Len()
	started, shortWarned := false, false
	var shortAt int64 // the pass at whose end the snapshot was first seen short
	var at time.Time
	var number int64
	listed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := c.sched.Status().Pass
		convs, msgs := c.Index().Len()
		if p.Phase == schedule.PhaseSnapshot {
			listed = max(listed, p.Total)
		}
		switch {
		case !started && p.Phase == schedule.PhaseSnapshot:
			started, at, number = true, c.opt.Clock.Now(), p.Number
			c.log.Info("first snapshot started: every conversation not in the state is walked and its messages published (snapshot=true for those dated before watching began, false for later ones)",
				"conversations_in_state", known0, "conversations_listed", p.Total)
			continue
		case started && p.Phase == schedule.PhaseSnapshot && p.Number == number:
			continue
		case !started && (p.Number == 0 || (p.Number == 1 && p.Finished.IsZero())):
			continue // the first pass has not told yet
		case !started && convs == known0:
			return // the state was complete: no snapshot
		case !started:
			started, at = true, start
			listed = max(listed, p.Total)
			c.log.Info("first snapshot started: every conversation not in the state is walked and its messages published (snapshot=true for those dated before watching began, false for later ones)",
				"conversations_in_state", known0, "conversations_listed", listed)
		}
		if convs < listed {
			// The first pass picked every listed conversation, but some walks are still in
			// flight or were retried: normal at a healthy start, so nothing is said yet. Only
			// when a whole further pass has ended and conversations are still missing is it
			// news: their walks keep failing.
			switch {
			case shortAt == 0:
				shortAt = p.Number
			case !shortWarned && p.Number > shortAt+1:
				shortWarned = true
				c.log.Warn("first snapshot still incomplete after a further pass: some listed conversations are not in the state (their walks keep failing: see the failing walks' errors); the snapshot completes when they are",
					"conversations", convs, "conversations_listed", listed, "passes", p.Number)
			}
			continue
		}
		c.log.Info("first snapshot complete", "conversations", convs, "conversations_added", convs-known0,
			"messages", msgs, "messages_added", msgs-msgs0,
			"duration_seconds", c.opt.Clock.Now().Sub(at).Seconds())
		return
	}
}
