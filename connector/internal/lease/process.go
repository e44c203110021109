package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProcessPresence is a process's one membership of the presence group: its join metadata
// lists the transactional ids of the organisations the process writes for, so that Kafka
// itself says which are alive, even idle (Present), with one group member per process rather
// than one per organisation. It elects and assigns nothing.
type ProcessPresence struct {
	cl *kgo.Client

	mu      sync.Mutex
	ids     map[string]int // transactional id → runs holding it
	rejoin  *time.Timer    // a rejoin is due (changes within presenceSettle make one)
	stopped bool
}

// presenceSettle coalesces the changes of a start or a rollout (hundreds of organisations
// starting within seconds) into one rejoin of the presence group.
const presenceSettle = time.Second

// presenceMetadata is the user data of a member's join.
type presenceMetadata struct {
	TransactionalIDs []string `json:"transactional_ids"`
}

// JoinProcessPresence creates the group's topic if missing and joins cfg.Group. Close leaves.
func JoinProcessPresence(ctx context.Context, cfg Config) (*ProcessPresence, error) {
	cfg, err := Prepare(ctx, cfg, "presence")
	if err != nil {
		return nil, err
	}
	p := &ProcessPresence{ids: map[string]int{}}
	cl, err := kgo.NewClient(append(MemberOpts(cfg, presenceBalancer{p}),
		// Short: a killed process's membership ends soon.
		kgo.SessionTimeout(10*time.Second), kgo.RebalanceTimeout(10*time.Second))...)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	p.cl = cl
	go func() { // polling keeps the member's group loop going; nothing is fetched
		for {
			if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
				return
			}
		}
	}()
	return p, nil
}

// Add says the process writes for transactionalID from now on (the member rejoins to say so).
func (p *ProcessPresence) Add(transactionalID string) {
	p.mu.Lock()
	p.ids[transactionalID]++
	first := p.ids[transactionalID] == 1
	p.mu.Unlock()
	if first {
		p.changed()
	}
}

// changed makes the member rejoin, saying what it lists now, once the changes settle.
func (p *ProcessPresence) changed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rejoin != nil || p.stopped {
		return
	}
	p.rejoin = time.AfterFunc(presenceSettle, func() {
		p.mu.Lock()
		p.rejoin = nil
		stopped := p.stopped
		p.mu.Unlock()
		if !stopped {
			p.cl.ForceRebalance()
		}
	})
}

// Remove undoes one Add.
func (p *ProcessPresence) Remove(transactionalID string) {
	p.mu.Lock()
	p.ids[transactionalID]--
	last := p.ids[transactionalID] <= 0
	if last {
		delete(p.ids, transactionalID)
	}
	p.mu.Unlock()
	if last {
		p.changed()
	}
}

func (p *ProcessPresence) listed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.ids))
	for id := range p.ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Close leaves the group, waiting at most presenceLeave.
func (p *ProcessPresence) Close() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), presenceLeave)
	defer cancel()
	_ = p.cl.LeaveGroupContext(ctx)
	go p.cl.Close()
}

// presenceBalancer is the presence group's protocol: the metadata lists the transactional
// ids; nothing is ever assigned.
type presenceBalancer struct{ p *ProcessPresence }

// PresenceProtocol is the presence group's protocol name.
const PresenceProtocol = "partoo-presence"

func (presenceBalancer) ProtocolName() string { return PresenceProtocol }
func (presenceBalancer) IsCooperative() bool  { return false }

func (b presenceBalancer) JoinGroupMetadata(topics []string, _ map[string][]int32, _ int32) []byte {
	user, _ := json.Marshal(presenceMetadata{TransactionalIDs: b.p.listed()})
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics, meta.UserData = topics, user
	return meta.AppendTo(nil)
}

func (presenceBalancer) ParseSyncAssignment([]byte) (map[string][]int32, error) {
	return map[string][]int32{}, nil
}

func (presenceBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	topics := map[string]struct{}{}
	for _, jm := range members {
		var meta kmsg.ConsumerMemberMetadata
		if meta.ReadFrom(jm.ProtocolMetadata) == nil {
			for _, t := range meta.Topics {
				topics[t] = struct{}{}
			}
		}
	}
	return noAssignment{}, topics, nil
}

// noAssignment gives every member nothing.
type noAssignment struct{}

func (noAssignment) Balance(map[string]int32) kgo.IntoSyncAssignment { return noAssignment{} }
func (noAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	return nil
}

// Present lists the members of the process presence group whose metadata names
// transactionalID (client id and host of each), sorted; a group that does not exist has none.
func Present(ctx context.Context, adm *kadm.Client, group, transactionalID string) ([]string, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	g, ok := described[group]
	if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if g.Err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, g.Err)
	}
	var out []string
	for _, m := range g.Members {
		if slices.Contains(MemberTransactionalIDs(m), transactionalID) {
			out = append(out, fmt.Sprintf("%s (group %s, client %s, host %s)", m.MemberID, group, m.ClientID, m.ClientHost))
		}
	}
	sort.Strings(out)
	return out, nil
}

// MemberTransactionalIDs returns the transactional ids a presence member's metadata lists.
func MemberTransactionalIDs(m kadm.DescribedGroupMember) []string {
	c, ok := m.Join.AsConsumer()
	if !ok {
		return nil
	}
	var md presenceMetadata
	if json.Unmarshal(c.UserData, &md) != nil {
		return nil
	}
	return md.TransactionalIDs
}
