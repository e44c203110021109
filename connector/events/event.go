package events

import (
	"encoding/json"
	"time"
)

// Type is an event's type: the event_type header, and the name of its schema.
type Type string

// Event types.
const (
	// MessageCreated: a message the connector had not seen (Event.Message, Event.Snapshot).
	MessageCreated Type = "MessageCreated"
	// StatusChanged: a message's delivery status changed (Event.Date, Event.PreviousStatus,
	// Event.Status).
	StatusChanged Type = "StatusChanged"
	// MessageDeleted: a message was deleted (Event.Message, Event.Reason).
	MessageDeleted Type = "MessageDeleted"
)

// Event is one change event. The fields of the other types are zero.
type Event struct {
	Type Type
	// ID is deterministic: the same change observed again (after a crash, say) has the same
	// id. Deduplicate on it.
	ID             string
	ConversationID int64 // also the record key
	MessageID      int64
	DetectedAt     time.Time // when the connector observed the change (UTC, microseconds)
	// OrganizationID is the Partoo organisation the connector read for; 0 when it was not
	// configured.
	OrganizationID int64
	// BusinessID and MessagingPartner are the conversation's business.id and channel as Partoo
	// sent them ("Google", "Facebook", "Instagram", "SMS", "Whatsapp", or a newer value);
	// "" in records written before the connector published them.
	BusinessID, MessagingPartner string
	// Date is the message's date.
	Date time.Time

	// Message is the message as observed (MessageCreated) or as last known (MessageDeleted);
	// nil for StatusChanged.
	Message *Message
	// Snapshot (MessageCreated): found by the first complete walk of its conversation, or by
	// a resnapshot, rather than as a change.
	Snapshot bool
	// PreviousStatus and Status (StatusChanged) are the statuses as Partoo sent them:
	// "Sending", "Success", "Failed", or a value Partoo added since.
	PreviousStatus, Status string
	// Reason (MessageDeleted) is "ConsumerDeleted" (is_deleted became true) or "Vanished"
	// (absent from consecutive complete walks of its conversation).
	Reason string
}

// Message is a Partoo message as an event carries it. Its enumerations are the values Partoo
// sent, documented or not.
type Message struct {
	ID             int64
	ConversationID int64
	Date           time.Time // UTC, microseconds
	ContentType    string    // e.g. "Text", "Image"
	SenderType     string    // "User", "Consumer", "Metadata"
	SenderLabel    string
	Status         string // "Sending", "Success", "Failed"
	IsDeleted      bool
	Content        string
	UserID         *string         // nil when Partoo sent null
	CustomChannel  json.RawMessage // Partoo's custom_channel as JSON text; nil when null
	// ContentTruncatedFrom is the content's size in bytes before the connector cut it to fit
	// the topic's record size limit; 0 when Content is whole.
	ContentTruncatedFrom int64
}
