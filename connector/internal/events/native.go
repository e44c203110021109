package events

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/linkedin/goavro/v2"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// native is e as a record of k's schema, in goavro's native form; truncatedFrom ≥ 0 sets
// the message's content_truncated_from.
func native(k *eventKind, e diff.Event, truncatedFrom int) map[string]any {
	var org any
	if e.Context.OrganizationID != 0 {
		org = goavro.Union("long", e.Context.OrganizationID)
	}
	m := map[string]any{
		"event_id":              e.ID,
		"event_type":            k.typ.String(),
		"conversation_id":       e.ConversationID,
		"message_id":            e.MessageID,
		"detected_at":           e.DetectedAt.UTC(),
		"detected_at_ms":        e.DetectedAt.UTC(),
		"organization_id":       org,
		"business_id":           utf8Text(e.Context.BusinessID),
		"messaging_partner":     symbol(e.Context.Partner),
		"messaging_partner_raw": utf8Text(string(e.Context.Partner)),
	}
	if k.message {
		m["message"] = messageNative(e.Message, truncatedFrom)
	}
	k.toNative(e, m)
	return m
}

// fromNative reads a record of k's schema back into the event it was encoded from.
func fromNative(k *eventKind, n map[string]any) (diff.Event, error) {
	e := diff.Event{Type: k.typ}
	e.ID, _ = n["event_id"].(string)
	e.ConversationID, _ = n["conversation_id"].(int64)
	e.MessageID, _ = n["message_id"].(int64)
	e.DetectedAt, _ = n["detected_at"].(time.Time)
	e.Context = contextFromNative(n)
	if k.message {
		e.Message = messageFromNative(n["message"])
		e.Date = e.Message.Date.Time
	}
	if err := k.fromNative(n, &e); err != nil {
		return diff.Event{}, err
	}
	return e, nil
}

// contextFromNative reads an event's conversation context; a record written before the
// context fields has none (Known false).
func contextFromNative(n map[string]any) model.Context {
	var c model.Context
	if u, ok := n["organization_id"].(map[string]any); ok {
		c.OrganizationID, _ = u["long"].(int64)
	}
	c.BusinessID, _ = n["business_id"].(string)
	p, _ := n["messaging_partner_raw"].(string)
	c.Partner = model.Partner(p)
	_, c.Known = n["messaging_partner_raw"]
	return c
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
		"date_ms":                msg.Date.UTC(),
		"content_type":           symbol(msg.ContentType),
		"content_type_raw":       utf8Text(string(msg.ContentType)),
		"sender_type":            symbol(msg.SenderType),
		"sender_type_raw":        utf8Text(string(msg.SenderType)),
		"sender_label":           utf8Text(msg.SenderLabel),
		"status":                 symbol(msg.Status),
		"status_raw":             utf8Text(string(msg.Status)),
		"is_deleted":             msg.IsDeleted,
		"content":                utf8Text(msg.Content),
		"user_id":                userID,
		"custom_channel":         custom,
		"content_truncated_from": truncated,
	}
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

// utf8Text makes s valid UTF-8 (Avro strings must be; strict readers refuse anything else):
// each invalid byte sequence becomes U+FFFD.
func utf8Text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// symbol maps a value of one of the model's open enumerations to the schema's symbol; goavro
// does no schema resolution, so anything undocumented becomes Unknown before encoding.
func symbol[E interface {
	~string
	Known() bool
}](v E) string {
	if v.Known() {
		return string(v)
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
