package tables_test

import (
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

func str(s string) *string { return &s }

// A conversation's row is pending after a listing that changed it, leaves the pending set
// once committed, and comes back only when a listing shows another change.
func TestConversationRowsFollowListings(t *testing.T) {
	s := tables.NewConversations(0, true, nil)
	open := model.Conversation{ID: 5, BusinessID: "b", MessagingPartner: "SMS", Details: model.ConversationDetails{Status: str("Open")}}
	s.Record([]model.Conversation{open})
	if cx, ok := s.Context(5); !ok || cx.BusinessID != "b" || cx.Partner != "SMS" {
		t.Fatalf("context %+v %v", cx, ok)
	}
	us := s.Take(10)
	if len(us) != 1 {
		t.Fatalf("pending %d, want 1", len(us))
	}
	s.Committed(us)
	open.LastMessage = &model.Message{ID: 9} // not a field of the row
	s.Record([]model.Conversation{open})
	if n := s.Pending(); n != 0 {
		t.Fatalf("an unchanged listing made %d rows pending", n)
	}
	closed := open
	closed.Details.Status = str("Closed")
	s.Record([]model.Conversation{closed})
	us = s.Take(10)
	if len(us) != 1 || *us[0].Conversation.Details.Status != "Closed" {
		t.Fatalf("pending %+v, want the closed conversation", us)
	}
	// A newer change while the row was in flight stays pending after the commit.
	reopened := closed
	reopened.Details.Status = str("Open")
	s.Record([]model.Conversation{reopened})
	s.Committed(us)
	if n := s.Pending(); n != 1 {
		t.Fatalf("the change made during the transaction is lost: %d pending", n)
	}
}

// The consumer's name and phone number are published only when asked for.
func TestConsumerContactIsOptIn(t *testing.T) {
	c, err := tables.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	conv := model.Conversation{ID: 5, Details: model.ConversationDetails{ConsumerName: str("Ann"), ConsumerPhoneNumber: str("+33611111111")}}
	for _, contact := range []bool{false, true} {
		v, err := c.ConversationRow(conv, 0, contact, model.Time{Time: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		_, row, err := c.Decode(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := row["consumer_name"] != nil && row["consumer_phone_number"] != nil; got != contact {
			t.Fatalf("contact %v: row %v", contact, row)
		}
	}
}

// A message row over the size limit is published with its content cut at a UTF-8 boundary
// and flagged; the dates are exact to the microsecond and the millisecond twin agrees.
func TestMessageRowFitsAndKeepsDates(t *testing.T) {
	c, err := tables.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 11, 29, 15, 29, 29, 835978000, time.UTC)
	e := diff.Event{Type: diff.MessageCreated, ID: "x", ConversationID: 1, MessageID: 2, DetectedAt: date,
		Message: model.Message{ID: 2, ConversationID: 1, Date: model.Time{Time: date}, Content: strings.Repeat("é", 100_000)}}
	v, err := c.MessageRow(e, 50_000)
	if err != nil {
		t.Fatal(err)
	}
	if size := events.RecordSize(events.Encoded{Key: tables.Key(2), Value: v, Headers: c.Headers(false)}); size > 50_000 {
		t.Fatalf("row record of %d bytes, limit 50000", size)
	}
	_, row, err := c.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	content := row["content"].(string)
	if len(content) == 0 || !strings.HasPrefix(strings.Repeat("é", 100_000), content) ||
		row["content_truncated_from"].(map[string]any)["long"] != int64(200_000) {
		t.Fatalf("content of %d bytes, truncated_from %v", len(content), row["content_truncated_from"])
	}
	if got := row["date"].(time.Time); !got.Equal(date) || row["date_ms"].(time.Time).UnixMilli() != date.UnixMilli() {
		t.Fatalf("date %v / %v, want %v", got, row["date_ms"], date)
	}
}
