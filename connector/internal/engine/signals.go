package engine

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"

	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/signal"
)

// newSignals returns the tracker of this engine's resnapshot requests (package signal).
func (c *Engine) newSignals() *signal.Tracker {
	return signal.NewTracker(signal.Config{
		Topic: signal.Topic(c.opt.Topics.State), Group: signal.Group(c.opt.TransactionalID),
		Clock: c.opt.Clock, Log: c.log, RateLog: c.health.rlog,
		Hint:  func(id int64) { c.sched.Hint(id) },
		Known: c.knownIDs,
		Has:   func(id int64) bool { return c.Index().Get(id) != nil },
		Error: c.opt.Metrics.SignalError,
	})
}

// resnapshotWalked tells the tracker about a walk that served a request (a resnapshot or a
// table fill): a complete walk committed, or a conversation gone (nothing to re-emit); any
// other is walked again later.
func (c *Engine) resnapshotWalked(r pipeline.Report) {
	req := r.Resnapshot
	if req == "" {
		req = r.Fill
	}
	switch {
	case req == "":
		return
	case r.Result == pipeline.ResultSkipped:
	case !r.OK || (r.Result != pipeline.ResultComplete && r.Result != pipeline.ResultAllPages):
		return
	}
	c.signals.Done(r.ConversationID, req)
}

// requestTableFill asks, through the signal topic, for the rows of every recorded message when
// the messages table is empty while the state is not: a deployment upgraded from a release
// without tables (or whose table topic was recreated). The request survives restarts like a
// resnapshot; the rows are written by the walks the scheduler does anyway, without events.
func (c *Engine) requestTableFill(ctx context.Context) {
	table := c.opt.Topics.MessagesTable.Name
	if table == "" {
		return
	}
	if convs, _ := c.Index().Len(); convs == 0 {
		return
	}
	ends, err := c.adm.ListEndOffsets(ctx, table)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		c.log.Warn("cannot tell whether the messages table needs filling; not filling it", "topic", table, "err", err)
		return
	}
	var records int64
	ends.Each(func(o kadm.ListedOffset) { records += o.Offset })
	if records > 0 {
		return
	}
	s, _, err := signal.Send(ctx, c.opt.Kafka, c.opt.Topics.State, signal.Signal{Type: signal.FillTables, All: true})
	if err != nil {
		c.log.Warn("the messages table is empty but the state is not, and the fill request could not be sent; run `partoo-connector resnapshot --all` to fill it (with new snapshot events)",
			"topic", table, "err", err)
		return
	}
	c.log.Info("the messages table is empty but the state is not (an upgrade?): filling it from the walks, without events",
		"topic", table, "request", s.ID)
}

// join joins the process's Kafka layer for the time the engine writes: it hears Kafka's state,
// its topics' metadata and its state topic's producers, and its transactional id is listed in
// the presence group.
func (c *Engine) join() *cluster.Member {
	return c.kc.Join(cluster.Org{Name: c.opt.Organization, Topics: c.opt.Topics.Names(), StateTopic: c.opt.Topics.State,
		TransactionalID: c.opt.TransactionalID, Kafka: c.kafkaChanged, Metadata: c.topicsSeen, Producers: c.producersSeen})
}

// signalReader reads the signal topic with the process's client.
func (c *Engine) signalReader(m *cluster.Member) signal.Reader {
	return func(from kgo.Offset, deliver func(*kgo.Record), failed func(error)) {
		m.ReadSignals(signal.Topic(c.opt.Topics.State), from, deliver, failed)
	}
}
