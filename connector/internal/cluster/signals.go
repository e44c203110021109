package cluster

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// signalReader is a member's signal topic: where its records go.
type signalReader struct {
	m       *Member
	deliver func(*kgo.Record)
	failed  func(err error)
}

// ReadSignals reads the member's signal topic (one partition, read_committed) from the offset
// from, with the process's client, until the member leaves: deliver receives every record in
// order, failed every fetch error (both on the layer's goroutine; they must return quickly).
func (m *Member) ReadSignals(topic string, from kgo.Offset, deliver func(*kgo.Record), failed func(error)) {
	c := m.c
	c.mu.Lock()
	if _, joined := c.members[m]; !joined {
		c.mu.Unlock()
		return
	}
	c.signals[topic] = &signalReader{m: m, deliver: deliver, failed: failed}
	c.mu.Unlock()
	c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: from}})
}

// readSignals polls the process's client for every member's signal records and hands each to
// its member; records of a topic no member reads any more are dropped (the next reader starts
// from the committed offset).
func (c *Cluster) readSignals(ctx context.Context) {
	for ctx.Err() == nil {
		fs := c.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, _ int32, err error) {
			if r := c.signalReaderOf(topic); r != nil && ctx.Err() == nil && r.failed != nil {
				r.failed(err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			if r := c.signalReaderOf(rec.Topic); r != nil {
				r.deliver(rec)
			}
		})
	}
}

func (c *Cluster) signalReaderOf(topic string) *signalReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signals[topic]
}
