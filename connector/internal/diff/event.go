package diff

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// EventType is the kind of a change event.
type EventType uint8

// Event types, in the order they are emitted for one message.
const (
	MessageCreated EventType = iota + 1
	StatusChanged
	MessageDeleted
)

var eventTypeNames = [...]string{MessageCreated: "MessageCreated", StatusChanged: "StatusChanged", MessageDeleted: "MessageDeleted"}

// String is the event type's name (the schema's name and the event_type header).
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) && eventTypeNames[t] != "" {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// DeleteReason says why a message counts as deleted.
type DeleteReason uint8

// Delete reasons.
const (
	ConsumerDeleted DeleteReason = iota + 1 // is_deleted became true
	Vanished                                // absent from consecutive complete walks
)

var deleteReasonNames = [...]string{ConsumerDeleted: "ConsumerDeleted", Vanished: "Vanished"}

// String is the reason's name, "Unknown" for a value that is none of the constants.
func (r DeleteReason) String() string {
	if int(r) < len(deleteReasonNames) && deleteReasonNames[r] != "" {
		return deleteReasonNames[r]
	}
	return "Unknown"
}

// ParseDeleteReason is the inverse of String: the reason named s, and whether s names one
// ("Unknown" does not).
func ParseDeleteReason(s string) (DeleteReason, bool) {
	for r, name := range deleteReasonNames {
		if name != "" && name == s {
			return DeleteReason(r), true
		}
	}
	return 0, false
}

// Event is one change, as a value.
type Event struct {
	Type           EventType
	ID             string // deterministic: the same change observed again has the same ID
	ConversationID int64
	MessageID      int64
	DetectedAt     time.Time
	Date           time.Time     // the message's date
	Message        model.Message // Created: as observed; Deleted: last known; StatusChanged: now
	Snapshot       bool          // MessageCreated found by a snapshot walk
	PreviousStatus model.Status  // StatusChanged
	Status         model.Status  // StatusChanged
	Reason         DeleteReason  // MessageDeleted
	// Evidence of a Vanished deletion: the consecutive complete walks the message was absent
	// from, and the time of the first of them.
	AbsentWalks int
	AbsentSince time.Time
	// Context is the conversation's organisation, business and channel: set by the walk step
	// after the diff (the diff knows messages only).
	Context model.Context
}

// genSuffix names the change of a message's generation gen: the change itself for the first
// (so ids stay what they always were), "<change>#<gen>" after the message came back from a
// Vanished deletion.
func genSuffix(change string, gen int) string {
	if gen == 0 {
		return change
	}
	return change + "#" + strconv.Itoa(gen)
}

// eventNamespace is the UUID namespace of event ids (a random v4 UUID fixed forever).
var eventNamespace = [16]byte{0x6f, 0x1c, 0x3a, 0x52, 0x9d, 0x0e, 0x4b, 0x7a, 0x8f, 0x21, 0x5c, 0x44, 0x0b, 0xe3, 0x97, 0x16}

// scope is the organisation an event id belongs to: its numeric id, else its name.
type scope struct {
	id   int64
	name string
}

// eventID is a UUID v5 (RFC 9562) of "partoo:<conversation>:<message>:<change>", of
// "partoo:org:<organisation id>:<conversation>:<message>:<change>" when the scope has an id,
// or of "partoo:name:<organisation name>:<conversation>:..." when it has a name only. The
// three forms never meet: the first goes on with a digit, and a name holds no ':'.
func eventID(sc scope, conv, msg int64, change string) string {
	h := sha1.New()
	h.Write(eventNamespace[:])
	switch {
	case sc.id != 0:
		fmt.Fprintf(h, "partoo:org:%d:", sc.id)
	case sc.name != "":
		fmt.Fprintf(h, "partoo:name:%s:", sc.name)
	default:
		h.Write([]byte("partoo:"))
	}
	fmt.Fprintf(h, "%d:%d:%s", conv, msg, change)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
