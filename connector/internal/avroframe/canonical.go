package avroframe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// CanonicalForm returns the Avro Parsing Canonical Form of a schema, as the Avro
// specification defines it: names fully qualified, every attribute but name, type, fields,
// symbols, items, values and size dropped (logicalType, doc, default, aliases included),
// primitives in their simple form, no whitespace. goavro's own canonical form keeps
// {"type":"long"} for logical types (linkedin/goavro#174), which gives fingerprints that Java
// and Python consumers would not find; this is the spec's.
func CanonicalForm(schema string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(schema))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("avro schema: %w", err)
	}
	var b bytes.Buffer
	if err := canon(&b, v, "", map[string]bool{}); err != nil {
		return "", err
	}
	return b.String(), nil
}

var primitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

func fullName(name, ns string) (full, newNS string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name, name[:i]
	}
	if ns == "" {
		return name, ""
	}
	return ns + "." + name, ns
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

func canon(b *bytes.Buffer, v any, ns string, defined map[string]bool) error {
	switch s := v.(type) {
	case string:
		if primitives[s] {
			writeString(b, s)
			return nil
		}
		full, _ := fullName(s, ns)
		writeString(b, full)
		return nil
	case []any:
		b.WriteByte('[')
		for i, branch := range s {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := canon(b, branch, ns, defined); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case map[string]any:
		return canonObject(b, s, ns, defined)
	}
	return fmt.Errorf("avro schema: unexpected %T", v)
}

// canonObject writes a schema given as a JSON object: a named type, an array, a map, or a
// primitive in its long form.
func canonObject(b *bytes.Buffer, o map[string]any, ns string, defined map[string]bool) error {
	t, ok := o["type"].(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: the inner schema is the schema.
		return canon(b, o["type"], ns, defined)
	}
	switch t {
	case "record", "error", "enum", "fixed":
		return canonNamed(b, o, t, ns, defined)
	case "array":
		b.WriteString(`{"type":"array","items":`)
		if err := canon(b, o["items"], ns, defined); err != nil {
			return err
		}
		b.WriteByte('}')
		return nil
	case "map":
		b.WriteString(`{"type":"map","values":`)
		if err := canon(b, o["values"], ns, defined); err != nil {
			return err
		}
		b.WriteByte('}')
		return nil
	default:
		// A primitive, possibly with a logicalType: its simple form.
		return canon(b, t, ns, defined)
	}
}

// canonNamed writes a named type t (record, error, enum or fixed): its full name, and its
// definition the first time the name is met.
func canonNamed(b *bytes.Buffer, o map[string]any, t, ns string, defined map[string]bool) error {
	name, _ := o["name"].(string)
	if name == "" {
		return fmt.Errorf("avro schema: %s without a name", t)
	}
	if nsAttr, ok := o["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = nsAttr
	}
	full, innerNS := fullName(name, ns)
	if defined[full] {
		writeString(b, full)
		return nil
	}
	defined[full] = true
	b.WriteString(`{"name":`)
	writeString(b, full)
	b.WriteString(`,"type":`)
	writeString(b, t)
	switch t {
	case "record", "error":
		if err := canonFields(b, o, full, innerNS, defined); err != nil {
			return err
		}
	case "enum":
		syms, _ := o["symbols"].([]any)
		b.WriteString(`,"symbols":[`)
		for i, s := range syms {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, fmt.Sprint(s))
		}
		b.WriteByte(']')
	case "fixed":
		b.WriteString(`,"size":`)
		b.WriteString(fmt.Sprint(o["size"]))
	}
	b.WriteByte('}')
	return nil
}

// canonFields writes the fields of record full, whose names resolve in namespace ns.
func canonFields(b *bytes.Buffer, o map[string]any, full, ns string, defined map[string]bool) error {
	fields, _ := o["fields"].([]any)
	b.WriteString(`,"fields":[`)
	for i, f := range fields {
		fm, ok := f.(map[string]any)
		if !ok {
			return fmt.Errorf("avro schema: field of %s is not an object", full)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		writeString(b, fmt.Sprint(fm["name"]))
		b.WriteString(`,"type":`)
		if err := canon(b, fm["type"], ns, defined); err != nil {
			return err
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return nil
}

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of a canonical form.
func Fingerprint(canonical string) uint64 {
	fp := crcEmpty
	for i := 0; i < len(canonical); i++ {
		fp = (fp >> 8) ^ crcTable[byte(fp)^canonical[i]]
	}
	return fp
}

// FingerprintBytes returns a fingerprint as the 8 little-endian bytes single-object encoding
// puts after the C3 01 marker.
func FingerprintBytes(fp uint64) (b [8]byte) {
	for i := range b {
		b[i] = byte(fp >> (8 * i))
	}
	return b
}

const crcEmpty uint64 = 0xc15d213aa4d7a795

var crcTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for j := 0; j < 8; j++ {
			fp = (fp >> 1) ^ (crcEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()
