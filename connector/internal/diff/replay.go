package diff

import (
	"sort"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Replay rebuilds the states Diff recorded from the events it emitted, read back in order
// (per conversation, as in its partition). It is what `rebuild-state` uses when the state
// topic is lost: with the rebuilt states, the next walks emit nothing for what the events
// already say, and a message that comes back after a Vanished deletion gets new event ids. What
// events do not carry (the walks a message has been absent from, and since when) starts at
// zero.
type Replay struct {
	convs map[int64]*replayed
}

type replayed struct {
	msgs    map[int64]model.Message
	seq     map[int64]uint8
	deleted map[int64]bool
	gens    map[int64]int // Vanished deletions per message
}

// NewReplay returns an empty replay.
func NewReplay() *Replay { return &Replay{convs: map[int64]*replayed{}} }

// Apply replays one event. Only Type, ConversationID, MessageID, Message (for MessageCreated
// and MessageDeleted), Status (for StatusChanged) and Reason are used.
func (r *Replay) Apply(e Event) {
	c := r.convs[e.ConversationID]
	if c == nil {
		c = &replayed{msgs: map[int64]model.Message{}, seq: map[int64]uint8{}, deleted: map[int64]bool{}, gens: map[int64]int{}}
		r.convs[e.ConversationID] = c
	}
	switch e.Type {
	case MessageCreated:
		c.msgs[e.MessageID] = e.Message
	case StatusChanged:
		if m, ok := c.msgs[e.MessageID]; ok {
			m.Status = e.Status
			c.msgs[e.MessageID] = m
		}
		c.seq[e.MessageID]++
	case MessageDeleted:
		if e.Reason == Vanished {
			c.gens[e.MessageID]++
			delete(c.msgs, e.MessageID)
			delete(c.seq, e.MessageID)
			delete(c.deleted, e.MessageID)
			return
		}
		c.deleted[e.MessageID] = true
	}
}

// Conversations is the number of conversations replayed so far.
func (r *Replay) Conversations() int { return len(r.convs) }

// States returns the rebuilt state of every conversation, by id, each marked as snapshotted
// and updated at now.
func (r *Replay) States(now time.Time) []*State {
	out := make([]*State, 0, len(r.convs))
	for id, c := range r.convs {
		s := &State{ConversationID: id, SnapshotDone: true, UpdatedAt: now, Raw: map[string]string{}}
		for _, m := range c.msgs {
			ms := encodeMessage(m, s.Raw)
			ms.StatusSeq = c.seq[m.ID]
			if c.deleted[m.ID] {
				ms.Flags |= flagDeleted
			}
			s.Messages = append(s.Messages, ms)
		}
		for m, n := range c.gens {
			s.Raw[rawKey('x', m)] = strconv.Itoa(n)
		}
		sort.Slice(s.Messages, func(i, j int) bool { return s.Messages[i].ID < s.Messages[j].ID })
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ConversationID < out[j].ConversationID })
	return out
}
