package events_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
)

// An event over the topic's limit is published with its content cut to fit, at a UTF-8
// boundary, and flagged with the content's original size; one that fits is left whole.
func TestEncodeFitCutsTheContentAndFlagsIt(t *testing.T) {
	for _, c := range bothFramings(t) {
		m := sampleMessage()
		m.Content = strings.Repeat("aé€😀", 1_500_000/10) // 1.5 MB of 1- to 4-byte runes
		const limit = 1 << 20
		for _, typ := range []diff.EventType{diff.MessageCreated, diff.MessageDeleted} {
			e := diff.Event{Type: typ, ID: "id", ConversationID: 42, MessageID: 7, DetectedAt: time.Now(), Message: m, Reason: diff.Vanished}
			enc, from, err := c.EncodeFit(e, limit)
			if err != nil {
				t.Fatal(err)
			}
			if from != len(m.Content) || events.RecordSize(enc) > limit || events.RecordSize(enc) < limit-4096 {
				t.Fatalf("%s: truncated from %d (want %d), record %d bytes (limit %d)", typ, from, len(m.Content), events.RecordSize(enc), limit)
			}
			_, n, err := c.DecodeWithFingerprint(enc.Value, headerValue(enc, events.HeaderFingerprint))
			if err != nil {
				t.Fatal(err)
			}
			plain := events.Plain(n).(map[string]any)["message"].(map[string]any)
			got := plain["content"].(string)
			if !utf8.ValidString(got) || !strings.HasPrefix(m.Content, got) || plain["content_truncated_from"] != int64(len(m.Content)) {
				t.Fatalf("%s: content %d bytes (valid %v, prefix %v), flag %v", typ, len(got), utf8.ValidString(got), strings.HasPrefix(m.Content, got), plain["content_truncated_from"])
			}
		}
		// Whole when it fits: no flag.
		small := sampleMessage()
		enc, from, err := c.EncodeFit(diff.Event{Type: diff.MessageCreated, ID: "id", ConversationID: 42, MessageID: 7, Message: small}, 1<<20)
		if err != nil || from != 0 {
			t.Fatalf("small event: from %d, err %v", from, err)
		}
		_, n, _ := c.DecodeWithFingerprint(enc.Value, headerValue(enc, events.HeaderFingerprint))
		if msg := events.Plain(n).(map[string]any)["message"].(map[string]any); msg["content_truncated_from"] != nil || msg["content"] != small.Content {
			t.Fatalf("small event decoded as %v", msg)
		}
		// What cannot fit even without content is refused, not published broken.
		if _, _, err := c.EncodeFit(diff.Event{Type: diff.MessageCreated, ID: "id", ConversationID: 42, MessageID: 7, Message: m}, 300); !errors.Is(err, events.ErrTooLarge) {
			t.Fatalf("limit 300: %v, want ErrTooLarge", err)
		}
	}
}

// Every string published is valid UTF-8, whatever Partoo sent: strict Avro readers refuse
// anything else.
func TestStringsArePublishedAsValidUTF8(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMessage()
	m.Content, m.SenderLabel, m.CustomChannel = "ok \xff\xfe bad", "\xc3", []byte("{\"a\":\"\xed\xa0\x80\"}")
	enc, err := c.Encode(diff.Event{Type: diff.MessageCreated, ID: "id", ConversationID: 42, MessageID: 7, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := c.Decode(enc.Value)
	if err != nil {
		t.Fatal(err)
	}
	msg := events.Plain(n).(map[string]any)["message"].(map[string]any)
	for _, k := range []string{"content", "sender_label", "custom_channel"} {
		if s, _ := msg[k].(string); !utf8.ValidString(s) || !strings.Contains(s, "\uFFFD") {
			t.Errorf("%s = %q, want valid UTF-8 with replacement characters", k, s)
		}
	}
}
