package events

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// Header names on every event record.
const (
	HeaderEventType     = "event_type"         // MessageCreated | StatusChanged | MessageDeleted
	HeaderContentType   = "content-type"       // ContentType
	HeaderSchemaName    = "schema_name"        // e.g. partoo.messages.v1.MessageCreated
	HeaderFingerprint   = "schema_fingerprint" // hex of the 8 CRC-64-AVRO bytes after C3 01
	HeaderCESpecVersion = "ce_specversion"     // "1.0"
	HeaderCEID          = "ce_id"              // event_id
	HeaderCEType        = "ce_type"            // the schema's full name
	HeaderCESource      = "ce_source"          // /partoo/conversations/{conversation_id}
	HeaderCESubject     = "ce_subject"         // message id
	HeaderCETime        = "ce_time"            // detected_at, RFC 3339
	HeaderSchemaID      = "schema_id"          // registry id, decimal; only in the Confluent wire format
)

// rfc3339Micro is RFC 3339 with exactly microseconds, the precision of timestamp-micros.
const rfc3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// ContentType of event values: Avro binary, framed as single-object encoding, or in the
// Confluent wire format when the record has a schema_id header.
const ContentType = "application/avro"

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Encoded is an event ready to produce.
type Encoded struct {
	Key     []byte // conversation id, decimal
	Value   []byte
	Headers []Header
}

// Codec encodes diff events as Avro values with their headers, and decodes them back. Values
// are in Avro single-object encoding until UseSchemaIDs switches the codec to the Confluent
// wire format. It is safe for concurrent use.
type Codec struct {
	byType map[diff.EventType]*avroframe.SingleObject
	byFP   map[uint64]*avroframe.SingleObject
	texts  map[diff.EventType]string
	reg    atomic.Pointer[registered] // nil: single-object encoding
}

// registered are the registry's ids of the event schemas.
type registered struct {
	byType map[diff.EventType]uint32
	byID   map[uint32]*avroframe.SingleObject
}

// Schema is one event schema, as registered with a schema registry.
type Schema struct {
	Type     diff.EventType
	FullName string // e.g. partoo.messages.v1.MessageCreated
	Text     string // the schema's JSON, as embedded in the binary (schemas/*.avsc)
}

// eventTypes in the order Schemas lists them.
var eventTypes = []diff.EventType{diff.MessageCreated, diff.StatusChanged, diff.MessageDeleted}

// NewCodec compiles the embedded event schemas.
func NewCodec() (*Codec, error) {
	c := &Codec{byType: map[diff.EventType]*avroframe.SingleObject{}, byFP: map[uint64]*avroframe.SingleObject{},
		texts: map[diff.EventType]string{
			diff.MessageCreated: schemas.MessageCreated,
			diff.StatusChanged:  schemas.StatusChanged,
			diff.MessageDeleted: schemas.MessageDeleted,
		}}
	for t, s := range c.texts {
		so, err := avroframe.NewSingleObject(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		c.byType[t] = so
		c.byFP[so.Fingerprint] = so
	}
	return c, nil
}

// Schemas lists the event schemas, one per event type.
func (c *Codec) Schemas() []Schema {
	out := make([]Schema, 0, len(eventTypes))
	for _, t := range eventTypes {
		out = append(out, Schema{Type: t, FullName: c.byType[t].Name, Text: c.texts[t]})
	}
	return out
}

// UseSchemaIDs switches Encode to the Confluent wire format, with the ids a schema registry
// gave each event type's schema. Every event type needs an id, so that no record is written
// with an id that was not registered. Call it before the first Encode.
func (c *Codec) UseSchemaIDs(ids map[diff.EventType]uint32) error {
	r := &registered{byType: map[diff.EventType]uint32{}, byID: map[uint32]*avroframe.SingleObject{}}
	for _, t := range eventTypes {
		id, ok := ids[t]
		if !ok {
			return fmt.Errorf("events: no schema id for %s", t)
		}
		if other := r.byID[id]; other != nil {
			return fmt.Errorf("events: schema id %d given to both %s and %s", id, other.Name, c.byType[t].Name)
		}
		r.byType[t] = id
		r.byID[id] = c.byType[t]
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

// Schema returns the single-object codec of an event type.
func (c *Codec) Schema(t diff.EventType) *avroframe.SingleObject { return c.byType[t] }

// Key is the record key of a conversation: its id as a decimal string.
func Key(conversationID int64) []byte { return strconv.AppendInt(nil, conversationID, 10) }

// Encode turns an event into a record value, key and headers.
func (c *Codec) Encode(e diff.Event) (Encoded, error) {
	return c.encode(e, -1)
}

// RecordOverhead is what Kafka adds to a record's key, value and headers in a record batch of
// one record (the batch header, the record's length, attributes, deltas and varints), with
// room to spare. A record fits a topic when RecordSize(enc) ≤ its max.message.bytes.
const RecordOverhead = 128

// RecordSize is the size of enc in a record batch of its own, as Kafka's max.message.bytes
// counts it (before compression: at worst compression does not shrink it).
func RecordSize(enc Encoded) int {
	n := RecordOverhead + len(enc.Key) + len(enc.Value)
	for _, h := range enc.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// ErrTooLarge: an event does not fit the limit even with its message content emptied.
var ErrTooLarge = errors.New("the event does not fit max.message.bytes even with its content cut")

// EncodeFit is Encode for a topic whose records may be at most maxBytes (RecordSize): an
// event whose message content would not fit is encoded with the content cut at a UTF-8
// boundary so that it does, and content_truncated_from set to the content's original size
// in bytes, which EncodeFit also returns (0: not cut). maxBytes ≤ 0: no limit. An event that
// cannot fit at all gives ErrTooLarge.
func (c *Codec) EncodeFit(e diff.Event, maxBytes int) (enc Encoded, truncatedFrom int, err error) {
	enc, err = c.encode(e, -1)
	if err != nil || maxBytes <= 0 || RecordSize(enc) <= maxBytes {
		return enc, 0, err
	}
	content := e.Message.Content
	if e.Type == diff.StatusChanged || content == "" {
		return Encoded{}, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, RecordSize(enc), maxBytes)
	}
	keep := len(content)
	for try := 0; try < 4; try++ {
		// The content's length prefix shrinks with it; 16 bytes more than the excess covers it.
		keep -= RecordSize(enc) - maxBytes + 16
		if keep < 0 {
			keep = 0
		}
		for keep > 0 && !utf8.RuneStart(content[keep]) {
			keep--
		}
		cut := e
		cut.Message.Content = content[:keep]
		if enc, err = c.encode(cut, len(content)); err != nil {
			return Encoded{}, 0, err
		}
		if RecordSize(enc) <= maxBytes {
			return enc, len(content), nil
		}
		if keep == 0 {
			break
		}
	}
	return Encoded{}, 0, fmt.Errorf("%w: %d bytes with the content cut, limit %d", ErrTooLarge, RecordSize(enc), maxBytes)
}

// encode encodes e; truncatedFrom ≥ 0 sets content_truncated_from.
func (c *Codec) encode(e diff.Event, truncatedFrom int) (Encoded, error) {
	so := c.byType[e.Type]
	if so == nil {
		return Encoded{}, fmt.Errorf("encode: unknown event type %v", e.Type)
	}
	var (
		value []byte
		err   error
		reg   = c.reg.Load()
	)
	if reg != nil {
		value, err = so.AppendConfluent(make([]byte, 0, 256), reg.byType[e.Type], native(e, truncatedFrom))
	} else {
		value, err = so.Append(make([]byte, 0, 256), native(e, truncatedFrom))
	}
	if err != nil {
		return Encoded{}, err
	}
	enc := Encoded{
		Key:   Key(e.ConversationID),
		Value: value,
		Headers: []Header{
			{HeaderEventType, []byte(e.Type.String())},
			{HeaderContentType, []byte(ContentType)},
			{HeaderSchemaName, []byte(so.Name)},
			{HeaderFingerprint, []byte(so.FPHex)},
			{HeaderCESpecVersion, []byte("1.0")},
			{HeaderCEID, []byte(e.ID)},
			{HeaderCEType, []byte(so.Name)},
			{HeaderCESource, []byte("/partoo/conversations/" + strconv.FormatInt(e.ConversationID, 10))},
			{HeaderCESubject, []byte(strconv.FormatInt(e.MessageID, 10))},
			{HeaderCETime, []byte(e.DetectedAt.UTC().Format(rfc3339Micro))},
		},
	}
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
	var (
		so   *avroframe.SingleObject
		body []byte
	)
	if len(value) > 0 && value[0] == 0 {
		id, b, err := avroframe.SplitConfluent(value)
		if err != nil {
			return "", nil, err
		}
		body = b
		if r := c.reg.Load(); r != nil {
			so = r.byID[id]
		}
		if so == nil && fingerprintHex != "" {
			so = c.byFP[parseFingerprint(fingerprintHex)]
		}
		if so == nil {
			return "", nil, fmt.Errorf("decode: schema id %d is not one this connector registered, and no known schema_fingerprint header", id)
		}
	} else {
		fp, b, err := avroframe.SplitSingleObject(value)
		if err != nil {
			return "", nil, err
		}
		body = b
		if so = c.byFP[fp]; so == nil {
			return "", nil, fmt.Errorf("decode: unknown schema fingerprint %016x", fp)
		}
	}
	n, err := so.DecodeBody(body)
	if err != nil {
		return "", nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("decode %s: not a record", so.Name)
	}
	return so.Name, m, nil
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

func native(e diff.Event, truncatedFrom int) map[string]any {
	m := map[string]any{
		"event_id":        e.ID,
		"conversation_id": e.ConversationID,
		"message_id":      e.MessageID,
		"detected_at":     e.DetectedAt.UTC(),
	}
	switch e.Type {
	case diff.MessageCreated:
		m["snapshot"] = e.Snapshot
		m["message"] = messageNative(e.Message, truncatedFrom)
	case diff.StatusChanged:
		m["date"] = e.Date.UTC()
		m["previous_status"] = enumSymbol(string(e.PreviousStatus), e.PreviousStatus.Known())
		m["previous_status_raw"] = utf8Text(string(e.PreviousStatus))
		m["status"] = enumSymbol(string(e.Status), e.Status.Known())
		m["status_raw"] = utf8Text(string(e.Status))
	case diff.MessageDeleted:
		m["reason"] = e.Reason.String()
		m["message"] = messageNative(e.Message, truncatedFrom)
	}
	return m
}

func messageNative(msg model.Message, truncatedFrom int) map[string]any {
	var userID, custom, truncated any
	if msg.UserID != nil {
		userID = goavro.Union("string", utf8Text(*msg.UserID))
	}
	if len(msg.CustomChannel) > 0 {
		custom = goavro.Union("string", utf8Text(string(msg.CustomChannel)))
	}
	if truncatedFrom >= 0 {
		truncated = goavro.Union("long", int64(truncatedFrom))
	}
	return map[string]any{
		"id":                     msg.ID,
		"conversation_id":        msg.ConversationID,
		"date":                   msg.Date.UTC(),
		"content_type":           enumSymbol(string(msg.ContentType), msg.ContentType.Known()),
		"content_type_raw":       utf8Text(string(msg.ContentType)),
		"sender_type":            enumSymbol(string(msg.SenderType), msg.SenderType.Known()),
		"sender_type_raw":        utf8Text(string(msg.SenderType)),
		"sender_label":           utf8Text(msg.SenderLabel),
		"status":                 enumSymbol(string(msg.Status), msg.Status.Known()),
		"status_raw":             utf8Text(string(msg.Status)),
		"is_deleted":             msg.IsDeleted,
		"content":                utf8Text(msg.Content),
		"user_id":                userID,
		"custom_channel":         custom,
		"content_truncated_from": truncated,
	}
}

// utf8Text makes s valid UTF-8 (Avro strings must be; strict readers refuse anything else):
// each invalid byte sequence becomes U+FFFD.
func utf8Text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// enumSymbol maps a Partoo value to the schema's symbol; goavro does no schema resolution,
// so anything undocumented becomes Unknown before encoding.
func enumSymbol(v string, known bool) string {
	if known {
		return v
	}
	return "Unknown"
}

// Plain converts goavro's native form into plain JSON-friendly values: unions unwrapped,
// timestamps as RFC 3339 strings with microseconds.
func Plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, inner := range x {
				switch k {
				case "string", "long", "int", "boolean", "double", "float", "bytes":
					return Plain(inner) // a union branch
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, inner := range x {
			out[k] = Plain(inner)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, inner := range x {
			out[i] = Plain(inner)
		}
		return out
	case time.Time:
		return x.UTC().Format(rfc3339Micro)
	}
	return v
}

// DecodeEvent decodes a record value (either framing; see DecodeWithFingerprint) back into the
// diff event it was encoded from: type, ids, detection time, statuses, reason, and the message
// for MessageCreated and MessageDeleted.
func (c *Codec) DecodeEvent(value []byte, fingerprintHex string) (diff.Event, error) {
	name, n, err := c.DecodeWithFingerprint(value, fingerprintHex)
	if err != nil {
		return diff.Event{}, err
	}
	var e diff.Event
	switch name {
	case c.byType[diff.MessageCreated].Name:
		e.Type = diff.MessageCreated
	case c.byType[diff.StatusChanged].Name:
		e.Type = diff.StatusChanged
	case c.byType[diff.MessageDeleted].Name:
		e.Type = diff.MessageDeleted
	default:
		return diff.Event{}, fmt.Errorf("decode: unknown event schema %s", name)
	}
	e.ID, _ = n["event_id"].(string)
	e.ConversationID, _ = n["conversation_id"].(int64)
	e.MessageID, _ = n["message_id"].(int64)
	e.DetectedAt, _ = n["detected_at"].(time.Time)
	switch e.Type {
	case diff.MessageCreated:
		e.Snapshot, _ = n["snapshot"].(bool)
		e.Message = messageFromNative(n["message"])
		e.Date = e.Message.Date.Time
	case diff.StatusChanged:
		e.Date, _ = n["date"].(time.Time)
		prev, _ := n["previous_status_raw"].(string)
		now, _ := n["status_raw"].(string)
		e.PreviousStatus, e.Status = model.Status(prev), model.Status(now)
	case diff.MessageDeleted:
		if r, _ := n["reason"].(string); r == diff.Vanished.String() {
			e.Reason = diff.Vanished
		} else {
			e.Reason = diff.ConsumerDeleted
		}
		e.Message = messageFromNative(n["message"])
		e.Date = e.Message.Date.Time
	}
	return e, nil
}

func messageFromNative(v any) model.Message {
	m, _ := v.(map[string]any)
	str := func(k string) string { s, _ := m[k].(string); return s }
	union := func(k string) (string, bool) {
		u, ok := m[k].(map[string]any)
		if !ok {
			return "", false
		}
		s, ok := u["string"].(string)
		return s, ok
	}
	var msg model.Message
	msg.ID, _ = m["id"].(int64)
	msg.ConversationID, _ = m["conversation_id"].(int64)
	if d, ok := m["date"].(time.Time); ok {
		msg.Date = model.Time{Time: d}
	}
	msg.ContentType = model.ContentType(str("content_type_raw"))
	msg.SenderType = model.SenderType(str("sender_type_raw"))
	msg.SenderLabel = str("sender_label")
	msg.Status = model.Status(str("status_raw"))
	msg.IsDeleted, _ = m["is_deleted"].(bool)
	msg.Content = str("content")
	if u, ok := union("user_id"); ok {
		msg.UserID = &u
	}
	if cc, ok := union("custom_channel"); ok {
		msg.CustomChannel = []byte(cc)
	}
	return msg
}
