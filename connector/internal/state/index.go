package state

import (
	"sort"
	"sync"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
)

// Index is the in-memory state of every tracked conversation. It is updated only after a
// transaction commits. Safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	convs    map[int64]*diff.State
	messages int
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{convs: map[int64]*diff.State{}} }

// Get returns a conversation's state, or nil. The caller must not modify it.
func (x *Index) Get(id int64) *diff.State {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.convs[id]
}

// Put records a conversation's state.
func (x *Index) Put(s *diff.State) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.convs[s.ConversationID]; old != nil {
		x.messages -= len(old.Messages)
	}
	x.messages += len(s.Messages)
	x.convs[s.ConversationID] = s
}

// Delete forgets a conversation.
func (x *Index) Delete(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old := x.convs[id]; old != nil {
		x.messages -= len(old.Messages)
		delete(x.convs, id)
	}
}

// Len returns the number of conversations and messages tracked.
func (x *Index) Len() (conversations, messages int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.convs), x.messages
}

// IDs returns the tracked conversation ids, ascending.
func (x *Index) IDs() []int64 {
	x.mu.RLock()
	ids := make([]int64, 0, len(x.convs))
	for id := range x.convs {
		ids = append(ids, id)
	}
	x.mu.RUnlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Watches returns the watches the conversations' states record (diff.State.Watch), for
// diff.RestoredWatch.
func (x *Index) Watches() []diff.Watch {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]diff.Watch, 0, len(x.convs))
	for _, s := range x.convs {
		if w, ok := s.Watch(); ok {
			out = append(out, w)
		}
	}
	return out
}
