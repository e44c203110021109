package schemahistory_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"slices"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/oldwriters"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// today are today's schemas, by type.
var today = map[string]string{
	"MessageCreated": schemas.MessageCreated, "StatusChanged": schemas.StatusChanged,
	"MessageDeleted": schemas.MessageDeleted, "MessageRow": schemas.MessageRow,
	"ConversationRow": schemas.ConversationRow, "ConversationState": schemas.ConversationState,
}

// TestHistoryIsComplete keeps schemas/history and its list of fingerprints complete: every
// listed fingerprint resolves to a history file whose records today's schema of the type can
// read; every history file has its fingerprints listed; today's schemas are in the history
// with their fingerprints (so that a change of a schema keeps the one it replaces); every
// record the old builds wrote carries a listed fingerprint, listed as observed in that build,
// and every listed observation is in that build's records.
func TestHistoryIsComplete(t *testing.T) {
	entries, err := schemahistory.Load()
	if err != nil {
		t.Fatal(err)
	}
	listedFiles := map[string]bool{}
	for _, e := range entries {
		listedFiles[e.Listed.Schema] = true
		now, ok := today[e.Type]
		if !ok {
			t.Errorf("%s: %s is no type of schemas/", e.Fingerprint, e.Type)
			continue
		}
		if !fingerprintOf(e) {
			t.Errorf("%s is listed for %s, whose fingerprint (spec or goavro's) it is not", e.Fingerprint, e.Listed.Schema)
		}
		if len(e.ObservedIn) == 0 || e.WrittenBy == "" {
			t.Errorf("%s: say which commits wrote it and in which captured records it was observed", e.Fingerprint)
		}
		for _, problem := range readableAs(t, e.Listed.Schema, now) {
			t.Errorf("%s (%s): today's %s cannot read it: %s", e.Fingerprint, e.Listed.Schema, e.Type, problem)
		}
	}
	files, err := fs.Glob(schemas.History, "history/*.avsc")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !listedFiles[path.Base(f)] {
			t.Errorf("%s: its fingerprints are not in %s", f, schemahistory.ListFile)
		}
	}
	for typ, text := range today {
		so, err := avroframe.NewSingleObject(text)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(entries, func(e schemahistory.Entry) bool { return e.FP == so.Fingerprint })
		if i < 0 || entries[i].Type != typ {
			t.Errorf("today's %s (%s) is not in schemas/history with its fingerprint listed: add it as the next revision", typ, so.FPHex)
		}
	}
	observedMatchesRecords(t, entries)
}

// fingerprintOf: the listed fingerprint is its file's, by the spec or by goavro.
func fingerprintOf(e schemahistory.Entry) bool {
	text, err := fs.ReadFile(schemas.History, "history/"+e.Listed.Schema)
	if err != nil {
		return false
	}
	c, err := goavro.NewCodec(string(text))
	return err == nil && (e.Schema.FPHex == e.Fingerprint || schemahistory.Hex(c.Rabin) == e.Fingerprint)
}

// observedMatchesRecords: the old builds' records carry listed fingerprints only (framing and
// header), each listed as observed in that build; each observation listed is in its records.
func observedMatchesRecords(t *testing.T, entries []schemahistory.Entry) {
	byFP := map[string]schemahistory.Entry{}
	for _, e := range entries {
		byFP[e.Fingerprint] = e
	}
	seen := map[string]bool{} // writer + " " + fingerprint
	for _, w := range oldwriters.Writers() {
		recs, err := oldwriters.Records(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Value == nil {
				continue // a tombstone
			}
			var fps []string // the framing's, and the header's if another
			fp, body, err := avroframe.SplitSingleObject(r.Value)
			if err == nil {
				fps = append(fps, schemahistory.Hex(fp))
			} else if _, body, err = avroframe.SplitConfluent(r.Value); err != nil {
				t.Errorf("%s %s@%d: neither framing: %v", w, r.Topic, r.Offset, err)
				continue
			}
			if h := r.Header("schema_fingerprint"); h != "" && !slices.Contains(fps, h) {
				fps = append(fps, h)
			}
			if len(fps) == 0 {
				t.Errorf("%s %s@%d: no fingerprint, in the value nor in a header", w, r.Topic, r.Offset)
			}
			for _, h := range fps {
				e, ok := byFP[h]
				if !ok || !slices.Contains(e.ObservedIn, w) {
					t.Errorf("%s wrote fingerprint %s (%s@%d), which %s does not list as observed there", w, h, r.Topic, r.Offset, schemahistory.ListFile)
					continue
				}
				seen[w+" "+h] = true
				if _, err := e.Schema.DecodeBody(body); err != nil {
					t.Errorf("%s %s@%d does not decode with %s: %v", w, r.Topic, r.Offset, e.Listed.Schema, err)
				}
			}
		}
	}
	for _, e := range entries {
		for _, w := range e.ObservedIn {
			if !seen[w+" "+e.Fingerprint] {
				t.Errorf("%s is listed as observed in %s, whose records (oldwriters/testdata/%s.jsonl) do not carry it", e.Fingerprint, w, w)
			}
		}
	}
}

// readableAs lists why a reader with schema now could not read what the history file wrote
// (Avro's schema resolution, record fields only, nested records included): a field now
// has that the writer lacks needs a default; a field both have needs the same type, an enum
// the writer's symbols.
func readableAs(t *testing.T, file, now string) []string {
	text, err := fs.ReadFile(schemas.History, "history/"+file)
	if err != nil {
		t.Fatal(err)
	}
	var w, r any
	if err := json.Unmarshal(text, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(now), &r); err != nil {
		t.Fatal(err)
	}
	return resolve("", w, r, map[string]any{}, map[string]any{})
}

func resolve(at string, w, r any, wNamed, rNamed map[string]any) []string {
	w, r = deref(w, wNamed), deref(r, rNamed)
	wm, wok := w.(map[string]any)
	rm, rok := r.(map[string]any)
	if !wok || !rok {
		if wu, ok := w.([]any); ok {
			ru, _ := r.([]any)
			if len(ru) < len(wu) {
				return []string{at + ": the reader's union has fewer branches"}
			}
			var out []string
			for i := range wu {
				out = append(out, resolve(at, wu[i], ru[i], wNamed, rNamed)...)
			}
			return out
		}
		if typeName(w) != typeName(r) {
			return []string{at + ": " + typeName(w) + " written, " + typeName(r) + " read"}
		}
		return nil
	}
	if wm["type"] != rm["type"] {
		if typeName(wm) == typeName(rm) {
			return resolve(at, wm["type"], rm["type"], wNamed, rNamed)
		}
		return []string{at + ": " + typeName(wm) + " written, " + typeName(rm) + " read"}
	}
	switch wm["type"] {
	case "record":
		return resolveRecord(at, wm, rm, wNamed, rNamed)
	case "enum":
		for _, s := range wm["symbols"].([]any) {
			if !slices.Contains(rm["symbols"].([]any), s) && rm["default"] == nil {
				return []string{at + ": enum symbol " + s.(string) + " unknown to the reader, which has no default"}
			}
		}
	case "array":
		return resolve(at+"[]", wm["items"], rm["items"], wNamed, rNamed)
	case "map":
		return resolve(at+"{}", wm["values"], rm["values"], wNamed, rNamed)
	}
	return nil
}

func resolveRecord(at string, wm, rm map[string]any, wNamed, rNamed map[string]any) []string {
	wNamed[wm["name"].(string)], rNamed[rm["name"].(string)] = wm, rm
	wf := map[string]any{}
	for _, f := range wm["fields"].([]any) {
		wf[f.(map[string]any)["name"].(string)] = f.(map[string]any)["type"]
	}
	var out []string
	for _, f := range rm["fields"].([]any) {
		fm := f.(map[string]any)
		name := fm["name"].(string)
		if wt, ok := wf[name]; ok {
			out = append(out, resolve(at+"."+name, wt, fm["type"], wNamed, rNamed)...)
		} else if _, ok := fm["default"]; !ok {
			out = append(out, at+"."+name+": added without a default")
		}
	}
	return out
}

// deref replaces a reference to a named type by its definition.
func deref(v any, named map[string]any) any {
	if s, ok := v.(string); ok && named[s] != nil {
		return named[s]
	}
	return v
}

// typeName is a schema's type, with its logical type: "long", "long/timestamp-micros".
func typeName(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		n, _ := x["type"].(string)
		if lt, ok := x["logicalType"].(string); ok {
			n += "/" + lt
		}
		return n
	case []any:
		return "union"
	}
	return "?"
}
