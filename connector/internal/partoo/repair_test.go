package partoo

import (
	"strings"
	"testing"
)

// TestInvalidUTF8ContentIsRepairedAndNamed: content bytes that are not UTF-8 (or an escaped
// lone surrogate) decode to U+FFFD — as Avro needs — and the message is named in the page's
// Repaired list (issue 28: they were replaced silently); a U+FFFD Partoo itself sent is no
// repair.
func TestInvalidUTF8ContentIsRepairedAndNamed(t *testing.T) {
	body := `{"count":4,"next_cursor":null,"messages":[
		{"id":1,"conversation_id":7,"date":"2026-01-01T00:00:00Z","content":"caf` + "\xe9" + ` au lait"},
		{"id":2,"conversation_id":7,"date":"2026-01-01T00:00:01Z","content":"lone \ud800 surrogate"},
		{"id":3,"conversation_id":7,"date":"2026-01-01T00:00:02Z","content":"sent as is: \ufffd and ` + "\uFFFD" + `"},
		{"id":4,"conversation_id":7,"date":"2026-01-01T00:00:03Z","content":"plain \"quoted\" text"}]}`
	p, err := DecodeMessagePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 4 || len(p.Skipped) != 0 {
		t.Fatalf("want 4 messages kept, got %d (skipped %v)", len(p.Messages), p.Skipped)
	}
	if !strings.Contains(p.Messages[0].Content, "\uFFFD") || !strings.Contains(p.Messages[1].Content, "\uFFFD") {
		t.Fatalf("contents not made valid: %q, %q", p.Messages[0].Content, p.Messages[1].Content)
	}
	var ids []int64
	for _, r := range p.Repaired {
		if r.ConversationID != 7 || r.Field != "content" || r.Reason != RepairInvalidUTF8 || r.Endpoint != EndpointMessages {
			t.Errorf("repaired item %+v", r)
		}
		ids = append(ids, r.ID)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 2 {
		t.Fatalf("repaired messages %v, want 1 and 2 (3 sent U+FFFD itself, 4 is plain)", ids)
	}
}
