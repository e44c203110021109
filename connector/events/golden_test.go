package events_test

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/events"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-single-object.txt from the current encoder")

// goldenEvents are fixed events whose encoding must never change without a schema change.
func goldenEvents() []diff.Event {
	det := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	m := sampleMessage()
	return []diff.Event{
		{Type: diff.MessageCreated, ID: "id-1", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Snapshot: true},
		{Type: diff.StatusChanged, ID: "id-2", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, PreviousStatus: "Sending", Status: "Delivered"},
		{Type: diff.MessageDeleted, ID: "id-3", ConversationID: 42, MessageID: 7, DetectedAt: det, Date: m.Date.Time, Message: m, Reason: diff.Vanished},
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
