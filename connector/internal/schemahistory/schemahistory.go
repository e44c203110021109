// Package schemahistory resolves the schema fingerprints every release of the connector wrote
// to the schemas they were written with (schemas/history), so that today's readers — the
// events codec, the public decoder, the state and table codecs — decode a topic written by
// any release. The list of fingerprints, history/fingerprints.json, is what old builds were
// observed to write (connector/internal/oldwriters), not recomputed from the files: an old
// writer could have framed its records with a fingerprint other than the spec's.
package schemahistory

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// ListFile is the list of fingerprints, in schemas.History.
const ListFile = "history/fingerprints.json"

// Listed is one entry of the list, as written in the file.
type Listed struct {
	Fingerprint string   `json:"fingerprint"` // the 8 wire bytes in hex (the schema_fingerprint header)
	Schema      string   `json:"schema"`      // a file of schemas/history, e.g. MessageCreated.0.avsc
	WrittenBy   string   `json:"written_by"`  // the commits that wrote it
	ObservedIn  []string `json:"observed_in"` // the captured builds whose records carry it
}

// Entry is a listed fingerprint with its schema compiled.
type Entry struct {
	Listed
	FP     uint64                  // Fingerprint as SplitSingleObject returns it
	Type   string                  // the schema's type, the file name's first part: MessageCreated
	Schema *avroframe.SingleObject // the history file, compiled: DecodeBody reads the records
}

// List reads the list of fingerprints as written.
func List() ([]Listed, error) {
	b, err := fs.ReadFile(schemas.History, ListFile)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Fingerprints []Listed `json:"fingerprints"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("schemas/%s: %w", ListFile, err)
	}
	return doc.Fingerprints, nil
}

// Load compiles every listed fingerprint's schema. A fingerprint listed twice, malformed, or
// naming a file that is missing or does not compile is an error.
func Load() ([]Entry, error) {
	list, err := List()
	if err != nil {
		return nil, err
	}
	compiled := map[string]*avroframe.SingleObject{}
	seen := map[uint64]bool{}
	out := make([]Entry, 0, len(list))
	for _, l := range list {
		fp, ok := ParseFingerprint(l.Fingerprint)
		if !ok || seen[fp] {
			return nil, fmt.Errorf("schemas/%s: fingerprint %q is malformed or listed twice", ListFile, l.Fingerprint)
		}
		seen[fp] = true
		so := compiled[l.Schema]
		if so == nil {
			text, err := fs.ReadFile(schemas.History, "history/"+l.Schema)
			if err != nil {
				return nil, fmt.Errorf("schemas/%s: fingerprint %s: %w", ListFile, l.Fingerprint, err)
			}
			if so, err = avroframe.NewSingleObject(string(text)); err != nil {
				return nil, fmt.Errorf("schemas/history/%s: %w", l.Schema, err)
			}
			compiled[l.Schema] = so
		}
		typ, _, _ := strings.Cut(path.Base(l.Schema), ".")
		if !strings.HasSuffix(so.Name, "."+typ) {
			return nil, fmt.Errorf("schemas/history/%s holds %s, not a %s", l.Schema, so.Name, typ)
		}
		out = append(out, Entry{Listed: l, FP: fp, Type: typ, Schema: so})
	}
	return out, nil
}

// Of returns the entries of one type (e.g. "MessageCreated"), keyed by fingerprint.
func Of(entries []Entry, typ string) map[uint64]*avroframe.SingleObject {
	out := map[uint64]*avroframe.SingleObject{}
	for _, e := range entries {
		if e.Type == typ {
			out[e.FP] = e.Schema
		}
	}
	return out
}

// ParseFingerprint reads a fingerprint in hex as on the wire (a schema_fingerprint header).
func ParseFingerprint(h string) (uint64, bool) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// Hex writes a fingerprint as on the wire, as the schema_fingerprint header and the list do.
func Hex(fp uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], fp)
	return hex.EncodeToString(b[:])
}

// UnknownError is a reader's error for a record whose schema fingerprint is in no schema it
// knows (today's nor the history's): readers that go through a topic skip and count it.
type UnknownError struct {
	Fingerprint string // as on the wire, in hex
	Reader      string // e.g. "events"
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%s: unknown schema fingerprint %s (not in schemas/ nor schemas/history)", e.Reader, e.Fingerprint)
}
