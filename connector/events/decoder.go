package events

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// eventSchemas are the schemas a Decoder reads, one per event type.
var eventSchemas = [...]struct {
	typ    Type
	schema string
}{
	{MessageCreated, schemas.MessageCreated},
	{StatusChanged, schemas.StatusChanged},
	{MessageDeleted, schemas.MessageDeleted},
}

// Config configures a Decoder. The zero Config reads single-object encoding, and the
// Confluent wire format of records that carry their schema_fingerprint header.
type Config struct {
	// SchemaIDs are the ids a schema registry gave the event schemas (the connector logs them
	// when it registers them): a value in the Confluent wire format with one of these ids
	// decodes as that type.
	SchemaIDs map[uint32]Type
}

// Decoder decodes the values of event records. It is safe for concurrent use.
type Decoder struct {
	byType map[Type]*kind
	byFP   map[uint64]*kind

	mu  sync.RWMutex
	ids map[uint32]*kind // Config.SchemaIDs and Register
}

// kind is an event schema, compiled.
type kind struct {
	typ Type
	so  *avroframe.SingleObject
}

// NewDecoder compiles the event schemas and returns a Decoder. It refuses SchemaIDs that name
// a type it does not know.
func NewDecoder(cfg Config) (*Decoder, error) {
	d := &Decoder{byType: map[Type]*kind{}, byFP: map[uint64]*kind{}, ids: map[uint32]*kind{}}
	for _, s := range eventSchemas {
		so, err := avroframe.NewSingleObject(s.schema)
		if err != nil {
			return nil, fmt.Errorf("events: the %s schema: %w", s.typ, err)
		}
		k := &kind{typ: s.typ, so: so}
		d.byType[s.typ], d.byFP[so.Fingerprint] = k, k
	}
	// The schemas every earlier release wrote (schemas/history): their records still decode
	// (the fields added since read as their defaults).
	old, err := schemahistory.Load()
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	for _, e := range old {
		typ := Type(e.Type)
		if d.byType[typ] == nil || d.byFP[e.FP] != nil { // a table's or the state's; today's
			continue
		}
		d.byFP[e.FP] = &kind{typ: typ, so: e.Schema}
	}
	var errs []error
	for id, t := range cfg.SchemaIDs {
		k := d.byType[t]
		if k == nil {
			errs = append(errs, fmt.Errorf("events: schema id %d is given to %q, which is not an event type", id, t))
			continue
		}
		d.ids[id] = k
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

// UnknownSchemaIDError is Decode's error for a value in the Confluent wire format whose schema
// id the decoder does not know, in a record without a known schema_fingerprint header. Ask
// the registry for the schema of ID (GET /schemas/ids/{id}), Register it, and decode again.
type UnknownSchemaIDError struct {
	ID uint32
}

func (e *UnknownSchemaIDError) Error() string {
	return fmt.Sprintf("events: schema id %d is not one the decoder knows (Config.SchemaIDs, Register), and the record carries no known %s header", e.ID, HeaderFingerprint)
}

// UnknownFingerprintError is Decode's error for a value whose schema fingerprint (single-object
// framing, or the schema_fingerprint header of a Confluent-framed value whose id the decoder
// does not know) is in none of the schemas any release of the connector wrote. A reader going
// through a topic can skip such a record and count it by Fingerprint.
type UnknownFingerprintError struct {
	Fingerprint string // the 8 fingerprint bytes in hex, as on the wire and in the header
}

func (e *UnknownFingerprintError) Error() string {
	return fmt.Sprintf("events: schema fingerprint %s is not one of the event schemas this decoder reads (today's or an earlier release's)", e.Fingerprint)
}

// Register tells the decoder that the registry's schema id holds schema (its JSON, as the
// registry returns it). The schema must be one of the event schemas, in any formatting that
// has the same canonical form.
func (d *Decoder) Register(id uint32, schema string) error {
	so, err := avroframe.NewSingleObject(schema)
	if err != nil {
		return fmt.Errorf("events: schema id %d: %w", id, err)
	}
	k := d.byFP[so.Fingerprint]
	if k == nil {
		return fmt.Errorf("events: schema id %d holds %s, which is not one of the event schemas this decoder reads", id, so.Name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if had := d.ids[id]; had != nil && had != k {
		return fmt.Errorf("events: schema id %d is %s already, not %s", id, had.typ, k.typ)
	}
	d.ids[id] = k
	return nil
}

// Decode decodes an event record's value. fingerprint is the record's schema_fingerprint
// header (HeaderFingerprint), or "" when the caller does not read headers: a value in
// single-object encoding names its schema itself; one in the Confluent wire format is read
// with the schema its id was given, else the one the header names (else
// *UnknownSchemaIDError).
func (d *Decoder) Decode(value []byte, fingerprint string) (Event, error) {
	k, body, err := d.frame(value, fingerprint)
	if err != nil {
		return Event{}, err
	}
	n, err := k.so.DecodeBody(body)
	if err != nil {
		return Event{}, fmt.Errorf("events: decoding a %s: %w", k.typ, err)
	}
	rec, ok := n.(map[string]any)
	if !ok {
		return Event{}, fmt.Errorf("events: decoding a %s: not a record", k.typ)
	}
	return eventFrom(k.typ, rec), nil
}

// frame reads a value's framing: the schema it names, and the Avro body.
func (d *Decoder) frame(value []byte, fingerprint string) (*kind, []byte, error) {
	if len(value) > 0 && value[0] == 0 {
		id, body, err := avroframe.SplitConfluent(value)
		if err != nil {
			return nil, nil, fmt.Errorf("events: %w", err)
		}
		d.mu.RLock()
		k := d.ids[id]
		d.mu.RUnlock()
		if k == nil && fingerprint != "" {
			k = d.byFP[parseFingerprint(fingerprint)]
		}
		switch {
		case k == nil && fingerprint != "":
			return nil, nil, &UnknownFingerprintError{Fingerprint: fingerprint}
		case k == nil:
			return nil, nil, &UnknownSchemaIDError{ID: id}
		}
		return k, body, nil
	}
	fp, body, err := avroframe.SplitSingleObject(value)
	if err != nil {
		return nil, nil, fmt.Errorf("events: %w", err)
	}
	k := d.byFP[fp]
	if k == nil {
		return nil, nil, &UnknownFingerprintError{Fingerprint: schemahistory.Hex(fp)}
	}
	return k, body, nil
}

// parseFingerprint reads a schema_fingerprint header: the 8 wire bytes in hex (0 if it is not).
func parseFingerprint(h string) uint64 {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// eventFrom reads an event of type t from its record, in goavro's native form. Each field is
// read where the record has it: a type's own fields are absent from the others' records.
func eventFrom(t Type, rec map[string]any) Event {
	e := Event{Type: t}
	e.ID, _ = rec["event_id"].(string)
	e.ConversationID, _ = rec["conversation_id"].(int64)
	e.MessageID, _ = rec["message_id"].(int64)
	e.DetectedAt = utc(rec["detected_at"])
	if org, ok := branch[int64](rec["organization_id"], "long"); ok {
		e.OrganizationID = org
	}
	e.BusinessID, _ = rec["business_id"].(string)
	e.MessagingPartner, _ = rec["messaging_partner_raw"].(string)
	e.Date = utc(rec["date"])
	if m, ok := rec["message"].(map[string]any); ok {
		e.Message = messageFrom(m)
		e.Date = e.Message.Date
	}
	e.Snapshot, _ = rec["snapshot"].(bool)
	e.PreviousStatus, _ = rec["previous_status_raw"].(string)
	e.Status, _ = rec["status_raw"].(string)
	e.Reason, _ = rec["reason"].(string)
	if e.Reason == "Unknown" {
		e.Reason, _ = rec["reason_raw"].(string)
	}
	return e
}

func messageFrom(m map[string]any) *Message {
	str := func(k string) string { s, _ := m[k].(string); return s }
	msg := &Message{Date: utc(m["date"]), ContentType: str("content_type_raw"), SenderType: str("sender_type_raw"),
		SenderLabel: str("sender_label"), Status: str("status_raw"), Content: str("content")}
	msg.ID, _ = m["id"].(int64)
	msg.ConversationID, _ = m["conversation_id"].(int64)
	msg.IsDeleted, _ = m["is_deleted"].(bool)
	if u, ok := branch[string](m["user_id"], "string"); ok {
		msg.UserID = &u
	}
	if c, ok := branch[string](m["custom_channel"], "string"); ok {
		msg.CustomChannel = json.RawMessage(c)
	}
	msg.ContentTruncatedFrom, _ = branch[int64](m["content_truncated_from"], "long")
	return msg
}

// branch reads the value of a union (goavro's {"branch": value}; nil for null).
func branch[T any](v any, name string) (T, bool) {
	u, _ := v.(map[string]any)
	x, ok := u[name].(T)
	return x, ok
}

func utc(v any) time.Time {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}
	}
	return t.UTC()
}
