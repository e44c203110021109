package avroframe_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// The vectors come from fastavro (testdata/fingerprints.py), an implementation independent of
// goavro and of ours: a Java or Python consumer computing the spec's fingerprint finds our
// schemas.
func TestFingerprintsMatchFastavro(t *testing.T) {
	raw, err := os.ReadFile("testdata/fastavro_fingerprints.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors map[string]json.RawMessage
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	type vector struct {
		CRC       string `json:"crc64_avro"`
		Canonical string `json:"canonical_form"`
		Schema    string `json:"schema"`
	}
	sources := map[string]string{
		"MessageCreated": schemas.MessageCreated, "StatusChanged": schemas.StatusChanged,
		"MessageDeleted": schemas.MessageDeleted, "ConversationState": schemas.ConversationState,
		"MessageRow": schemas.MessageRow, "ConversationRow": schemas.ConversationRow,
	}
	for _, rev := range []string{"MessageCreated.0", "MessageDeleted.0", "MessageCreated.1", "StatusChanged.1", "MessageDeleted.1", "ConversationRow.1"} {
		old, err := fs.ReadFile(schemas.History, "history/"+rev+".avsc")
		if err != nil {
			t.Fatal(err)
		}
		sources["history/"+rev] = string(old)
	}
	doc, err := os.ReadFile("../../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, rv := range vectors {
		if name[0] == '_' {
			continue
		}
		var v vector
		if err := json.Unmarshal(rv, &v); err != nil {
			t.Fatal(err)
		}
		src := sources[name]
		if src == "" {
			src = v.Schema
		}
		got, err := avroframe.CanonicalForm(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != v.Canonical {
			t.Errorf("%s canonical form\n got %s\nwant %s", name, got, v.Canonical)
		}
		// fastavro prints the fingerprint's 8 bytes little-endian, as they appear on the wire.
		le := avroframe.FingerprintBytes(avroframe.Fingerprint(got))
		if fp := fmt.Sprintf("%x", le[:]); fp != v.CRC {
			t.Errorf("%s fingerprint %s, fastavro %s", name, fp, v.CRC)
		}
		// docs/events.md lists the events' fingerprints, today's and the earlier revisions'.
		isEvent := strings.Contains(name, "Created") || strings.Contains(name, "StatusChanged") || strings.Contains(name, "Deleted")
		if isEvent && !strings.Contains(string(doc), "`"+v.CRC+"`") {
			t.Errorf("docs/events.md does not list %s's fingerprint %s", name, v.CRC)
		}
		n++
	}
	if n != 14 {
		t.Fatalf("checked %d vectors, want 14", n)
	}
}
