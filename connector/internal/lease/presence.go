package lease

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Presence is a connector's membership of its presence group: while it lasts, Kafka itself
// says that a connector of this transactional id is alive (Members), even when it has not
// written for a while. Tools that write with the connector's transactional id (rebuild-state)
// refuse while the group has members. It takes no lease and elects nothing.
type Presence struct{ cl *kgo.Client }

// JoinPresence creates the topic if needed (the lease topic: it holds no record) and joins
// group as a member. Close leaves the group.
func JoinPresence(ctx context.Context, cfg Config) (*Presence, error) {
	cfg, err := Prepare(ctx, cfg, "presence")
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Kafka...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		// Short: a killed connector's membership ends soon, and joins after a crash wait little.
		kgo.SessionTimeout(10*time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.DisableAutoCommit(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	go func() { // polling keeps the member's group loop going
		for {
			if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
				return
			}
		}
	}()
	return &Presence{cl: cl}, nil
}

// Close leaves the group, waiting at most presenceLeave for it: a join still in progress
// (members of crashed connectors not yet expired) must not hold up a shutdown; the member
// then expires with its session.
func (p *Presence) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), presenceLeave)
	defer cancel()
	_ = p.cl.LeaveGroupContext(ctx)
	go p.cl.Close()
}

const presenceLeave = 2 * time.Second

// Members lists the members of the groups (client id and host of each), sorted; groups that do
// not exist have none.
func Members(ctx context.Context, adm *kadm.Client, groups ...string) ([]string, error) {
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range described.Sorted() {
		if errors.Is(g.Err, kerr.GroupIDNotFound) {
			continue // never joined: no member
		}
		if g.Err != nil {
			return nil, fmt.Errorf("describe group %s: %w", g.Group, g.Err)
		}
		for _, m := range g.Members {
			out = append(out, fmt.Sprintf("%s (group %s, client %s, host %s)", m.MemberID, g.Group, m.ClientID, m.ClientHost))
		}
	}
	sort.Strings(out)
	return out, nil
}
