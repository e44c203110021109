package tables

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Conversations remembers what the API said of each conversation it listed or fetched: the
// context every event carries, and, when the conversations table is on, the rows to write
// (a conversation whose table fields changed since its last committed row). The Partoo client
// hands it every conversation it decodes (partoo.Config.Conversations); safe for concurrent use.
type Conversations struct {
	org   int64
	table bool // collect rows for the conversations table
	now   func() time.Time

	mu       sync.Mutex
	ctx      map[int64]model.Context
	written  map[int64]uint64             // fingerprint of the last committed row
	pending  map[int64]ConversationUpdate // listed with a change, not yet committed
	inflight map[int64]bool               // taken into a transaction not yet settled
}

// ConversationUpdate is a conversation as a listing showed it, at a time.
type ConversationUpdate struct {
	Conversation model.Conversation
	At           time.Time
	sum          uint64
}

// NewConversations returns an empty store for organisation org (0: not configured). With
// table set it collects the conversations table's rows; now is the clock (default time.Now).
func NewConversations(org int64, table bool, now func() time.Time) *Conversations {
	if now == nil {
		now = time.Now
	}
	return &Conversations{org: org, table: table, now: now, ctx: map[int64]model.Context{},
		written: map[int64]uint64{}, pending: map[int64]ConversationUpdate{}, inflight: map[int64]bool{}}
}

// Record records what a listing or GET /conversations/{id} said of conversations.
func (s *Conversations) Record(cs []model.Conversation) {
	at := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		c.LastMessage = nil // not a field of the row; it may hold a large content
		s.ctx[c.ID] = model.ContextOf(c, s.org)
		if !s.table {
			continue
		}
		sum := fingerprint(c)
		if s.written[c.ID] == sum && !s.inflight[c.ID] {
			delete(s.pending, c.ID)
			continue
		}
		// Back to the committed row while another is in flight: that one will overwrite it,
		// so this listing's row is written after it.
		s.pending[c.ID] = ConversationUpdate{Conversation: c, At: at, sum: sum}
	}
}

// Context returns a conversation's context, and whether the API has said it since the start.
func (s *Conversations) Context(id int64) (model.Context, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ctx[id]
	return c, ok
}

// Take returns pending rows (at most max, > 0) for a transaction; they stay pending until
// Committed, and Failed gives them back.
func (s *Conversations) Take(max int) []ConversationUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConversationUpdate, 0, min(max, len(s.pending)))
	for id, u := range s.pending {
		if len(out) == max {
			break
		}
		if s.inflight[id] {
			continue
		}
		s.inflight[id] = true
		out = append(out, u)
	}
	return out
}

// Committed records that the rows of us are in Kafka: each leaves the pending set unless a
// newer listing changed it again meanwhile.
func (s *Conversations) Committed(us []ConversationUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range us {
		id := u.Conversation.ID
		s.written[id] = u.sum
		delete(s.inflight, id)
		if p, ok := s.pending[id]; ok && p.sum == u.sum {
			delete(s.pending, id)
		}
	}
}

// Failed gives back the rows of a transaction that did not commit: still pending.
func (s *Conversations) Failed(us []ConversationUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range us {
		delete(s.inflight, u.Conversation.ID)
	}
}

// Pending is the number of conversations whose row waits for a transaction.
func (s *Conversations) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// fingerprint is a hash of the fields a conversation's row publishes (not its last message),
// each written with its length or presence, so that no two rows share one by concatenation.
// (It was a hash of the row's JSON: 5 % of the process's CPU at 100 organisations.)
func fingerprint(c model.Conversation) uint64 {
	h := fnv.New64a()
	var b [8]byte
	num := func(v int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	str := func(s *string) {
		if s == nil {
			h.Write([]byte{0})
			return
		}
		num(int64(len(*s)) + 1)
		io.WriteString(h, *s)
	}
	plain := func(s string) { str(&s) }
	num(c.ID)
	plain(string(c.MessagingPartner))
	plain(c.BusinessID)
	d := c.Details
	for _, s := range []*string{d.BusinessName, d.BusinessCity, d.BusinessZipcode, d.BusinessCountry, d.Status, d.StatusRaw,
		d.AssignedUserID, d.ConsumerName, d.ConsumerPhoneNumber} {
		str(s)
	}
	for _, v := range []*bool{d.IsSolved, d.IsExpired} {
		switch {
		case v == nil:
			num(0)
		case *v:
			num(2)
		default:
			num(1)
		}
	}
	for _, t := range []*model.Time{d.CreatedAt, d.FirstMessageDate} {
		if t == nil {
			num(-1 << 63)
		} else {
			num(t.UnixMicro())
		}
	}
	return h.Sum64() | 1 // never 0, the value of a conversation never written
}
