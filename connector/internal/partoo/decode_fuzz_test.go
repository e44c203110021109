package partoo_test

import (
	"encoding/json"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// FuzzDecodeMessagePage: any input either decodes into messages that each have an id and a
// date, or fails with an error; it never panics. A decoded page survives a JSON round trip.
func FuzzDecodeMessagePage(f *testing.F) {
	f.Add([]byte(`{"messages": [{"id": 1, "conversation_id": 2, "date": "2023-01-31 16:22:17.327878+00:00", "content_type": "Text", "sender_type": "Consumer", "status": "Success", "user_id": null, "custom_channel": {"a": 1}}], "count": 1, "next_cursor": "x"}`))
	f.Add([]byte(`{"messages": [], "count": 0, "next_cursor": null}`))
	f.Add([]byte(`{"messages": [{"id": 1, "date": "2023-01-31T16:22:17Z", "sender_type": "Bot"}]}`))
	f.Add([]byte(`{"messages": [{"id": 1, "date": null}]}`))
	f.Add([]byte(`{"messages": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := partoo.DecodeMessagePage(b)
		if err != nil {
			return
		}
		for _, m := range p.Messages {
			if m.ID == 0 || m.Date.IsZero() {
				t.Fatalf("decoded a message without id or date: %+v", m)
			}
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q, err := partoo.DecodeMessagePage(again)
		if err != nil {
			t.Fatalf("round trip of %s: %v", again, err)
		}
		if len(q.Messages) != len(p.Messages) {
			t.Fatalf("round trip changed the message count")
		}
		for i := range p.Messages {
			if !q.Messages[i].Date.Equal(p.Messages[i].Date.Time) {
				t.Fatalf("round trip changed date %v → %v", p.Messages[i].Date, q.Messages[i].Date)
			}
		}
	})
}

// FuzzDecodeConversationPage: same guarantees for GET /conversations bodies.
func FuzzDecodeConversationPage(f *testing.F) {
	f.Add([]byte(`{"conversations": [{"id": 5, "last_message": {"id": 1, "date": "2023-01-31 16:22:17.327878+00:00"}, "business": {"id": 1}, "messaging_partner": "Whatsapp", "created_at": "2023-01-31 16:22:17.327878+00:00"}], "count": 1, "next_cursor": null}`))
	f.Add([]byte(`{"conversations": [{"id": 5, "last_message": null, "custom_channel": null}]}`))
	f.Add([]byte(`{"conversations": "no"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := partoo.DecodeConversationPage(b)
		if err != nil {
			return
		}
		for _, c := range p.Conversations {
			if c.ID == 0 {
				t.Fatalf("decoded a conversation without id: %+v", c)
			}
			if c.LastMessage != nil && (c.LastMessage.ID == 0 || c.LastMessage.Date.IsZero()) {
				t.Fatalf("last_message without id or date: %+v", c.LastMessage)
			}
		}
	})
}
