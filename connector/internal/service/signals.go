package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
)

// The signal topic carries requests to the running connector, as Debezium's signalling topic
// does: `partoo-connector resnapshot` writes one, the active instance reads it, carries it out
// and then commits its offset (for the group <transactional id>.signals), so a request written
// while the connector is down or failing over is carried out once it runs again (at least once;
// the events it produces have ids derived from the request, so a repeat produces the same ones).

// SignalResnapshot asks for the current messages of some conversations (or all) to be
// re-emitted as MessageCreated with snapshot=true.
const SignalResnapshot = "resnapshot"

// Signal is one request, a JSON value on the signal topic.
type Signal struct {
	ID              string    `json:"id"`
	Type            string    `json:"type"`
	ConversationIDs []int64   `json:"conversation_ids,omitempty"`
	All             bool      `json:"all,omitempty"`
	RequestedAt     time.Time `json:"requested_at"`
}

// SignalTopic names the signal topic of a deployment: <state topic>.signals.
func SignalTopic(stateTopic string) string { return stateTopic + ".signals" }

// ErrNoSignalTopic: the signal topic does not exist, so no connector has run with these topics.
var ErrNoSignalTopic = errors.New("the signal topic does not exist: the connector creates it when it starts")

// SendSignal writes a signal for the connector of stateTopic and returns where it was written.
// It fills in ID and RequestedAt when they are empty.
func SendSignal(ctx context.Context, kopts []kgo.Opt, stateTopic string, s Signal) (Signal, int64, error) {
	topic := SignalTopic(stateTopic)
	if s.RequestedAt.IsZero() {
		s.RequestedAt = time.Now().UTC()
	}
	if s.ID == "" {
		s.ID = strconv.FormatInt(s.RequestedAt.UnixNano(), 36)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), kopts...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return s, 0, err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return s, 0, err
	}
	if td, ok := listed[topic]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return s, 0, fmt.Errorf("%s: %w", topic, ErrNoSignalTopic)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return s, 0, err
	}
	r, err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(s.ID), Value: v}).First()
	if err != nil {
		return s, 0, err
	}
	return s, r.Offset, nil
}

// ensureSignalTopic creates the signal topic if missing: one partition (signals are carried
// out in order), kept a day.
func ensureSignalTopic(ctx context.Context, adm *kadm.Client, topic string, replication int16) error {
	if replication == 0 {
		replication = -1
	}
	resp, err := adm.CreateTopic(ctx, 1, replication, map[string]*string{"retention.ms": kadm.StringPtr("86400000")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create signal topic %s: %w", topic, err)
	}
	return nil
}

// resnapshots tracks the resnapshot requests being carried out.
type resnapshots struct {
	mu      sync.Mutex
	pending map[int64]string // conversation → request id
	queue   []*resnapshotRequest
}

type resnapshotRequest struct {
	signal  Signal
	record  *kgo.Record
	left    map[int64]bool
	total   int
	started time.Time
}

// pendingResnapshot is pipeline.Config.Resnapshot.
func (c *Connector) pendingResnapshot(id int64) string {
	c.resnap.mu.Lock()
	defer c.resnap.mu.Unlock()
	return c.resnap.pending[id]
}

// resnapshotWalked notes a walk that served a request: once every conversation of a request
// was walked completely and committed, the request is done.
func (c *Connector) resnapshotWalked(r pipeline.Report) {
	switch {
	case r.Resnapshot == "":
		return
	case r.Result == pipeline.ResultSkipped: // gone: nothing to re-emit
	case !r.OK || (r.Result != pipeline.ResultComplete && r.Result != pipeline.ResultAllPages):
		return // walked again later
	}
	c.resnap.mu.Lock()
	if c.resnap.pending[r.ConversationID] == r.Resnapshot {
		delete(c.resnap.pending, r.ConversationID)
	}
	for _, q := range c.resnap.queue {
		if q.signal.ID == r.Resnapshot {
			delete(q.left, r.ConversationID)
		}
	}
	c.resnap.mu.Unlock()
	c.resnapDrain()
}

// resnapDrain retires the done requests at the head of the queue and commits the signal
// topic's offset past the last of them.
func (c *Connector) resnapDrain() {
	c.resnap.mu.Lock()
	var commit *kgo.Record
	for len(c.resnap.queue) > 0 && len(c.resnap.queue[0].left) == 0 {
		q := c.resnap.queue[0]
		c.resnap.queue = c.resnap.queue[1:]
		commit = q.record
		if q.signal.Type == SignalResnapshot {
			c.log.Info("resnapshot done: every conversation of the request re-emitted", "request", q.signal.ID,
				"conversations", q.total, "took", c.opt.Clock.Now().Sub(q.started).Round(time.Millisecond))
		}
	}
	if commit != nil && c.signalCommits != nil {
		// Hand the offset to the signal reader's committer (never block the walks on Kafka);
		// the latest offset supersedes one not yet committed. Sent under the lock: in order.
		select {
		case <-c.signalCommits:
		default:
		}
		c.signalCommits <- commit
	}
	c.resnap.mu.Unlock()
}

// consumeSignals reads the signal topic until ctx ends, from the offset committed for the group
// <transactional id>.signals. The group is used for its offsets only — no member joins it, so
// there is no rebalance to wait for at start or at shutdown (one writer reads the signals: the
// one instance, or the lease holder).
func (c *Connector) consumeSignals(ctx context.Context) {
	topic := SignalTopic(c.opt.Topics.State)
	group := c.opt.TransactionalID + ".signals"
	start, ok := c.signalStart(ctx, group, topic)
	if !ok {
		return // ctx ended
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.opt.Kafka...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: start}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		c.log.Error("signals: cannot read the signal topic; resnapshot requests wait until a restart", "topic", topic, "err", err)
		return
	}
	defer cl.Close()

	// Offsets of carried out requests are committed here, off the walks' path.
	commits := make(chan *kgo.Record, 1)
	commit := func(ctx context.Context, r *kgo.Record) error {
		resp, err := c.adm.CommitOffsets(ctx, group, kadm.OffsetsFromRecords(*r))
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			c.opt.Metrics.SignalError("commit")
			c.health.rlog.Warn("signals:commit", "could not commit the signal topic's offset; retrying (until then a restart carries the request out again, with the same event ids)", "group", group, "err", err)
		}
		return err
	}
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		var pending *kgo.Record // an offset whose commit failed, retried until a newer one supersedes it
		for {
			var retry <-chan time.Time
			if pending != nil {
				retry = time.After(time.Second)
			}
			select {
			case r := <-commits:
				pending = r
			case <-retry:
			case <-ctx.Done():
				select { // one last offset handed over just before the end
				case r := <-commits:
					pending = r
				default:
				}
				if pending != nil {
					cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_ = commit(cctx, pending)
					cancel()
				}
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if commit(cctx, pending) == nil {
				pending = nil
			}
			cancel()
		}
	}()
	c.resnap.mu.Lock()
	c.signalCommits = commits
	c.resnap.mu.Unlock()
	defer func() {
		c.resnap.mu.Lock()
		c.signalCommits = nil
		c.resnap.mu.Unlock()
		<-committed
	}()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				c.opt.Metrics.SignalError("read")
				c.health.rlog.Warn("signals:fetch", "cannot read the signal topic", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { c.signal(r) })
	}
}

// signalStart returns where to resume reading the signal topic: the offset committed for
// group, or the start. A coordinator that is not ready yet (a new group, __consumer_offsets
// still being created or loaded: COORDINATOR_NOT_AVAILABLE, seen on a fresh broker) or any
// other failure is retried with backoff until ctx ends (false), logged and counted; requests
// written meanwhile wait in the topic.
func (c *Connector) signalStart(ctx context.Context, group, topic string) (kgo.Offset, bool) {
	backoff := 250 * time.Millisecond
	for {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		offs, err := c.adm.FetchOffsets(fctx, group)
		cancel()
		if err == nil {
			if o, ok := offs.Lookup(topic, 0); ok {
				if o.Err != nil {
					err = o.Err
				} else if o.At >= 0 {
					return kgo.NewOffset().At(o.At), true
				}
			}
		}
		if err == nil || errors.Is(err, kerr.GroupIDNotFound) { // nothing committed yet
			return kgo.NewOffset().AtStart(), true
		}
		if ctx.Err() != nil {
			return kgo.Offset{}, false
		}
		c.opt.Metrics.SignalError("fetch_offset")
		c.health.rlog.Warn("signals:fetch_offset", "cannot read the signal topic's committed offset yet; retrying (resnapshot requests wait meanwhile)",
			"group", group, "retry_in", backoff, "err", err)
		if clock.Sleep(ctx, c.opt.Clock, backoff) != nil {
			return kgo.Offset{}, false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// signal starts carrying out one request.
func (c *Connector) signal(r *kgo.Record) {
	var s Signal
	if err := json.Unmarshal(r.Value, &s); err != nil || s.Type != SignalResnapshot || s.ID == "" {
		c.health.rlog.Warn("signals:unknown", "ignoring a record of the signal topic that is not a resnapshot request",
			"offset", r.Offset, "err", err)
		c.resnap.mu.Lock()
		c.resnap.queue = append(c.resnap.queue, &resnapshotRequest{record: r, left: map[int64]bool{}})
		c.resnap.mu.Unlock()
		c.resnapDrain() // commits it once the requests before it are done
		return
	}
	ids := s.ConversationIDs
	if s.All {
		ids = c.knownIDs()
	}
	q := &resnapshotRequest{signal: s, record: r, left: map[int64]bool{}, started: c.opt.Clock.Now()}
	for _, id := range ids {
		q.left[id] = true
	}
	q.total = len(q.left)
	c.resnap.mu.Lock()
	for id := range q.left {
		c.resnap.pending[id] = s.ID
	}
	c.resnap.queue = append(c.resnap.queue, q)
	c.resnap.mu.Unlock()
	for _, id := range ids {
		c.sched.Hint(id) // soon; reconciliation covers any the hint queue cannot take
	}
	c.log.Info("resnapshot requested: re-emitting the current messages of the conversations as snapshots",
		"request", s.ID, "conversations", q.total, "all", s.All)
	if !s.All {
		var unknown []int64
		idx := c.Index()
		for _, id := range ids {
			if idx.Get(id) == nil {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			c.log.Warn("resnapshot names conversations the state does not know: they are walked as new ones (all their messages published as snapshots); one Partoo does not have is reported gone and counts as done",
				"request", s.ID, "unknown_conversation_ids", unknown)
		}
	}
	if q.total == 0 {
		c.resnapDrain()
	}
}
