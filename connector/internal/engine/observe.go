package engine

import (
	"errors"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// stepHooks turns what the walk step does into metrics, health, logs and Kafka readiness.
type stepHooks struct{ c *Engine }

// OnWalked implements pipeline.HookWalked.
func (h stepHooks) OnWalked(r pipeline.Report) {
	c := h.c
	defer c.resnapshotWalked(r)
	c.opt.Metrics.Walked(string(r.Result), r.Duration, r.Ignored)
	c.health.walked(string(r.Result), r.OK)
	switch r.Result {
	case pipeline.ResultSkipped:
		c.health.rlog.Warn("walk:"+partoo.ErrorKind(r.Err), "conversation not readable; skipped",
			"conversation_id", r.ConversationID, "err", r.Err)
		return
	case pipeline.ResultFailed:
		if r.Refused {
			c.health.doubted("record_refused", r.ConversationID)
			c.log.Error("Kafka refused records of this conversation; the rest of its batch was published without it, and it is walked again later (backing off)",
				"conversation_id", r.ConversationID, "err", r.Err)
			c.refreshMax.Store(true) // read again before the next commit (beforeCommit)
		}
		return // the transaction's failure is logged once, by Transaction
	case pipeline.ResultPartial:
		if errors.Is(r.Err, partoo.ErrNoProgress) || errors.Is(r.Err, partoo.ErrCursorLoop) || errors.Is(r.Err, partoo.ErrTooManyPages) {
			c.opt.Metrics.WalkDoubted(metrics.DoubtNoProgress)
			c.health.doubted(metrics.DoubtNoProgress, r.ConversationID)
			// Named every time: a server that ignores the cursor is a fact about one conversation.
			c.log.Warn("walk stopped: the pagination makes no progress; publishing what was read (no deletions inferred), the conversation backs off",
				"conversation_id", r.ConversationID, "pages", r.Pages, "messages", r.Messages, "count", countAttr(r), "err", r.Err)
		} else {
			c.health.rlog.Warn("walk:"+partoo.ErrorKind(r.Err), "walk incomplete; publishing what was read (no deletions inferred) and walking it again later",
				"conversation_id", r.ConversationID, "pages", r.Pages, "messages", r.Messages, "error_kind", partoo.ErrorKind(r.Err), "err", r.Err)
		}
	}
	for _, tr := range r.Truncated {
		c.opt.Metrics.Truncated(metrics.TruncatedContent)
		c.health.doubted("record_truncated", r.ConversationID)
		c.log.Warn("event too large for the events topic: published with its content cut to fit and flagged (content_truncated_from)",
			"conversation_id", r.ConversationID, "message_id", tr.MessageID, "event_type", tr.Type.String(),
			"content_bytes", tr.From, "record_bytes", tr.Size, "max_bytes", c.eventMaxBytes())
	}
	for _, d := range r.Dropped {
		c.opt.Metrics.Truncated(metrics.TruncatedDropped)
		c.health.doubted("record_dropped", r.ConversationID)
		c.log.Error("event cannot fit the events topic even with its content cut: left out, the rest of the conversation is published",
			"conversation_id", r.ConversationID, "message_id", d.MessageID, "event_type", d.Type.String(), "err", d.Err)
	}
	if r.Short {
		c.opt.Metrics.WalkDoubted(metrics.DoubtCountShort)
		c.health.doubted(metrics.DoubtCountShort, r.ConversationID)
		c.health.rlog.Warn("walk:count_short", "walk received fewer messages than Partoo's count; publishing what was read, no deletion inferred",
			"conversation_id", r.ConversationID, "count", r.Count, "received", r.Distinct, "pages", r.Pages)
	}
	if r.Suspect {
		c.opt.Metrics.WalkDoubted(metrics.DoubtSuspectAbsence)
		c.health.doubted(metrics.DoubtSuspectAbsence, r.ConversationID)
		c.log.Warn("walk misses most or all of the conversation's recorded messages and Partoo's count does not vouch for it: not taken as evidence of deletion; looked at again soon",
			"conversation_id", r.ConversationID, "recorded_missing", r.Absent, "received", r.Distinct, "count", countAttr(r), "pages", r.Pages)
	}
	c.walks.Add(1)
	for typ, example := range r.UnknownSenders {
		c.health.once("sender_type:"+typ, "messages with an undocumented sender_type are ignored, as Partoo advises",
			"sender_type", typ, "example_message_id", example, "conversation_id", r.ConversationID)
	}
	for _, m := range r.Foreign {
		c.health.rlog.Warn("walk:foreign", "GET /messages returned a message of another conversation; ignored",
			"conversation_id", r.ConversationID, "message_id", m)
	}
	if len(r.Events) > 0 {
		h.committed(r.Events, r.PreviousWalk)
		for _, e := range r.Events {
			if e.Type == diff.MessageDeleted && e.Reason == diff.Vanished {
				c.log.Info("message inferred deleted: absent from consecutive complete walks (MessageDeleted Vanished)",
					"conversation_id", e.ConversationID, "message_id", e.MessageID, "absent_walks", e.AbsentWalks,
					"absent_since", e.AbsentSince.Format(time.RFC3339), "absent_seconds", int64(e.DetectedAt.Sub(e.AbsentSince).Seconds()),
					"walk_count", countAttr(r), "walk_received", r.Distinct, "event_id", e.ID)
			}
		}
	}
}

// countAttr is a walk's count for a log line: the number, or "none" when Partoo gave none.
func countAttr(r pipeline.Report) any {
	if !r.HasCount {
		return "none"
	}
	return r.Count
}

// OnTransaction implements pipeline.HookTransaction: it counts aborted transactions by reason
// (the policy is published, a call).
func (h stepHooks) OnTransaction(_ int, err error) {
	if err != nil {
		h.c.opt.Metrics.Aborted(publishFailure(err))
	}
}

// committed feeds the metrics and the health watch: events by type and their detection lag
// (from the message's date, on Partoo's clock, for a live MessageCreated; for StatusChanged
// and MessageDeleted from the previous walk that did not see it, an upper bound).
func (h stepHooks) committed(evs []diff.Event, previousWalk time.Time) {
	c := h.c
	types := make([]string, len(evs))
	lags := make([]time.Duration, len(evs))
	now := c.opt.Clock.Now()
	partooNow := c.client.Server().At(now) // a message's date is Partoo's clock, not ours
	for i, e := range evs {
		types[i] = e.Type.String()
		lags[i] = -1
		switch {
		case e.Type == diff.MessageCreated && !e.Snapshot:
			lags[i] = max(partooNow.Sub(e.Date), 0)
		case e.Type != diff.MessageCreated && !previousWalk.IsZero():
			from := previousWalk
			if d := e.Date.Add(now.Sub(partooNow)); d.After(from) { // the date, on our clock
				from = d
			}
			lags[i] = max(now.Sub(from), 0)
		}
	}
	c.health.committed(types)
	c.opt.Metrics.Committed(types, lags)
}

// runnerMetrics feeds the metrics from the runner.
type runnerMetrics struct{ m *metrics.Metrics }

func (r runnerMetrics) OnPicked(reason schedule.Reason) { r.m.Picked(reason.String()) }
func (r runnerMetrics) OnInFlight(walks, limit int)     { r.m.InFlight(walks, limit) }
func (r runnerMetrics) OnBatch(conversations int)       { r.m.Batch(conversations) }
