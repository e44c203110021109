package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	internal "github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// written is one event as the connector's codec wrote it.
type written struct {
	event diff.Event
	enc   internal.Encoded
}

// writeAll encodes an event of every type the connector's codec knows, with codec.
func writeAll(t *testing.T, codec *internal.Codec) []written {
	t.Helper()
	uid := "user-1"
	msg := model.Message{ID: 7, ConversationID: 42, Date: model.Time{Time: time.Date(2023, 1, 31, 16, 22, 17, 327878000, time.UTC)},
		ContentType: "Carousel", SenderType: model.SenderUser, SenderLabel: "Agent", Status: model.StatusSending,
		Content: "hi", UserID: &uid, CustomChannel: json.RawMessage(`{"a":1}`)}
	det := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	var out []written
	for _, s := range codec.Schemas() {
		e := diff.Event{Type: s.Type, ID: "id-" + s.Type.String(), ConversationID: 42, MessageID: 7, DetectedAt: det,
			Date: msg.Date.Time, Message: msg, Snapshot: true, PreviousStatus: "Sending", Status: "Delivered", Reason: diff.Vanished}
		if s.Type == diff.MessageDeleted { // nulls too
			e.Message.UserID, e.Message.CustomChannel, e.Snapshot = nil, nil, false
		}
		enc, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, written{e, enc})
	}
	return out
}

func header(enc internal.Encoded, key string) string {
	for _, h := range enc.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkEvent compares a decoded event with the one the connector encoded.
func checkEvent(t *testing.T, got events.Event, w written) {
	t.Helper()
	e := w.event
	if string(got.Type) != e.Type.String() || string(got.Type) != header(w.enc, events.HeaderEventType) || got.ID != e.ID ||
		got.ConversationID != e.ConversationID || got.MessageID != e.MessageID || !got.DetectedAt.Equal(e.DetectedAt) ||
		got.DetectedAt.Location() != time.UTC || !got.Date.Equal(e.Date) {
		t.Fatalf("%s: decoded %+v", e.Type, got)
	}
	switch got.Type {
	case events.StatusChanged:
		if got.Message != nil || got.PreviousStatus != string(e.PreviousStatus) || got.Status != string(e.Status) || got.Reason != "" || got.Snapshot {
			t.Fatalf("status change decoded %+v", got)
		}
		return
	case events.MessageCreated:
		if got.Snapshot != e.Snapshot || got.Reason != "" {
			t.Fatalf("created decoded %+v", got)
		}
	case events.MessageDeleted:
		if got.Reason != e.Reason.String() || got.Snapshot {
			t.Fatalf("deleted decoded %+v", got)
		}
	default:
		t.Fatalf("type %q", got.Type)
	}
	m, w0 := got.Message, e.Message
	if m == nil || m.ID != w0.ID || m.ConversationID != w0.ConversationID || !m.Date.Equal(w0.Date.Time) ||
		m.ContentType != string(w0.ContentType) || m.SenderType != string(w0.SenderType) || m.SenderLabel != w0.SenderLabel ||
		m.Status != string(w0.Status) || m.IsDeleted != w0.IsDeleted || m.Content != w0.Content ||
		string(m.CustomChannel) != string(w0.CustomChannel) || (m.UserID == nil) != (w0.UserID == nil) ||
		(m.UserID != nil && *m.UserID != *w0.UserID) || m.ContentTruncatedFrom != 0 {
		t.Fatalf("%s message %+v, want %+v", e.Type, m, w0)
	}
}

// Records the connector wrote in single-object encoding decode on their own, every type, with
// the header names this package exports.
func TestDecodesWhatTheConnectorWrites(t *testing.T) {
	codec, err := internal.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	d, err := events.NewDecoder(events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	all := writeAll(t, codec)
	if len(all) != 3 {
		t.Fatalf("%d event types, want the 3 this package documents", len(all))
	}
	for _, w := range all {
		got, err := d.Decode(w.enc.Value, "")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, got, w)
		if header(w.enc, events.HeaderContentType) != events.ContentType || header(w.enc, events.HeaderCEID) != w.event.ID ||
			header(w.enc, events.HeaderSchemaName) != schemas.Namespace+"."+string(got.Type) || header(w.enc, events.HeaderFingerprint) == "" {
			t.Fatalf("%s headers %+v", got.Type, w.enc.Headers)
		}
	}
	if _, err := d.Decode([]byte("not avro"), ""); err == nil {
		t.Fatal("garbage must not decode")
	}
}

// In the Confluent wire format a value decodes with the registry's ids given up front, with
// the schema the registry returns for its id, or with the record's schema_fingerprint header;
// without any of them the error names the id to resolve.
func TestDecodesTheConfluentWireFormat(t *testing.T) {
	codec, err := internal.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[diff.EventType]uint32{diff.MessageCreated: 101, diff.StatusChanged: 102, diff.MessageDeleted: 103}
	if err := codec.UseSchemaIDs(ids); err != nil {
		t.Fatal(err)
	}
	all := writeAll(t, codec)

	known := map[uint32]events.Type{}
	for typ, id := range ids {
		known[id] = events.Type(typ.String())
	}
	withIDs, err := events.NewDecoder(events.Config{SchemaIDs: known})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := events.NewDecoder(events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range all {
		if w.enc.Value[0] != 0 || header(w.enc, events.HeaderSchemaID) == "" {
			t.Fatalf("%s: not in the Confluent wire format", w.event.Type)
		}
		got, err := withIDs.Decode(w.enc.Value, "")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, got, w)
		if got, err = bare.Decode(w.enc.Value, header(w.enc, events.HeaderFingerprint)); err != nil {
			t.Fatal(err)
		}
		checkEvent(t, got, w)
		var unknown *events.UnknownSchemaIDError
		if _, err := bare.Decode(w.enc.Value, ""); !errors.As(err, &unknown) || unknown.ID != ids[w.event.Type] {
			t.Fatalf("%s without ids: %v", w.event.Type, err)
		}
	}
	// The caller resolves the id with the registry and registers what it answered.
	for _, s := range codec.Schemas() {
		if err := bare.Register(ids[s.Type], s.Text); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range all {
		got, err := bare.Decode(w.enc.Value, "")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, got, w)
	}
	if err := bare.Register(104, schemas.ConversationState); err == nil || !strings.Contains(err.Error(), "not one of the event schemas") {
		t.Fatalf("registering the state schema: %v", err)
	}
	if err := bare.Register(101, codec.Schemas()[1].Text); err == nil {
		t.Fatal("an id registered for one type must not be taken by another")
	}
	if _, err := events.NewDecoder(events.Config{SchemaIDs: map[uint32]events.Type{1: "MessageEdited"}}); err == nil {
		t.Fatal("an id for an unknown type must be refused")
	}
}

// A content the connector cut to fit the topic says its original size.
func TestContentTruncatedFrom(t *testing.T) {
	codec, err := internal.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	m := model.Message{ID: 7, ConversationID: 42, Date: model.Time{Time: time.Date(2023, 1, 31, 0, 0, 0, 0, time.UTC)},
		SenderType: model.SenderUser, Content: strings.Repeat("é", 4000)}
	enc, from, err := codec.EncodeFit(diff.Event{Type: diff.MessageCreated, ID: "x", ConversationID: 42, MessageID: 7, Message: m}, 2048)
	if err != nil || from != len(m.Content) {
		t.Fatalf("EncodeFit: from %d, %v", from, err)
	}
	d, err := events.NewDecoder(events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(enc.Value, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Message.ContentTruncatedFrom != int64(len(m.Content)) || !strings.HasPrefix(m.Content, got.Message.Content) || len(got.Message.Content) >= len(m.Content) {
		t.Fatalf("truncated from %d, content %d bytes", got.Message.ContentTruncatedFrom, len(got.Message.Content))
	}
}
