// Package assign spreads organisations over the connector's replicas through Kafka's own
// group protocol, as Kafka Connect spreads tasks over its workers: every replica joins one
// consumer group, the group's leader (a replica, elected by the broker's group coordinator)
// computes who runs which organisation (Plan), and the coordinator hands each replica its
// share. There is no coordinator of ours.
//
// A replica's join metadata says which organisations its file lists and which it runs; the
// assignment it receives is the organisations it must run. The protocol is cooperative: an
// organisation that moves is first stopped by its owner, which then rejoins without it, and
// only the next round gives it to another replica. When a replica dies, its organisations
// are free once the group expels it (after the session timeout) and the next round gives
// them away at once. Safety never rests on the group alone: every organisation writes with
// its own transactional id, and the new owner's InitProducerID fences a replica that has not
// noticed yet.
//
// The group's records are valid consumer-protocol metadata and assignments (their user data
// carries the names), on a one-partition topic that holds no record, so Kafka's tools
// (kafka-consumer-groups.sh --describe --members) list the replicas.
package assign

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Protocol is the group protocol's name, as kafka-consumer-groups.sh shows it.
const Protocol = "partoo-organizations"

// Config configures a member: the group's topic (created with one partition if missing; it
// holds no record), the group of the replicas, and how long the group waits for a silent
// replica before giving its organisations away [6 s, the broker's default minimum].
type Config = lease.Config

// Member is one replica's membership. Create it with Join; read Assignments; tell it what
// the file lists (SetAvailable) and what runs (SetOwned); Close it last.
type Member struct {
	cfg         Config
	cl          *kgo.Client
	assignments chan []string

	mu        sync.Mutex
	available []string
	file      string   // the digest of the file the member read (names and entries)
	owned     []string // what runs, as SetOwned said
	assigned  []string // the latest assignment, less what was released
	joined    bool
	groupErr  error // the last error of the group session, until an assignment
}

// metadata is the user data of a member's join: what it can run, what it runs, and a digest
// of its organisations file (replicas that read different files are reported).
type metadata struct {
	Available []string `json:"available"`
	Owned     []string `json:"owned"`
	File      string   `json:"file,omitempty"`
}

// assignment is the user data of a member's assignment.
type assignment struct {
	Organizations []string `json:"organizations"`
}

// Join creates the topic if needed and joins the group with the organisations the file lists
// (file is a digest of it: replicas whose digests differ are reported).
func Join(ctx context.Context, cfg Config, available []string, file string) (*Member, error) {
	cfg, err := lease.Prepare(ctx, cfg, "assign")
	if err != nil {
		return nil, err
	}
	m := &Member{cfg: cfg, assignments: make(chan []string, 1), available: sorted(available), file: file, owned: []string{}}
	cl, err := kgo.NewClient(append(lease.MemberOpts(cfg, balancer{m}),
		kgo.WithHooks(groupErrors{m}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	m.cl = cl
	// Polling keeps the member's group loop going; nothing is ever fetched.
	go func() {
		for {
			if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
				return
			}
		}
	}()
	return m, nil
}

// Assignments delivers every assignment the group gives this member: the organisations it
// must run, sorted. Only the latest is kept when the reader is slow.
func (m *Member) Assignments() <-chan []string { return m.assignments }

// SetAvailable says which organisations the file lists now, and its digest; a change makes
// the member rejoin, so that the group reassigns.
func (m *Member) SetAvailable(names []string, file string) {
	names = sorted(names)
	m.mu.Lock()
	changed := !slices.Equal(m.available, names) || m.file != file
	m.available, m.file = names, file
	m.mu.Unlock()
	if changed {
		m.cl.ForceRebalance()
	}
}

// SetOwned says which organisations run here now, engines still stopping included. The
// member claims those and its latest assignment (what it is about to start), and rejoins
// when its claim shrank: a cooperative revocation is done, the group can move them.
func (m *Member) SetOwned(names []string) {
	m.update(func() { m.owned = sorted(names) })
}

// Release gives an assigned organisation back to the group without waiting for the next
// assignment (another replica fenced it: it runs there now).
func (m *Member) Release(name string) {
	m.update(func() { m.assigned = slices.DeleteFunc(m.assigned, func(n string) bool { return n == name }) })
}

func (m *Member) update(f func()) {
	m.mu.Lock()
	before := m.claimLocked()
	f()
	after := set(m.claimLocked())
	m.mu.Unlock()
	for _, n := range before {
		if !after[n] {
			m.cl.ForceRebalance()
			return
		}
	}
}

// claimLocked is what the member says it runs: what runs and what it is about to start.
func (m *Member) claimLocked() []string {
	return sorted(append(append([]string{}, m.owned...), m.assigned...))
}

// Joined reports whether the member received an assignment since it joined.
func (m *Member) Joined() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.joined
}

// Close leaves the group at once, so the others take this member's organisations without
// waiting for the session timeout. Stop the engines first.
func (m *Member) Close() { m.cl.Close() }

// GroupError is the last error that ended the member's group session while it had no
// assignment since (nil once it has one): why it is still not a member.
func (m *Member) GroupError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groupErr
}

// groupErrors logs what ends a group session (a refused join: an ACL, a session timeout the
// broker refuses), once per distinct error, and keeps it for GroupError.
type groupErrors struct{ m *Member }

func (h groupErrors) OnGroupManageError(err error) {
	h.m.mu.Lock()
	repeated := h.m.groupErr != nil && h.m.groupErr.Error() == err.Error()
	h.m.groupErr = err
	h.m.mu.Unlock()
	if !repeated {
		h.m.cfg.Logger.Error("the organisations' group: the session failed; retrying", "group", h.m.cfg.Group, "err", err)
	}
}

func (m *Member) deliver(orgs []string) {
	m.mu.Lock()
	m.joined, m.groupErr = true, nil
	m.assigned = orgs // claimed from now on, so that a join before they start still says so
	m.mu.Unlock()
	for {
		select {
		case m.assignments <- orgs:
			return
		default:
			select { // replace an assignment not read yet
			case <-m.assignments:
			default:
			}
		}
	}
}

func sorted(names []string) []string {
	out := append([]string{}, names...)
	sort.Strings(out)
	return slices.Compact(out)
}

// balancer is the group protocol: the member's metadata, the leader's Plan, the parsing of
// an assignment.
type balancer struct{ m *Member }

func (balancer) ProtocolName() string { return Protocol }
func (balancer) IsCooperative() bool  { return true }

func (b balancer) JoinGroupMetadata(topics []string, _ map[string][]int32, _ int32) []byte {
	b.m.mu.Lock()
	md := metadata{Available: b.m.available, Owned: b.m.claimLocked(), File: b.m.file}
	b.m.mu.Unlock()
	user, _ := json.Marshal(md)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = topics
	meta.UserData = user
	return meta.AppendTo(nil)
}

func (b balancer) ParseSyncAssignment(raw []byte) (map[string][]int32, error) {
	var a assignment
	if len(raw) > 0 { // an empty assignment: the member runs nothing
		var ka kmsg.ConsumerMemberAssignment
		if err := ka.ReadFrom(raw); err != nil {
			return nil, fmt.Errorf("assign: unreadable assignment: %w", err)
		}
		if err := json.Unmarshal(ka.UserData, &a); err != nil {
			return nil, fmt.Errorf("assign: unreadable assignment: %w", err)
		}
	}
	b.m.deliver(sorted(a.Organizations))
	return map[string][]int32{}, nil
}

func (b balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	claims := make([]Claim, 0, len(members))
	topics := map[string]struct{}{}
	files := map[string][]string{} // digest -> members
	for _, jm := range members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(jm.ProtocolMetadata); err != nil {
			return nil, nil, fmt.Errorf("assign: member %s: unreadable metadata: %w", jm.MemberID, err)
		}
		var md metadata
		if err := json.Unmarshal(meta.UserData, &md); err != nil {
			return nil, nil, fmt.Errorf("assign: member %s: unreadable metadata: %w", jm.MemberID, err)
		}
		for _, t := range meta.Topics {
			topics[t] = struct{}{}
		}
		claims = append(claims, Claim{Member: jm.MemberID, Available: md.Available, Owned: md.Owned})
		files[md.File] = append(files[md.File], jm.MemberID)
	}
	if len(files) > 1 {
		b.m.cfg.Logger.Warn("the replicas read different organisations files: each runs only what its own file lists, and an organisation's entry is the one of the replica that runs it; normal for a minute while a ConfigMap change reaches every pod",
			"group", b.m.cfg.Group, "members_by_file", files)
	}
	plan := Plan(claims)
	b.m.cfg.Logger.Info("group leader: organisations assigned", "group", b.m.cfg.Group, "members", len(claims), "plan", plan)
	return memberBalancer(plan), topics, nil
}

// memberBalancer hands out a computed plan.
type memberBalancer map[string][]string

func (p memberBalancer) Balance(map[string]int32) kgo.IntoSyncAssignment { return p }

func (p memberBalancer) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(p))
	for member, orgs := range p {
		user, _ := json.Marshal(assignment{Organizations: orgs})
		ka := kmsg.NewConsumerMemberAssignment()
		ka.UserData = user
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID, sa.MemberAssignment = member, ka.AppendTo(nil)
		out = append(out, sa)
	}
	return out
}
