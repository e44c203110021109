package events_test

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-single-object.txt from the current encoder")

// goldenEvents are fixed events whose encoding must never change without a schema change.
func goldenEvents() []diff.Event {
	evs := goldenEvents1()
	for i := range evs {
		evs[i].Context = model.Context{OrganizationID: 9001, BusinessID: "5409c35a97bbc544d8e26737", Partner: "Instagram", Known: true}
	}
	evs[1].Context = model.Context{BusinessID: "12", Partner: "Telegram", Known: true} // no organisation, a channel Partoo may add
	return evs
}

// goldenEvents1 are the events of testdata/golden-single-object-1.txt, written by the first
// revision of the schemas (schemas/history/*.1.avsc), which had no conversation context.
func goldenEvents1() []diff.Event {
	det := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	m := sampleMessage()
	return []diff.Event{
		{Type: diff.MessageCreated, ID: "id-1", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Snapshot: true},
		{Type: diff.StatusChanged, ID: "id-2", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, PreviousStatus: "Sending", Status: "Delivered"},
		{Type: diff.MessageDeleted, ID: "id-3", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Reason: diff.Vanished},
	}
}

// Records written by the first revision of the schemas (the golden file of that encoder)
// still decode, in both framings' readers, to the events they were written from, with an
// unknown context.
func TestRecordsOfTheFirstRevisionDecode(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "golden-single-object-1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var values [][]byte
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "value "); ok {
			b, err := hex.DecodeString(v)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, b)
		}
	}
	want := goldenEvents1()
	if len(values) != len(want) {
		t.Fatalf("%d records in the golden file, want %d", len(values), len(want))
	}
	for _, c := range bothFramings(t) {
		for i, v := range values {
			got, err := c.DecodeEvent(v, "")
			if err != nil {
				t.Fatalf("record %d of revision 1: %v", i, err)
			}
			w := want[i]
			if got.Type != w.Type || got.ID != w.ID || !got.DetectedAt.Equal(w.DetectedAt) || got.Reason != w.Reason ||
				got.Status != w.Status || got.Context.Known || got.Context.BusinessID != "" {
				t.Fatalf("record %d of revision 1 decoded as %+v, want %+v", i, got, w)
			}
		}
	}
}

// renderRecord writes a record as text: key, value in hex, then the headers in order.
func renderRecord(enc events.Encoded) string {
	var b strings.Builder
	b.WriteString("key " + string(enc.Key) + "\n")
	b.WriteString("value " + hex.EncodeToString(enc.Value) + "\n")
	for _, h := range enc.Headers {
		b.WriteString("header " + h.Key + "=" + string(h.Value) + "\n")
	}
	return b.String()
}

// Without a schema registry the records (key, value bytes, headers) are exactly what the
// connector wrote before the registry existed: the golden file was written by that encoder.
func TestSingleObjectRecordsAreUnchanged(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, e := range goldenEvents() {
		enc, err := c.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(renderRecord(enc) + "\n")
	}
	path := filepath.Join("testdata", "golden-single-object.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("single-object records changed:\n--- got\n%s--- want\n%s", got.String(), want)
	}
}

// With registry ids the value is byte 0, the id (4 bytes, big-endian) and the same Avro body;
// the headers are today's plus schema_id.
func TestConfluentWireFormat(t *testing.T) {
	plain, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[diff.EventType]uint32{diff.MessageCreated: 7, diff.StatusChanged: 300, diff.MessageDeleted: 1 << 24}
	if err := c.UseSchemaIDs(ids); err != nil {
		t.Fatal(err)
	}
	for _, e := range goldenEvents() {
		so, err := plain.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := c.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		id := ids[e.Type]
		wantHead := []byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		if hex.EncodeToString(cf.Value[:5]) != hex.EncodeToString(wantHead) {
			t.Fatalf("%s: header % x, want % x", e.Type, cf.Value[:5], wantHead)
		}
		if hex.EncodeToString(cf.Value[5:]) != hex.EncodeToString(so.Value[10:]) {
			t.Fatalf("%s: the Avro body differs between the two framings", e.Type)
		}
		if len(cf.Headers) != len(so.Headers)+1 {
			t.Fatalf("%s: %d headers, want %d", e.Type, len(cf.Headers), len(so.Headers)+1)
		}
		for i, h := range so.Headers {
			if cf.Headers[i].Key != h.Key || string(cf.Headers[i].Value) != string(h.Value) {
				t.Fatalf("%s: header %d is %s=%s, want %s=%s", e.Type, i, cf.Headers[i].Key, cf.Headers[i].Value, h.Key, h.Value)
			}
		}
		last := cf.Headers[len(cf.Headers)-1]
		if last.Key != "schema_id" || string(last.Value) != strconv.FormatUint(uint64(id), 10) {
			t.Fatalf("%s: last header %s=%s", e.Type, last.Key, last.Value)
		}
		name, native, err := c.Decode(cf.Value)
		if err != nil || name != "partoo.messages.v1."+e.Type.String() || native["event_id"] != e.ID {
			t.Fatalf("%s: decode %s %v %v", e.Type, name, native["event_id"], err)
		}
		// A reader without the ids (tail) decodes with the fingerprint header...
		fp := headerValue(cf, events.HeaderFingerprint)
		if name, _, err := plain.DecodeWithFingerprint(cf.Value, fp); err != nil || name != "partoo.messages.v1."+e.Type.String() {
			t.Fatalf("%s: decode with fingerprint: %s %v", e.Type, name, err)
		}
		// ...and says why it cannot without it.
		if _, _, err := plain.Decode(cf.Value); err == nil || !strings.Contains(err.Error(), "schema id") {
			t.Fatalf("%s: decoding an unknown id: %v", e.Type, err)
		}
	}
	if err := c.UseSchemaIDs(map[diff.EventType]uint32{diff.MessageCreated: 1, diff.StatusChanged: 2}); err == nil {
		t.Fatal("ids missing an event type must be refused")
	}
	if err := c.UseSchemaIDs(map[diff.EventType]uint32{diff.MessageCreated: 1, diff.StatusChanged: 1, diff.MessageDeleted: 2}); err == nil {
		t.Fatal("one id for two schemas must be refused")
	}
	if len(c.Schemas()) != 3 || c.Schemas()[0].FullName != "partoo.messages.v1.MessageCreated" {
		t.Fatalf("schemas %+v", c.Schemas())
	}
}

// DecodeEvent gives back the event that was encoded, in both framings.
func TestDecodeEventRoundTrip(t *testing.T) {
	for _, c := range bothFramings(t) {
		for _, e := range goldenEvents() {
			enc, err := c.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.DecodeEvent(enc.Value, headerValue(enc, events.HeaderFingerprint))
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != e.Type || got.ID != e.ID || got.ConversationID != e.ConversationID || got.MessageID != e.MessageID ||
				!got.DetectedAt.Equal(e.DetectedAt) || got.Reason != e.Reason || got.Context != e.Context {
				t.Fatalf("%s: got %+v", e.Type, got)
			}
			switch e.Type {
			case diff.StatusChanged:
				if got.Status != e.Status || got.PreviousStatus != e.PreviousStatus || !got.Date.Equal(e.Date) {
					t.Fatalf("status change %+v", got)
				}
			default:
				m, w := got.Message, e.Message
				if m.ID != w.ID || m.Status != w.Status || m.ContentType != w.ContentType || m.SenderType != w.SenderType ||
					!m.Date.Equal(w.Date.Time) || *m.UserID != *w.UserID || string(m.CustomChannel) != string(w.CustomChannel) ||
					m.IsDeleted != w.IsDeleted || m.Content != w.Content || m.SenderLabel != w.SenderLabel {
					t.Fatalf("%s message %+v, want %+v", e.Type, m, w)
				}
			}
		}
	}
}

// bothFramings returns a codec writing single-object encoding and one writing the Confluent
// wire format (schema ids 1, 2, 3).
func bothFramings(t *testing.T) []*events.Codec {
	t.Helper()
	var out []*events.Codec
	for _, withIDs := range []bool{false, true} {
		c, err := events.NewCodec()
		if err != nil {
			t.Fatal(err)
		}
		if withIDs {
			if err := c.UseSchemaIDs(map[diff.EventType]uint32{diff.MessageCreated: 1, diff.StatusChanged: 2, diff.MessageDeleted: 3}); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, c)
	}
	return out
}

// headerValue is the value of the record header key ("" when absent): tests look headers up
// by name, not by position.
func headerValue(enc events.Encoded, key string) string {
	for _, h := range enc.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
