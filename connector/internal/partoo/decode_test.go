package partoo_test

import (
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// TestDecodeOnlyWhatIsUsed: fields the connector does not use never fail a page, whatever
// their type, and the fields it uses accept every unambiguous shape.
func TestDecodeOnlyWhatIsUsed(t *testing.T) {
	when := time.Date(2023, 1, 31, 16, 22, 17, 327878000, time.UTC)
	for _, tc := range []struct {
		name string
		conv string // one listed conversation
		want model.Conversation
	}{
		{"classic", `{"id": 5, "business": {"id": 3}, "messaging_partner": "Whatsapp", "last_message": null}`,
			model.Conversation{ID: 5, BusinessID: "3", MessagingPartner: "Whatsapp"}},
		{"string ids and a hex business", `{"id": "5", "business": {"id": "5409c35a97bbc544d8e26737"}, "messaging_partner": "Instagram"}`,
			model.Conversation{ID: 5, BusinessID: "5409c35a97bbc544d8e26737", MessagingPartner: "Instagram"}},
		{"float id, business as a bare id", `{"id": 5.0, "business": "b-1"}`,
			model.Conversation{ID: 5, BusinessID: "b-1"}},
		{"ignored fields of every type", `{"id": 5, "business": {"id": {"oid": 3}, "name": 7}, "created_at": 1675182137,
			"status": {"value": "Open"}, "issues": "late", "is_read": "no", "consumer_name": ["a"], "custom_channel": {"x": [1, null]},
			"first_message_date": false, "assigned_user_id": 42, "unknown": {"deep": [{"er": null}]}}`,
			model.Conversation{ID: 5, BusinessID: `{"oid":3}`}},
		{"missing optional keys", `{"id": 5}`, model.Conversation{ID: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := partoo.DecodeConversationPage([]byte(`{"conversations": [` + tc.conv + `], "count": "1"}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Skipped) != 0 || len(p.Conversations) != 1 {
				t.Fatalf("skipped %v", p.Skipped)
			}
			got := p.Conversations[0]
			details := got.Details
			if got.Details = (model.ConversationDetails{}); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if tc.name == "ignored fields of every type" {
				// The table's fields of odd types are read as text where they can be, else nil.
				d := details
				// status is published: never its JSON text as a status, but Unknown with the raw value.
				if *d.BusinessName != "7" || *d.Status != "Unknown" || *d.StatusRaw != `{"value":"Open"}` || *d.AssignedUserID != "42" || *d.ConsumerName != `["a"]` ||
					!d.CreatedAt.Equal(time.Unix(1675182137, 0)) || d.FirstMessageDate != nil || d.IsSolved != nil || d.BusinessCity != nil {
					t.Fatalf("details %+v", d)
				}
			}
			if p.NextCursor != nil || p.Count != 1 {
				t.Fatalf("absent next_cursor must mean the last page; count %d", p.Count)
			}
		})
	}

	msg := `{"id": "17", "conversation_id": "5", "date": 1675182137.327878, "content_type": "Text",
		"sender_type": "User", "sender_label": null, "status": "Success", "is_deleted": "true",
		"content": null, "user_id": 42, "custom_channel": {"a": 1}, "reactions": [{"emoji": "👍"}]}`
	p, err := partoo.DecodeMessagePage([]byte(`{"messages": [` + msg + `], "next_cursor": ""}`))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Messages[0]
	if m.ID != 17 || m.ConversationID != 5 || !m.Date.Equal(when) || !m.IsDeleted || m.SenderLabel != "" || m.Content != "" ||
		m.UserID == nil || *m.UserID != "42" || string(m.CustomChannel) != `{"a": 1}` || p.NextCursor != nil {
		t.Fatalf("message = %+v (next %v)", m, p.NextCursor)
	}
}

// TestOneBadItemNeverPoisonsThePage: undecodable items are skipped with their id and a
// reason; the others decode.
// TestConversationStatusIsOpenClosedOrUnknown: status is decoded as Partoo documents it, the
// string Open or Closed; any other value is Unknown with the value as sent in StatusRaw (a
// string as it is, other JSON as its text), and never a status that is JSON text.
func TestConversationStatusIsOpenClosedOrUnknown(t *testing.T) {
	for _, tc := range []struct{ json, status, raw string }{
		{`"Open"`, "Open", ""},
		{`"Closed"`, "Closed", ""},
		{`"Archived"`, "Unknown", "Archived"},
		{`"open"`, "Unknown", "open"},
		{`{"value": "Open", "since": "2026-01-02"}`, "Unknown", `{"value":"Open","since":"2026-01-02"}`},
		{`3`, "Unknown", "3"},
		{`true`, "Unknown", "true"},
		{`null`, "", ""},
		{``, "", ""},
	} {
		conv := `{"id": 5, "status": ` + tc.json + `}`
		if tc.json == "" {
			conv = `{"id": 5}`
		}
		p, err := partoo.DecodeConversationPage([]byte(`{"conversations": [` + conv + `], "count": 1}`))
		if err != nil || len(p.Conversations) != 1 {
			t.Fatalf("%s: %v %+v", conv, err, p)
		}
		d := p.Conversations[0].Details
		deref := func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		}
		if deref(d.Status) != tc.status || deref(d.StatusRaw) != tc.raw || (tc.raw == "") != (d.StatusRaw == nil) {
			t.Errorf("status %s: got status %q, raw %q; want %q, %q", tc.json, deref(d.Status), deref(d.StatusRaw), tc.status, tc.raw)
		}
	}
}

func TestOneBadItemNeverPoisonsThePage(t *testing.T) {
	body := `{"messages": [
		{"id": 1, "conversation_id": 9, "date": "2023-01-31 16:22:17.327878+00:00", "sender_type": "Consumer"},
		{"id": 2, "conversation_id": 9, "date": "31/01/2023 at 16h22", "sender_type": "Consumer"},
		{"id": "abc", "date": "2023-01-31 16:22:17+00:00"},
		null,
		{"id": 5, "conversation_id": "nine", "date": "2023-01-31 16:22:17+00:00"},
		{"id": 6, "date": "2023-01-31 16:22:19+00:00", "sender_type": "User"}
	], "next_cursor": "c2"}`
	p, err := partoo.DecodeMessagePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 2 || p.Messages[0].ID != 1 || p.Messages[1].ID != 6 || *p.NextCursor != "c2" {
		t.Fatalf("messages = %+v", p.Messages)
	}
	want := []struct {
		id     int64
		reason string
	}{{2, partoo.SkipBadDate}, {0, partoo.SkipBadID}, {0, partoo.SkipNotObject}, {5, partoo.SkipBadConversation}}
	if len(p.Skipped) != len(want) {
		t.Fatalf("skipped = %v", p.Skipped)
	}
	for i, w := range want {
		if s := p.Skipped[i]; s.ID != w.id || s.Reason != w.reason || s.Endpoint != partoo.EndpointMessages {
			t.Errorf("skipped[%d] = %+v, want id %d reason %s", i, s, w.id, w.reason)
		}
	}

	// A conversation with an unreadable last_message is kept without it; one without a usable
	// id is left out.
	cp, err := partoo.DecodeConversationPage([]byte(`{"conversations": [
		{"id": 1, "last_message": {"id": 3, "date": "soon"}},
		{"id": "x-2"},
		{"id": 3, "last_message": {"id": 4, "date": "2023-01-31 16:22:17+00:00", "status": "Sending"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Conversations) != 2 || cp.Conversations[0].LastMessage != nil || cp.Conversations[1].LastMessage.Status != "Sending" {
		t.Fatalf("conversations = %+v", cp.Conversations)
	}
	if len(cp.Skipped) != 2 || cp.Skipped[0].Reason != partoo.SkipBadLastMessage || cp.Skipped[1].Reason != partoo.SkipBadID {
		t.Fatalf("skipped = %+v", cp.Skipped)
	}
}

func TestPagesThatAreNotPagesFail(t *testing.T) {
	for _, body := range []string{
		`<!DOCTYPE html><html>`, `[]`, `{"error": {"json": "oops"}}`, `{"messages": {"id": 1}}`,
		`{"messages": [], "next_cursor": {"a": 1}}`, `{"messages": [`,
		// A null list is a backend error dressed as a 200, never an empty page.
		`{"messages": null}`, `{"messages": null, "error": "backend timeout", "count": 3, "next_cursor": null}`,
	} {
		if _, err := partoo.DecodeMessagePage([]byte(body)); err == nil {
			t.Errorf("%q decoded, want an error", body)
		}
	}
	if p, err := partoo.DecodeMessagePage([]byte(`{"messages": [], "next_cursor": null, "count": "zero"}`)); err != nil || len(p.Messages) != 0 || p.HasCount {
		t.Errorf("an unreadable count: %+v, %v, want an empty page without a count", p, err)
	}
	if p, err := partoo.DecodeMessagePage([]byte(`{"messages": [], "next_cursor": null, "count": 3}`)); err != nil || !p.HasCount || p.Count != 3 {
		t.Errorf("count 3: %+v, %v", p, err)
	}
	if _, err := partoo.DecodeMessagePage([]byte(`{"messages": null, "error": "backend timeout"}`)); err == nil || !strings.Contains(err.Error(), "backend timeout") {
		t.Errorf("the error of a null page names the body's error: %v", err)
	}
	if _, err := partoo.DecodeMessagePage([]byte(`{"messages": [], "next_cursor": 12}`)); err != nil {
		t.Errorf("a numeric cursor is a cursor: %v", err)
	}
	if !strings.Contains(partoo.SkippedItem{Endpoint: "/messages", Index: 2, ID: 7, Reason: partoo.SkipBadDate}.Error(), "id 7") {
		t.Error("a skipped item names its id")
	}
}

func TestDecodeNullablesAndCustomChannel(t *testing.T) {
	body := `{"messages": [
	  {"id": 1, "conversation_id": 9, "date": "2023-01-31 16:22:17.327878+00:00", "content_type": "Text",
	   "sender_type": "Consumer", "sender_label": "Ann", "status": "Success", "is_deleted": false,
	   "content": "hi", "user_id": null, "custom_channel": null, "extra_field": {"x": 1}},
	  {"id": 2, "conversation_id": 9, "date": "2023-01-31T16:22:18Z", "content_type": "Image",
	   "sender_type": "User", "sender_label": "Bob", "status": "Sending", "is_deleted": true,
	   "content": "", "user_id": "u-1", "custom_channel": {"name": "shop", "ids": [1, 2]}}
	], "count": 2, "next_cursor": null}`
	p, err := partoo.DecodeMessagePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor != nil || p.Count != 2 || len(p.Messages) != 2 {
		t.Fatalf("page = %+v", p)
	}
	a, b := p.Messages[0], p.Messages[1]
	if a.UserID != nil || a.CustomChannel != nil {
		t.Errorf("nulls must decode to nil: user_id=%v custom_channel=%s", a.UserID, a.CustomChannel)
	}
	if b.UserID == nil || *b.UserID != "u-1" || !b.IsDeleted {
		t.Errorf("second message = %+v", b)
	}
	if got := string(b.CustomChannel); got != `{"name": "shop", "ids": [1, 2]}` {
		t.Errorf("custom_channel kept as %s, want the raw JSON", got)
	}

	conv := `{"conversations": [{"id": 5, "consumer_img": null, "consumer_name": null,
	  "consumer_phone_number": null, "last_message": null, "is_read": true, "status": "Closed",
	  "created_at": "2023-01-31 16:22:17.327878+00:00", "has_one_user_message": false,
	  "business": {"id": 3, "name": "B", "city": null, "zipcode": null, "country": null, "formatted_address": null},
	  "messaging_partner": "Whatsapp", "issues": ["late"], "first_message_date": null,
	  "is_expired": false, "is_solved": false, "assigned_user_id": null, "custom_channel": null}],
	  "count": 1, "next_cursor": "abc"}`
	cp, err := partoo.DecodeConversationPage([]byte(conv))
	if err != nil {
		t.Fatal(err)
	}
	c := cp.Conversations[0]
	if c.ID != 5 || c.LastMessage != nil || c.BusinessID != "3" || c.MessagingPartner != "Whatsapp" || *cp.NextCursor != "abc" {
		t.Fatalf("conversation = %+v", c)
	}
}
