package events

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
)

// Codec encodes diff events as Avro values with their headers, and decodes them back. Values
// are in Avro single-object encoding until UseSchemaIDs switches the codec to the Confluent
// wire format. It is safe for concurrent use.
type Codec struct {
	kinds  []*compiledKind // in the order of eventKinds
	byType map[diff.EventType]*compiledKind
	byFP   map[uint64]*compiledKind
	reg    atomic.Pointer[registered] // nil: single-object encoding
}

// compiledKind is an entry of eventKinds with its schema compiled.
type compiledKind struct {
	*eventKind
	so *avroframe.SingleObject
}

// registered are the registry's ids of the event schemas.
type registered struct {
	byType map[diff.EventType]uint32
	byID   map[uint32]*compiledKind
}

// Schema is one event schema, as registered with a schema registry.
type Schema struct {
	Type     diff.EventType
	FullName string // e.g. partoo.messages.v1.MessageCreated
	Text     string // the schema's JSON, as embedded in the binary (schemas/*.avsc)
}

// NewCodec compiles the embedded event schemas.
func NewCodec() (*Codec, error) {
	c := &Codec{byType: map[diff.EventType]*compiledKind{}, byFP: map[uint64]*compiledKind{}}
	for i := range eventKinds {
		k := &eventKinds[i]
		so, err := avroframe.NewSingleObject(k.schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.typ, err)
		}
		ck := &compiledKind{eventKind: k, so: so}
		if c.byType[k.typ] != nil || c.byFP[so.Fingerprint] != nil {
			return nil, fmt.Errorf("events: %s is listed twice, or shares its schema with another event type", k.typ)
		}
		c.kinds = append(c.kinds, ck)
		c.byType[k.typ], c.byFP[so.Fingerprint] = ck, ck
	}
	if err := c.addHistory(); err != nil {
		return nil, err
	}
	return c, nil
}

// addHistory makes the codec decode records written by every earlier release: each
// fingerprint of schemas/history/fingerprints.json that names an event schema resolves to the
// schema it was written with, read as today's event, the fields added since at their zero
// value (an unknown context).
func (c *Codec) addHistory() error {
	entries, err := schemahistory.Load()
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	for _, e := range entries {
		var now *compiledKind
		for _, k := range c.kinds {
			if k.so.Name == e.Schema.Name {
				now = k
			}
		}
		switch had := c.byFP[e.FP]; {
		case now == nil: // a table's or the state's
		case had != nil && had.so.Name != now.so.Name:
			return fmt.Errorf("events: fingerprint %s is listed for %s but is %s's", e.Fingerprint, e.Listed.Schema, had.so.Name)
		case had == nil:
			c.byFP[e.FP] = &compiledKind{eventKind: now.eventKind, so: e.Schema}
		}
	}
	return nil
}

// Schemas lists the event schemas, one per event type.
func (c *Codec) Schemas() []Schema {
	out := make([]Schema, 0, len(c.kinds))
	for _, k := range c.kinds {
		out = append(out, Schema{Type: k.typ, FullName: k.so.Name, Text: k.schema})
	}
	return out
}

// UseSchemaIDs switches Encode to the Confluent wire format, with the ids a schema registry
// gave each event type's schema. Every event type needs an id, so that no record is written
// with an id that was not registered. Call it before the first Encode.
func (c *Codec) UseSchemaIDs(ids map[diff.EventType]uint32) error {
	r := &registered{byType: map[diff.EventType]uint32{}, byID: map[uint32]*compiledKind{}}
	for _, k := range c.kinds {
		id, ok := ids[k.typ]
		if !ok {
			return fmt.Errorf("events: no schema id for %s", k.typ)
		}
		if other := r.byID[id]; other != nil {
			return fmt.Errorf("events: schema id %d given to both %s and %s", id, other.so.Name, k.so.Name)
		}
		r.byType[k.typ] = id
		r.byID[id] = k
	}
	c.reg.Store(r)
	return nil
}

// SchemaID returns the registry id Encode writes for an event type (false before UseSchemaIDs).
func (c *Codec) SchemaID(t diff.EventType) (uint32, bool) {
	r := c.reg.Load()
	if r == nil {
		return 0, false
	}
	id, ok := r.byType[t]
	return id, ok
}

// Schema returns the single-object codec of an event type (nil for a type the codec does not
// know).
func (c *Codec) Schema(t diff.EventType) *avroframe.SingleObject {
	if k := c.byType[t]; k != nil {
		return k.so
	}
	return nil
}

// Encode turns an event into a record value, key and headers.
func (c *Codec) Encode(e diff.Event) (Encoded, error) {
	return c.encode(e, -1)
}

// EncodeFit is Encode for a topic whose records may be at most maxBytes (RecordSize): an
// event whose message content would not fit is encoded with the content cut at a UTF-8
// boundary so that it does, and content_truncated_from set to the content's original size
// in bytes, which EncodeFit also returns (0: not cut). maxBytes ≤ 0: no limit. An event that
// cannot fit at all gives ErrTooLarge.
func (c *Codec) EncodeFit(e diff.Event, maxBytes int) (enc Encoded, truncatedFrom int, err error) {
	if k := c.byType[e.Type]; k != nil && !k.message {
		e.Message.Content = "" // nothing to cut: FitContent then encodes once and says too large
	}
	return FitContent(e.Message.Content, maxBytes, RecordSize, func(content string, from int) (Encoded, error) {
		cut := e
		cut.Message.Content = content
		return c.encode(cut, from)
	})
}

// FitContent encodes a record whose message content may be cut to fit maxBytes (as size
// counts a record; maxBytes ≤ 0: no limit). encode is called with the whole content and -1
// first; when the record is too large, again with the content cut at a UTF-8 boundary and its
// original length, a few times at most. It returns the record and the original length (0: not
// cut), or ErrTooLarge. The events and the messages table's rows share it.
func FitContent[T any](content string, maxBytes int, size func(T) int, encode func(content string, truncatedFrom int) (T, error)) (T, int, error) {
	rec, err := encode(content, -1)
	if err != nil || maxBytes <= 0 || size(rec) <= maxBytes {
		return rec, 0, err
	}
	var zero T
	if content == "" {
		return zero, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size(rec), maxBytes)
	}
	keep := len(content)
	for try := 0; try < 4; try++ {
		// The content's length prefix shrinks with it; 16 bytes more than the excess covers it.
		keep = max(keep-(size(rec)-maxBytes+16), 0)
		for keep > 0 && !utf8.RuneStart(content[keep]) {
			keep--
		}
		if rec, err = encode(content[:keep], len(content)); err != nil {
			return zero, 0, err
		}
		if size(rec) <= maxBytes {
			return rec, len(content), nil
		}
		if keep == 0 {
			break
		}
	}
	return zero, 0, fmt.Errorf("%w: %d bytes with the content cut, limit %d", ErrTooLarge, size(rec), maxBytes)
}

// encode encodes e; truncatedFrom ≥ 0 sets content_truncated_from.
func (c *Codec) encode(e diff.Event, truncatedFrom int) (Encoded, error) {
	k := c.byType[e.Type]
	if k == nil {
		return Encoded{}, fmt.Errorf("encode: unknown event type %v", e.Type)
	}
	var (
		value []byte
		err   error
		reg   = c.reg.Load()
	)
	if reg != nil {
		value, err = k.so.AppendConfluent(make([]byte, 0, 256), reg.byType[e.Type], native(k.eventKind, e, truncatedFrom))
	} else {
		value, err = k.so.Append(make([]byte, 0, 256), native(k.eventKind, e, truncatedFrom))
	}
	if err != nil {
		return Encoded{}, err
	}
	enc := Encoded{Key: Key(e.ConversationID), Value: value, Headers: headers(e, k.so)}
	if reg != nil {
		enc.Headers = append(enc.Headers, Header{HeaderSchemaID, strconv.AppendUint(nil, uint64(reg.byType[e.Type]), 10)})
	}
	return enc, nil
}

// Decode decodes a record value into the schema's full name and goavro's native form. A
// Confluent wire format value decodes when its schema id is one UseSchemaIDs was given.
func (c *Codec) Decode(value []byte) (string, map[string]any, error) {
	return c.DecodeWithFingerprint(value, "")
}

// DecodeWithFingerprint is Decode for a reader that does not know the registry's ids: a
// Confluent wire format value is decoded with the schema named by fingerprintHex, the
// record's schema_fingerprint header, which this connector writes in both formats.
func (c *Codec) DecodeWithFingerprint(value []byte, fingerprintHex string) (string, map[string]any, error) {
	k, m, err := c.decode(value, fingerprintHex)
	if err != nil {
		return "", nil, err
	}
	return k.so.Name, m, nil
}

// decode decodes a record value into its event type's entry and goavro's native form.
func (c *Codec) decode(value []byte, fingerprintHex string) (*compiledKind, map[string]any, error) {
	k, body, err := c.frame(value, fingerprintHex)
	if err != nil {
		return nil, nil, err
	}
	n, err := k.so.DecodeBody(body)
	if err != nil {
		return nil, nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("decode %s: not a record", k.so.Name)
	}
	return k, m, nil
}

// frame reads a value's framing: the event type its schema id or fingerprint names, and the
// Avro body.
func (c *Codec) frame(value []byte, fingerprintHex string) (*compiledKind, []byte, error) {
	var (
		k    *compiledKind
		body []byte
	)
	if len(value) > 0 && value[0] == 0 {
		id, b, err := avroframe.SplitConfluent(value)
		if err != nil {
			return nil, nil, err
		}
		body = b
		if r := c.reg.Load(); r != nil {
			k = r.byID[id]
		}
		if k == nil && fingerprintHex != "" {
			k = c.byFP[parseFingerprint(fingerprintHex)]
		}
		switch {
		case k == nil && fingerprintHex != "":
			return nil, nil, &schemahistory.UnknownError{Reader: "decode", Fingerprint: fingerprintHex}
		case k == nil:
			return nil, nil, fmt.Errorf("decode: schema id %d is not one this connector registered, and no schema_fingerprint header", id)
		}
	} else {
		fp, b, err := avroframe.SplitSingleObject(value)
		if err != nil {
			return nil, nil, err
		}
		body = b
		if k = c.byFP[fp]; k == nil {
			return nil, nil, &schemahistory.UnknownError{Reader: "decode", Fingerprint: schemahistory.Hex(fp)}
		}
	}
	return k, body, nil
}

// DecodeEvent decodes a record value (either framing; see DecodeWithFingerprint) back into the
// diff event it was encoded from: type, ids, detection time, statuses, reason, and the message
// for MessageCreated and MessageDeleted.
func (c *Codec) DecodeEvent(value []byte, fingerprintHex string) (diff.Event, error) {
	k, n, err := c.decode(value, fingerprintHex)
	if err != nil {
		return diff.Event{}, err
	}
	return fromNative(k.eventKind, n)
}

// parseFingerprint reads a schema_fingerprint header: the 8 wire bytes (little-endian) in hex.
func parseFingerprint(h string) uint64 {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 8 {
		return 0
	}
	var fp uint64
	for i := 0; i < 8; i++ {
		fp |= uint64(b[i]) << (8 * i)
	}
	return fp
}
