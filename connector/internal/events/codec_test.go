package events_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/schemas"
)

func sampleMessage() model.Message {
	uid := "user-1"
	return model.Message{ID: 7, ConversationID: 42, Date: model.Time{Time: time.Date(2023, 1, 31, 16, 22, 17, 327878000, time.UTC)},
		ContentType: "Carousel", SenderType: model.SenderUser, SenderLabel: "Agent", Status: model.StatusSending,
		Content: "hi", UserID: &uid, CustomChannel: json.RawMessage(`{"a":1}`)}
}

func TestRoundTripEveryEventType(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	det := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	m := sampleMessage()
	evs := []diff.Event{
		{Type: diff.MessageCreated, ID: "id-1", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Snapshot: true},
		{Type: diff.StatusChanged, ID: "id-2", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, PreviousStatus: "Sending", Status: "Delivered"},
		{Type: diff.MessageDeleted, ID: "id-3", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Reason: diff.Vanished},
	}
	for _, e := range evs {
		enc, err := c.Encode(e)
		if err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
		if string(enc.Key) != "42" || enc.Value[0] != 0xC3 || enc.Value[1] != 0x01 {
			t.Fatalf("%s: key %q value prefix % x", e.Type, enc.Key, enc.Value[:2])
		}
		h := map[string]string{}
		for _, x := range enc.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["event_type"] != e.Type.String() || h["ce_id"] != e.ID || h["ce_specversion"] != "1.0" ||
			h["ce_source"] != "/partoo/conversations/42" || h["ce_time"] != "2026-11-24T10:00:00.123456Z" || h["ce_subject"] != "7" ||
			h["ce_type"] != "partoo.messages.v1."+e.Type.String() || h["schema_fingerprint"] != c.Schema(e.Type).FPHex {
			t.Fatalf("%s headers %v", e.Type, h)
		}
		name, native, err := c.Decode(enc.Value)
		if err != nil {
			t.Fatal(err)
		}
		if name != "partoo.messages.v1."+e.Type.String() {
			t.Fatalf("decoded as %s", name)
		}
		plain := events.Plain(native).(map[string]any)
		if plain["event_id"] != e.ID || plain["detected_at"] != "2026-11-24T10:00:00.123456Z" || plain["conversation_id"] != int64(42) {
			t.Fatalf("%s: %v", e.Type, plain)
		}
		switch e.Type {
		case diff.MessageCreated, diff.MessageDeleted:
			msg := plain["message"].(map[string]any)
			if msg["date"] != "2023-01-31T16:22:17.327878Z" || msg["content_type"] != "Unknown" || msg["content_type_raw"] != "Carousel" ||
				msg["user_id"] != "user-1" || msg["custom_channel"] != `{"a":1}` || msg["sender_type"] != "User" {
				t.Fatalf("%s message %v", e.Type, msg)
			}
			if e.Type == diff.MessageDeleted && plain["reason"] != "Vanished" {
				t.Fatalf("reason %v", plain["reason"])
			}
			if e.Type == diff.MessageCreated && plain["snapshot"] != true {
				t.Fatalf("snapshot %v", plain["snapshot"])
			}
		case diff.StatusChanged:
			if plain["previous_status"] != "Sending" || plain["status"] != "Unknown" || plain["status_raw"] != "Delivered" {
				t.Fatalf("status changed %v", plain)
			}
		}
	}
	if _, _, err := c.Decode([]byte("not avro")); err == nil {
		t.Fatal("decoding garbage must fail")
	}
}

// Each event type is one entry of the codec's table: its schema is named after it in the
// events namespace, and a type without an entry is refused, not encoded with a default.
func TestEveryEventTypeHasItsSchema(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Schemas() {
		if s.FullName != schemas.Namespace+"."+s.Type.String() || c.Schema(s.Type) == nil || c.Schema(s.Type).Name != s.FullName {
			t.Errorf("event type %s has schema %s", s.Type, s.FullName)
		}
	}
	if _, err := c.Encode(diff.Event{Type: diff.EventType(99), ID: "x", ConversationID: 1}); err == nil {
		t.Fatal("an event type with no entry must be refused")
	}
}

// A delete reason the connector does not write decodes as an error, never as another reason.
func TestDecodeEventRefusesAReasonItDoesNotWrite(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encode(diff.Event{Type: diff.MessageDeleted, ID: "x", ConversationID: 42, MessageID: 7, Message: sampleMessage()}) // no reason: "Unknown"
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DecodeEvent(enc.Value, ""); err == nil || !strings.Contains(err.Error(), `"Unknown"`) {
		t.Fatalf("err = %v, want the unknown reason named", err)
	}
}
