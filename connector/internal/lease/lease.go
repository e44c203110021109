// Package lease elects one active writer among connector instances through Kafka itself: every
// instance joins one consumer group on a one-partition lease topic, and the member the group
// assigns that partition holds the lease. The others wait as hot standbys. When the holder dies
// (its session times out), stops (it leaves the group) or is cut off, the group gives the
// partition to a standby within about the session timeout.
//
// The lease alone does not make writes safe — a holder cut off from the coordinator may not know
// yet that it lost the lease. The transactional id does: the new holder initialises the same
// transactional id before writing, which fences the old one, whose next commit fails.
//
// The group uses the cooperative-sticky balancer, so an instance joining or leaving does not move
// the partition away from a healthy holder: no flapping.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
)

// ErrLost is the cause of a holder's context once the group took the lease away.
var ErrLost = errors.New("lease lost: another instance may now be the writer")

// Config configures the lease.
type Config struct {
	Kafka []kgo.Opt // connection options
	Topic string    // the lease topic, created with one partition if missing
	Group string    // the consumer group of the instances
	// SessionTimeout is how long the group waits for a silent holder before giving the lease
	// to a standby [6 s, the broker's group.min.session.timeout.ms by default].
	SessionTimeout time.Duration
	// ReplicationFactor of the lease topic when created [-1: the broker's default].
	ReplicationFactor int16
	Logger            *slog.Logger
}

// Lease is one instance's membership. Create it with Join, wait for Held, and Close it.
type Lease struct {
	cfg  Config
	cl   *kgo.Client
	held chan struct{} // closed when the lease is first assigned to this instance

	mu       sync.Mutex
	holding  bool
	closing  bool
	cancel   context.CancelCauseFunc // of the holder's context, once held
	stopped  chan struct{}           // closed by Release when the holder stopped writing
	heldOnce sync.Once
}

// Join creates the lease topic if needed and joins the group. It does not wait for the lease.
func Join(ctx context.Context, cfg Config) (*Lease, error) {
	cfg, err := Prepare(ctx, cfg, "lease")
	if err != nil {
		return nil, err
	}
	l := &Lease{cfg: cfg, held: make(chan struct{})}
	cl, err := kgo.NewClient(append(MemberOpts(cfg, kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if has(m, cfg.Topic) {
				l.assigned()
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if has(m, cfg.Topic) {
				l.revoked("revoked by a rebalance")
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if has(m, cfg.Topic) {
				l.revoked("lost (the group no longer knows this member)")
			}
		}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	l.cl = cl
	// Polling keeps the member's group loop going; the lease topic holds no record.
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	return l, nil
}

func has(m map[string][]int32, topic string) bool {
	for _, p := range m[topic] {
		if p == 0 {
			return true
		}
	}
	return false
}

func (l *Lease) assigned() {
	l.mu.Lock()
	l.holding = true
	l.mu.Unlock()
	l.cfg.Logger.Info("lease acquired: this instance is the active writer", "group", l.cfg.Group)
	l.heldOnce.Do(func() { close(l.held) })
}

// revoked stops the holder and waits, within the rebalance, until it stopped writing, so that
// the next holder starts after it (fencing covers a holder that does not stop in time).
func (l *Lease) revoked(why string) {
	l.mu.Lock()
	wasHolding, cancel, stopped, closing := l.holding, l.cancel, l.stopped, l.closing
	l.holding = false
	l.mu.Unlock()
	if !wasHolding {
		return
	}
	if closing {
		l.cfg.Logger.Info("lease released: a standby takes over", "group", l.cfg.Group)
		return
	}
	l.cfg.Logger.Warn("lease "+why+": this instance stops writing", "group", l.cfg.Group)
	if cancel != nil {
		cancel(ErrLost)
		select {
		case <-stopped:
		case <-time.After(20 * time.Second):
		}
	}
}

// Held returns a channel closed once this instance holds the lease.
func (l *Lease) Held() <-chan struct{} { return l.held }

// Holder returns a context for the writer, cancelled with cause ErrLost when the lease is
// lost, and a function the writer calls once it stopped writing. Call it once the lease is held.
func (l *Lease) Holder(ctx context.Context) (context.Context, func()) {
	hctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	l.mu.Lock()
	l.cancel, l.stopped = cancel, stopped
	stillHolding := l.holding
	l.mu.Unlock()
	if !stillHolding {
		cancel(ErrLost)
	}
	var once sync.Once
	return hctx, func() { once.Do(func() { close(stopped); cancel(nil) }) }
}

// Close leaves the group at once, so a standby takes over without waiting for the session
// timeout.
func (l *Lease) Close() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	l.cl.Close()
}

// Prepare checks cfg, fills in its defaults and creates its topic if missing: what a group
// of the connector's replicas (the lease, the organisations' group) needs before joining.
// Errors start with who.
func Prepare(ctx context.Context, cfg Config, who string) (Config, error) {
	if cfg.Topic == "" || cfg.Group == "" {
		return cfg, fmt.Errorf("%s: a topic and a group are required", who)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 6 * time.Second
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := kafkatopic.EnsureGroupTopic(ctx, cfg.Kafka, cfg.Topic, cfg.ReplicationFactor); err != nil {
		return cfg, fmt.Errorf("%s: %w", who, err)
	}
	return cfg, nil
}

// MemberOpts are the client options of a member of cfg's group with balancer: the session
// timeout, a heartbeat of a sixth of it (at least 500 ms), rebalances of at most 30 s (a member
// stopping its writers), no offsets committed.
func MemberOpts(cfg Config, balancer kgo.GroupBalancer) []kgo.Opt {
	return append(append([]kgo.Opt(nil), cfg.Kafka...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(max(cfg.SessionTimeout/6, 500*time.Millisecond)),
		kgo.RebalanceTimeout(30*time.Second),
		kgo.DisableAutoCommit())
}
