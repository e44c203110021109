package cluster

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
)

// Member is an organisation joined to the layer. Leave it when the organisation stops.
type Member struct {
	c   *Cluster
	org Org
}

// Join adds an organisation: from now on it hears Kafka's state (at once, then on every
// change), its topics' metadata and its state topic's producers; its transactional id is
// listed in the presence group. Start must have been called.
func (c *Cluster) Join(org Org) *Member {
	m := &Member{c: c, org: org}
	c.mu.Lock()
	c.members[m] = struct{}{}
	down := c.down
	c.mu.Unlock()
	if org.Kafka != nil {
		org.Kafka(down)
	}
	if org.TransactionalID != "" && c.cfg.PresenceGroup != "" {
		c.present(org.TransactionalID, true)
	}
	return m
}

// Leave removes the organisation (and its signal reader, if any).
func (m *Member) Leave() {
	c := m.c
	c.mu.Lock()
	_, joined := c.members[m]
	delete(c.members, m)
	var topics []string
	for t, r := range c.signals {
		if r.m == m {
			topics = append(topics, t)
			delete(c.signals, t)
		}
	}
	c.mu.Unlock()
	for _, t := range topics {
		c.cl.RemoveConsumePartitions(map[string][]int32{t: {0}})
		c.cl.PurgeTopicsFromClient(t)
	}
	if joined && m.org.TransactionalID != "" && c.cfg.PresenceGroup != "" {
		c.present(m.org.TransactionalID, false)
	}
}

// present adds or removes a transactional id in the presence group. The process's member is
// created at the first id, in the background: a failure is one WARN line, tried again at the
// next organisation's start (tools such as rebuild-state then cannot see that it runs).
func (c *Cluster) present(txn string, add bool) {
	c.mu.Lock()
	p, joining := c.presence, c.joining
	if p == nil && add && !joining {
		c.joining = true
		go c.joinPresence()
	}
	c.mu.Unlock()
	if p == nil {
		return // joinPresence lists every member's id once joined
	}
	if add {
		p.Add(txn)
	} else {
		p.Remove(txn)
	}
}

func (c *Cluster) joinPresence() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := lease.JoinProcessPresence(ctx, lease.Config{Kafka: append(append([]kgo.Opt(nil), c.cfg.Kafka...), kgo.ClientID(c.cfg.ClientID)),
		Topic: c.cfg.PresenceTopic, Group: c.cfg.PresenceGroup, ReplicationFactor: c.cfg.ReplicationFactor})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joining = false
	if err != nil {
		c.log.Warn("cannot join the presence group; tools such as rebuild-state cannot see that this process runs its organisations (grant Describe and Read on the group, Create, Describe and Read on its topic)",
			"group", c.cfg.PresenceGroup, "topic", c.cfg.PresenceTopic, "err", err)
		return
	}
	if c.closed {
		go p.Close()
		return
	}
	c.presence = p
	for m := range c.members {
		if m.org.TransactionalID != "" {
			p.Add(m.org.TransactionalID)
		}
	}
}

// each calls f for every member, outside the lock.
func (c *Cluster) each(f func(m *Member)) {
	c.mu.Lock()
	ms := make([]*Member, 0, len(c.members))
	for m := range c.members {
		ms = append(ms, m)
	}
	c.mu.Unlock()
	for _, m := range ms {
		f(m)
	}
}

// liveness pings Kafka every pingEvery: an outage starts at the first failure and ends at the
// first answer; every member hears both.
func (c *Cluster) liveness(ctx context.Context) {
	for {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := c.cl.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		c.setDown(err)
		if sleep(ctx, pingEvery) != nil {
			return
		}
	}
}

func (c *Cluster) setDown(err error) {
	c.mu.Lock()
	was := c.down
	switch {
	case err != nil && was == nil:
		c.down = &Outage{Since: time.Now(), Err: err.Error()}
	case err == nil && was != nil:
		c.down = nil
	default:
		c.mu.Unlock()
		return
	}
	now := c.down
	c.mu.Unlock()
	if now != nil {
		c.log.Error("Kafka does not answer: every organisation's walks pause (the Partoo budget is kept) and resume by themselves when it does", "err", err)
	} else {
		c.log.Info("Kafka answers again: walks resume", "down_seconds", time.Since(was.Since).Seconds())
	}
	c.each(func(m *Member) {
		if m.org.Kafka != nil {
			m.org.Kafka(now)
		}
	})
}

// watchTopics asks every topicsEvery (or when a member asks), in one request, for the metadata of every member's
// topics, and hands each member the answer.
func (c *Cluster) watchTopics(ctx context.Context) {
	for c.waitTopics(ctx) == nil {
		if c.Down() != nil {
			continue
		}
		topics := map[string]bool{}
		c.each(func(m *Member) {
			for _, t := range m.org.Topics {
				topics[t] = true
			}
		})
		if len(topics) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		md, err := c.adm.Metadata(rctx, keys(topics)...)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("cannot ask Kafka whether the topics exist", "err", err)
			}
			continue
		}
		c.each(func(m *Member) {
			if m.org.Metadata != nil && len(m.org.Topics) > 0 {
				m.org.Metadata(md)
			}
		})
	}
}

// waitTopics waits for the next check of the topics: topicsEvery, or sooner when a member
// asked (CheckTopics).
func (c *Cluster) waitTopics(ctx context.Context) error {
	t := time.NewTimer(topicsEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-c.checkTopics:
	}
	return nil
}

// CheckTopics asks for a check of every member's topics now (a transaction failed on a topic
// the broker does not know): the member hears the answer through Metadata. It never blocks.
func (m *Member) CheckTopics() {
	select {
	case m.c.checkTopics <- struct{}{}:
	default: // one is asked already
	}
}

// watchProducers asks every producersEvery, in one request, which producers wrote to every
// member's state topic, and hands each member its topic's answer. A failed request says
// nothing.
func (c *Cluster) watchProducers(ctx context.Context) {
	for sleep(ctx, producersEvery) == nil {
		if c.Down() != nil {
			continue
		}
		topics := map[string]bool{}
		c.each(func(m *Member) {
			if m.org.StateTopic != "" && m.org.Producers != nil {
				topics[m.org.StateTopic] = true
			}
		})
		if len(topics) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		described, err := c.describeProducers(rctx, keys(topics))
		cancel()
		if err != nil {
			continue
		}
		c.each(func(m *Member) {
			if t, ok := described[m.org.StateTopic]; ok && m.org.Producers != nil {
				m.org.Producers(t.Partitions)
			}
		})
	}
}

func (c *Cluster) describeProducers(ctx context.Context, topics []string) (kadm.DescribedProducersTopics, error) {
	md, err := c.adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	return c.adm.DescribeProducers(ctx, md.Topics.TopicsSet())
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
