package events

import (
	"fmt"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// eventKind is everything the codec knows of one event type: its schema, and how an event of
// that type becomes the schema's record and back. A new event type is one entry in eventKinds
// plus its schema in schemas/.
type eventKind struct {
	typ    diff.EventType
	schema string // the schema's JSON, as embedded (schemas/*.avsc)
	// message: the record carries the message, as its "message" field. Its content is what
	// EncodeFit cuts to fit, and its date is the event's.
	message bool
	// toNative sets the record fields of the type's own on m, goavro's native form (the
	// fields every event has, and the message, are set already).
	toNative func(e diff.Event, m map[string]any)
	// fromNative reads them back into e.
	fromNative func(n map[string]any, e *diff.Event) error
}

// eventKinds are the event types, in the order Codec.Schemas lists them.
var eventKinds = [...]eventKind{
	{typ: diff.MessageCreated, schema: schemas.MessageCreated, message: true,
		toNative:   func(e diff.Event, m map[string]any) { m["snapshot"] = e.Snapshot },
		fromNative: func(n map[string]any, e *diff.Event) error { e.Snapshot, _ = n["snapshot"].(bool); return nil }},
	{typ: diff.StatusChanged, schema: schemas.StatusChanged,
		toNative: statusToNative, fromNative: statusFromNative},
	{typ: diff.MessageDeleted, schema: schemas.MessageDeleted, message: true,
		toNative: func(e diff.Event, m map[string]any) {
			m["reason"] = e.Reason.String()
			m["reason_raw"] = e.Reason.String()
		},
		fromNative: func(n map[string]any, e *diff.Event) error {
			s, _ := n["reason"].(string)
			r, ok := diff.ParseDeleteReason(s)
			if !ok {
				return fmt.Errorf("decode: delete reason %q is not one the connector writes", s)
			}
			e.Reason = r
			return nil
		}},
}

func statusToNative(e diff.Event, m map[string]any) {
	m["date"] = e.Date.UTC()
	m["date_ms"] = e.Date.UTC()
	m["previous_status"] = symbol(e.PreviousStatus)
	m["previous_status_raw"] = utf8Text(string(e.PreviousStatus))
	m["status"] = symbol(e.Status)
	m["status_raw"] = utf8Text(string(e.Status))
}

func statusFromNative(n map[string]any, e *diff.Event) error {
	e.Date, _ = n["date"].(time.Time)
	prev, _ := n["previous_status_raw"].(string)
	now, _ := n["status_raw"].(string)
	e.PreviousStatus, e.Status = model.Status(prev), model.Status(now)
	return nil
}
