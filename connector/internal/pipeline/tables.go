package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

// Tables configures the table topics' records a Step adds to its transactions.
type Tables struct {
	Codec *tables.Codec // required when a topic is set
	// MessagesTopic receives, for every message an event changed, its row or, once deleted,
	// a tombstone. "": no messages table.
	MessagesTopic string
	// ConversationsTopic receives the rows Conversations collects. "": none.
	ConversationsTopic string
	Conversations      *tables.Conversations
	Organization       int64 // the organisation the rows name (0: not configured)
	ConsumerContact    bool  // publish the consumer's name and phone number
}

// maxConversationRows bounds the conversations table's rows one transaction carries.
const maxConversationRows = 500

// withContext sets the conversation's context on every event of res. A conversation the API
// has not described since the start is fetched first (GET /conversations/{id}, one request
// of the walk's budget): no event goes out without its business and channel.
func (s *Step) withContext(ctx context.Context, id int64, t *budget.Ticket, res *diff.Result, fill bool) (model.Context, error) {
	if s.cfg.Context == nil || (len(res.Events) == 0 && !fill) {
		return model.Context{}, nil
	}
	cx, ok := s.cfg.Context(id)
	if !ok {
		conv, err := s.cfg.Partoo.WithTicket(t).GetConversation(ctx, id)
		if err != nil {
			return model.Context{}, fmt.Errorf("reading the conversation's business and channel (GET /conversations/%d): %w", id, err)
		}
		if cx, ok = s.cfg.Context(id); !ok {
			cx = model.ContextOf(*conv, s.cfg.Organization)
		}
	}
	cx.Organization = s.cfg.OrganizationName
	for i := range res.Events {
		res.Events[i].Context = cx
	}
	return cx, nil
}

// messageRecords are the messages table's records of a change: for each message its events
// touched, in the order of its first event, its row as the last event saw it, or a tombstone
// when its recorded state is deleted.
func (s *Step) messageRecords(p *Prepared, maxBytes int) []publish.Record {
	tb := s.cfg.Tables
	if tb == nil || tb.MessagesTopic == "" {
		return nil
	}
	last := map[int64]int{}
	var order []int64
	for i, e := range p.Result.Events {
		if _, seen := last[e.MessageID]; !seen {
			order = append(order, e.MessageID)
		}
		last[e.MessageID] = i
	}
	recs := make([]publish.Record, 0, len(order))
	for _, id := range order {
		e := p.Result.Events[last[id]]
		rec := publish.Record{Topic: tb.MessagesTopic, Key: tables.Key(id)}
		if !deletedIn(p.Result.Next, e) {
			v, err := tb.Codec.MessageRow(e, maxBytes)
			if err != nil {
				// Named and left out, like an event that cannot fit: the rest goes on.
				p.Report.Dropped = append(p.Report.Dropped, Dropped{MessageID: id, Type: e.Type, Err: fmt.Errorf("messages table row: %w", err)})
				continue
			}
			rec.Value, rec.Headers = v, tb.Codec.Headers(false)
		}
		recs = append(recs, rec)
	}
	return append(recs, s.fillRecords(p, last, maxBytes)...)
}

// fillRecords are the rows a table fill adds: every current message of the walk that no event
// of this change touched (known sender, recorded and not deleted), with an empty event_id.
func (s *Step) fillRecords(p *Prepared, touched map[int64]int, maxBytes int) []publish.Record {
	if p.walk == nil {
		return nil
	}
	tb, id := s.cfg.Tables, p.Report.ConversationID
	st := p.Result.Next
	if st == nil {
		st = p.prev
	}
	now := s.cfg.Clock.Now()
	var recs []publish.Record
	for _, m := range p.walk {
		if _, done := touched[m.ID]; done || m.ConversationID != id || !m.SenderType.Known() || st == nil {
			continue
		}
		if i := st.Find(m.ID); i < 0 || st.Messages[i].Deleted() {
			continue
		}
		e := diff.Event{Type: diff.MessageCreated, ConversationID: id, MessageID: m.ID, DetectedAt: now, Date: m.Date.Time, Message: m, Context: p.context}
		v, err := tb.Codec.MessageRow(e, maxBytes)
		if err != nil {
			p.Report.Dropped = append(p.Report.Dropped, Dropped{MessageID: m.ID, Type: e.Type, Err: fmt.Errorf("messages table row: %w", err)})
			continue
		}
		recs = append(recs, publish.Record{Topic: tb.MessagesTopic, Key: tables.Key(m.ID), Value: v, Headers: tb.Codec.Headers(false)})
	}
	return recs
}

// deletedIn says whether e's message is deleted: by e itself, or in the state recorded next.
func deletedIn(next *diff.State, e diff.Event) bool {
	if e.Type == diff.MessageDeleted || e.Message.IsDeleted {
		return true
	}
	if next != nil {
		if i := next.Find(e.MessageID); i >= 0 {
			return next.Messages[i].Deleted()
		}
	}
	return false
}

// conversationChanges are the conversations table's pending rows, one change each (so that a
// row Kafka refuses is left out alone, like a conversation's records).
func (s *Step) conversationChanges() ([]publish.Change, []tables.ConversationUpdate) {
	tb := s.cfg.Tables
	if tb == nil || tb.ConversationsTopic == "" || tb.Conversations == nil {
		return nil, nil
	}
	us := tb.Conversations.Take(maxConversationRows)
	out := make([]publish.Change, 0, len(us))
	kept := us[:0]
	for _, u := range us {
		v, err := tb.Codec.ConversationRow(u.Conversation, tb.Organization, tb.ConsumerContact, model.Time{Time: u.At})
		if err != nil {
			tb.Conversations.Failed([]tables.ConversationUpdate{u}) // cannot happen with valid text; tried again
			continue
		}
		out = append(out, publish.Change{ConversationID: u.Conversation.ID,
			Records: []publish.Record{{Topic: tb.ConversationsTopic, Key: tables.Key(u.Conversation.ID), Value: v, Headers: tb.Codec.Headers(true)}}})
		kept = append(kept, u)
	}
	return out, kept
}

// settleConversations records the conversation rows of the changes that committed, and
// gives the others back.
func (s *Step) settleConversations(us []tables.ConversationUpdate, refused map[int64]error, perr error) {
	if len(us) == 0 {
		return
	}
	store := s.cfg.Tables.Conversations
	if perr != nil && !errors.As(perr, new(*publish.RefusedError)) {
		store.Failed(us)
		return
	}
	var done, failed []tables.ConversationUpdate
	for _, u := range us {
		if _, no := refused[u.Conversation.ID]; no {
			failed = append(failed, u)
		} else {
			done = append(done, u)
		}
	}
	store.Committed(done)
	store.Failed(failed)
}
