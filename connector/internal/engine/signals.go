package engine

import (
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
)

// newSignals returns the tracker of this engine's resnapshot requests (package signal).
func (c *Engine) newSignals() *signal.Tracker {
	return signal.NewTracker(signal.Config{
		Kafka: c.opt.Kafka, Topic: signal.Topic(c.opt.Topics.State), Group: signal.Group(c.opt.TransactionalID),
		Clock: c.opt.Clock, Log: c.log, RateLog: c.health.rlog,
		Hint:  func(id int64) { c.sched.Hint(id) },
		Known: c.knownIDs,
		Has:   func(id int64) bool { return c.Index().Get(id) != nil },
		Error: c.opt.Metrics.SignalError,
	})
}

// resnapshotWalked tells the tracker about a walk that served a request: a complete walk
// committed, or a conversation gone (nothing to re-emit); any other is walked again later.
func (c *Engine) resnapshotWalked(r pipeline.Report) {
	switch {
	case r.Resnapshot == "":
		return
	case r.Result == pipeline.ResultSkipped:
	case !r.OK || (r.Result != pipeline.ResultComplete && r.Result != pipeline.ResultAllPages):
		return
	}
	c.signals.Done(r.ConversationID, r.Resnapshot)
}
