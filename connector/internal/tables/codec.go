package tables

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// Codec encodes table rows in Avro single-object encoding, or in the Confluent wire format once
// UseSchemaIDs gave it the registry's ids. It is safe for concurrent use.
type Codec struct {
	msg, conv *avroframe.SingleObject
	ids       atomic.Pointer[[2]uint32]          // message row, conversation row; nil: single-object
	byFP      map[uint64]*avroframe.SingleObject // today's row schemas and every release's
}

// NewCodec compiles the table schemas.
func NewCodec() (*Codec, error) {
	msg, err := avroframe.NewSingleObject(schemas.MessageRow)
	if err != nil {
		return nil, fmt.Errorf("tables: MessageRow: %w", err)
	}
	conv, err := avroframe.NewSingleObject(schemas.ConversationRow)
	if err != nil {
		return nil, fmt.Errorf("tables: ConversationRow: %w", err)
	}
	entries, err := schemahistory.Load()
	if err != nil {
		return nil, fmt.Errorf("tables: %w", err)
	}
	byFP := schemahistory.Of(entries, "MessageRow")
	for fp, so := range schemahistory.Of(entries, "ConversationRow") {
		byFP[fp] = so
	}
	byFP[msg.Fingerprint], byFP[conv.Fingerprint] = msg, conv
	return &Codec{msg: msg, conv: conv, byFP: byFP}, nil
}

// MessageSchema and ConversationSchema are the row schemas, to register with a registry.
func (c *Codec) MessageSchema() events.Schema {
	return events.Schema{FullName: c.msg.Name, Text: schemas.MessageRow}
}

// ConversationSchema is the conversation row's schema.
func (c *Codec) ConversationSchema() events.Schema {
	return events.Schema{FullName: c.conv.Name, Text: schemas.ConversationRow}
}

// UseSchemaIDs switches the codec to the Confluent wire format with the registry's ids of the
// message row and conversation row schemas.
func (c *Codec) UseSchemaIDs(message, conversation uint32) {
	c.ids.Store(&[2]uint32{message, conversation})
}

// Headers are a row record's headers, as the events carry them: content-type, schema_name,
// schema_fingerprint and, in the Confluent wire format, schema_id — so that a reader without
// registry access (tail) knows the schema. A tombstone has none.
func (c *Codec) Headers(conversation bool) []events.Header {
	so, i := c.msg, 0
	if conversation {
		so, i = c.conv, 1
	}
	hs := []events.Header{
		{Key: events.HeaderContentType, Value: []byte(events.ContentType)},
		{Key: events.HeaderSchemaName, Value: []byte(so.Name)},
		{Key: events.HeaderFingerprint, Value: []byte(so.FPHex)},
	}
	if ids := c.ids.Load(); ids != nil {
		hs = append(hs, events.Header{Key: events.HeaderSchemaID, Value: strconv.AppendUint(nil, uint64(ids[i]), 10)})
	}
	return hs
}

// DecodeWithFingerprint decodes a row value of either framing with the schema its
// schema_fingerprint header names (fingerprintHex), without registry ids: what tail does.
func (c *Codec) DecodeWithFingerprint(value []byte, fingerprintHex string) (string, map[string]any, error) {
	return c.decode(value, fingerprintHex)
}

// Key is a table record's key: the id as a decimal string, like the events' keys.
func Key(id int64) []byte { return strconv.AppendInt(nil, id, 10) }

// ErrTooLarge: a row does not fit the topic's record size even with its content cut.
var ErrTooLarge = errors.New("table row too large for the topic")

// MessageRow encodes the row of e's message (e.Message as observed, e.Context its
// conversation's context). A row whose record (with its headers) would exceed maxBytes (> 0;
// counted by events.RecordSize) has its content cut at a UTF-8 boundary to fit, and
// content_truncated_from set.
func (c *Codec) MessageRow(e diff.Event, maxBytes int) ([]byte, error) {
	size := func(v []byte) int {
		return events.RecordSize(events.Encoded{Key: Key(e.MessageID), Value: v, Headers: c.Headers(false)})
	}
	v, _, err := events.FitContent(e.Message.Content, maxBytes, size, func(content string, from int) ([]byte, error) {
		return c.encodeMessage(e, content, from)
	})
	if errors.Is(err, events.ErrTooLarge) {
		return nil, fmt.Errorf("%w: message %d of conversation %d: %w", ErrTooLarge, e.MessageID, e.ConversationID, err)
	}
	return v, err
}

func (c *Codec) encodeMessage(e diff.Event, content string, truncatedFrom int) ([]byte, error) {
	m := e.Message
	var truncated any
	if truncatedFrom >= 0 {
		truncated = goavro.Union("long", int64(truncatedFrom))
	}
	var userID, custom any
	if m.UserID != nil {
		userID = goavro.Union("string", text(*m.UserID))
	}
	if len(m.CustomChannel) > 0 {
		custom = goavro.Union("string", text(string(m.CustomChannel)))
	}
	row := map[string]any{
		"message_id": m.ID, "conversation_id": e.ConversationID,
		"date": m.Date.UTC(), "date_ms": m.Date.UTC(),
		"content_type": text(string(m.ContentType)), "sender_type": text(string(m.SenderType)),
		"sender_label": text(m.SenderLabel), "status": text(string(m.Status)), "content": text(content),
		"content_truncated_from": truncated, "user_id": userID, "custom_channel": custom,
		"event_id": e.ID, "updated_at": e.DetectedAt.UTC(), "updated_at_ms": e.DetectedAt.UTC(),
	}
	putContext(row, e.Context)
	return c.frame(c.msg, 0, row)
}

// ConversationRow encodes a conversation's row, as listed at the time at (UTC). The consumer's
// name and phone number are published only when contact is set.
func (c *Codec) ConversationRow(conv model.Conversation, org int64, contact bool, at model.Time) ([]byte, error) {
	d := conv.Details
	row := map[string]any{
		"conversation_id": conv.ID,
		"business_name":   optString(d.BusinessName), "business_city": optString(d.BusinessCity),
		"business_zipcode": optString(d.BusinessZipcode), "business_country": optString(d.BusinessCountry),
		"status": optString(d.Status), "status_raw": optString(d.StatusRaw), "is_solved": optBool(d.IsSolved), "is_expired": optBool(d.IsExpired),
		"assigned_user_id": optString(d.AssignedUserID),
		"created_at":       optTime(d.CreatedAt, "timestamp-micros"), "created_at_ms": optTime(d.CreatedAt, "timestamp-millis"),
		"first_message_date":    optTime(d.FirstMessageDate, "timestamp-micros"),
		"first_message_date_ms": optTime(d.FirstMessageDate, "timestamp-millis"),
		"consumer_name":         nil, "consumer_phone_number": nil,
		"updated_at": at.UTC(), "updated_at_ms": at.UTC(),
	}
	if contact {
		row["consumer_name"], row["consumer_phone_number"] = optString(d.ConsumerName), optString(d.ConsumerPhoneNumber)
	}
	putContext(row, model.ContextOf(conv, org))
	return c.frame(c.conv, 1, row)
}

// frame encodes a row with the schema so (index i of the registry ids).
func (c *Codec) frame(so *avroframe.SingleObject, i int, row map[string]any) ([]byte, error) {
	if ids := c.ids.Load(); ids != nil {
		return so.AppendConfluent(make([]byte, 0, 256), ids[i], row)
	}
	return so.Append(make([]byte, 0, 256), row)
}

// Decode decodes a row value of either table, in either framing (a Confluent-framed value
// needs UseSchemaIDs), into goavro's native form.
func (c *Codec) Decode(value []byte) (string, map[string]any, error) { return c.decode(value, "") }

// decode reads a row value: its schema is the one fingerprintHex names, else the one its
// framing names (registry id or single-object fingerprint).
func (c *Codec) decode(value []byte, fingerprintHex string) (string, map[string]any, error) {
	var (
		so   *avroframe.SingleObject
		body []byte
	)
	if len(value) > 0 && value[0] == 0 {
		id, b, err := avroframe.SplitConfluent(value)
		if err != nil {
			return "", nil, err
		}
		if ids := c.ids.Load(); ids != nil {
			so = map[uint32]*avroframe.SingleObject{ids[0]: c.msg, ids[1]: c.conv}[id]
		}
		if so == nil && fingerprintHex == "" {
			return "", nil, fmt.Errorf("tables: schema id %d is not a table schema's", id)
		}
		body = b
	} else {
		fp, b, err := avroframe.SplitSingleObject(value)
		if err != nil {
			return "", nil, err
		}
		if so = c.byFP[fp]; so == nil {
			return "", nil, &schemahistory.UnknownError{Reader: "tables", Fingerprint: schemahistory.Hex(fp)}
		}
		body = b
	}
	if fingerprintHex != "" {
		fp, _ := schemahistory.ParseFingerprint(fingerprintHex)
		if so = c.byFP[fp]; so == nil {
			return "", nil, &schemahistory.UnknownError{Reader: "tables", Fingerprint: fingerprintHex}
		}
	}
	n, err := so.DecodeBody(body)
	if err != nil {
		return "", nil, err
	}
	m, _ := n.(map[string]any)
	return so.Name, m, nil
}

func putContext(row map[string]any, ctx model.Context) {
	row["organization_id"] = nil
	if ctx.OrganizationID != 0 {
		row["organization_id"] = goavro.Union("long", ctx.OrganizationID)
	}
	row["business_id"] = text(ctx.BusinessID)
	row["messaging_partner"] = text(string(ctx.Partner))
}

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return goavro.Union("string", text(*s))
}

func optBool(b *bool) any {
	if b == nil {
		return nil
	}
	return goavro.Union("boolean", *b)
}

func optTime(t *model.Time, branch string) any {
	if t == nil {
		return nil
	}
	return goavro.Union("long."+branch, t.UTC())
}

// text makes s valid UTF-8, as Avro strings must be.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
