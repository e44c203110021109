package events

import (
	"fmt"
	"strconv"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/partoo-connector/partoo-connector/connector/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/diff"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
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
)

// rfc3339Micro is RFC 3339 with exactly microseconds, the precision of timestamp-micros.
const rfc3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// ContentType of event values: Avro single-object encoding.
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

// Codec encodes diff events as Avro single-object values with their headers, and decodes
// them back. It is safe for concurrent use.
type Codec struct {
	byType map[diff.EventType]*avroframe.SingleObject
	byFP   map[uint64]*avroframe.SingleObject
}

// NewCodec compiles the embedded event schemas.
func NewCodec() (*Codec, error) {
	c := &Codec{byType: map[diff.EventType]*avroframe.SingleObject{}, byFP: map[uint64]*avroframe.SingleObject{}}
	for t, s := range map[diff.EventType]string{
		diff.MessageCreated: schemas.MessageCreated,
		diff.StatusChanged:  schemas.StatusChanged,
		diff.MessageDeleted: schemas.MessageDeleted,
	} {
		so, err := avroframe.NewSingleObject(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		c.byType[t] = so
		c.byFP[so.Fingerprint] = so
	}
	return c, nil
}

// Schema returns the single-object codec of an event type.
func (c *Codec) Schema(t diff.EventType) *avroframe.SingleObject { return c.byType[t] }

// Key is the record key of a conversation: its id as a decimal string.
func Key(conversationID int64) []byte { return strconv.AppendInt(nil, conversationID, 10) }

// Encode turns an event into a record value, key and headers.
func (c *Codec) Encode(e diff.Event) (Encoded, error) {
	so := c.byType[e.Type]
	if so == nil {
		return Encoded{}, fmt.Errorf("encode: unknown event type %v", e.Type)
	}
	value, err := so.Append(make([]byte, 0, 256), native(e))
	if err != nil {
		return Encoded{}, err
	}
	return Encoded{
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
	}, nil
}

// Decode decodes a record value into the schema's full name and goavro's native form.
func (c *Codec) Decode(value []byte) (string, map[string]any, error) {
	fp, _, err := avroframe.SplitSingleObject(value)
	if err != nil {
		return "", nil, err
	}
	so := c.byFP[fp]
	if so == nil {
		return "", nil, fmt.Errorf("decode: unknown schema fingerprint %016x", fp)
	}
	n, err := so.Decode(value)
	if err != nil {
		return "", nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("decode %s: not a record", so.Name)
	}
	return so.Name, m, nil
}

func native(e diff.Event) map[string]any {
	m := map[string]any{
		"event_id":        e.ID,
		"conversation_id": e.ConversationID,
		"message_id":      e.MessageID,
		"detected_at":     e.DetectedAt.UTC(),
	}
	switch e.Type {
	case diff.MessageCreated:
		m["snapshot"] = e.Snapshot
		m["message"] = messageNative(e.Message)
	case diff.StatusChanged:
		m["date"] = e.Date.UTC()
		m["previous_status"] = enumSymbol(string(e.PreviousStatus), e.PreviousStatus.Known())
		m["previous_status_raw"] = string(e.PreviousStatus)
		m["status"] = enumSymbol(string(e.Status), e.Status.Known())
		m["status_raw"] = string(e.Status)
	case diff.MessageDeleted:
		m["reason"] = e.Reason.String()
		m["message"] = messageNative(e.Message)
	}
	return m
}

func messageNative(msg partoo.Message) map[string]any {
	var userID, custom any
	if msg.UserID != nil {
		userID = goavro.Union("string", *msg.UserID)
	}
	if len(msg.CustomChannel) > 0 {
		custom = goavro.Union("string", string(msg.CustomChannel))
	}
	return map[string]any{
		"id":               msg.ID,
		"conversation_id":  msg.ConversationID,
		"date":             msg.Date.UTC(),
		"content_type":     enumSymbol(string(msg.ContentType), msg.ContentType.Known()),
		"content_type_raw": string(msg.ContentType),
		"sender_type":      enumSymbol(string(msg.SenderType), msg.SenderType.Known()),
		"sender_type_raw":  string(msg.SenderType),
		"sender_label":     msg.SenderLabel,
		"status":           enumSymbol(string(msg.Status), msg.Status.Known()),
		"status_raw":       string(msg.Status),
		"is_deleted":       msg.IsDeleted,
		"content":          msg.Content,
		"user_id":          userID,
		"custom_channel":   custom,
	}
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
