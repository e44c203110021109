package engine

import (
	"context"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// eventMaxBytes is the most one event record may take (events.RecordSize).
func (c *Engine) eventMaxBytes() int {
	if n := c.eventsMax.Load(); n > 0 {
		return int(n)
	}
	return publish.ProducerMaxBytes
}

// readEventsMaxBytes learns the events topic's max.message.bytes, so that an event too large
// for it is cut to fit (and flagged) instead of failing every transaction that carries it.
func (c *Engine) readEventsMaxBytes(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := state.MaxMessageBytes(dctx, c.adm, c.opt.Topics.Events)
	if err != nil {
		n = state.DefaultMaxMessageBytes
		c.log.Warn("cannot read the events topic's max.message.bytes; assuming Kafka's default", "topic", c.opt.Topics.Events,
			"assumed_bytes", n, "err", err)
	}
	limit := min(n, publish.ProducerMaxBytes)
	c.eventsMax.Store(int64(limit))
	c.log.Info("events topic record limit", "topic", c.opt.Topics.Events, "max_message_bytes", n, "producer_max_bytes", publish.ProducerMaxBytes, "event_max_bytes", limit)
}
