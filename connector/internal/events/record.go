package events

import (
	"errors"
	"strconv"

	pub "github.com/partoo-connector/partoo-connector/connector/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
)

// Header names on every event record: the public package's (connector/events), where
// consumers read them.
const (
	HeaderEventType     = pub.HeaderEventType
	HeaderContentType   = pub.HeaderContentType
	HeaderSchemaName    = pub.HeaderSchemaName
	HeaderFingerprint   = pub.HeaderFingerprint
	HeaderCESpecVersion = pub.HeaderCESpecVersion
	HeaderCEID          = pub.HeaderCEID
	HeaderCEType        = pub.HeaderCEType
	HeaderCESource      = pub.HeaderCESource
	HeaderCESubject     = pub.HeaderCESubject
	HeaderCETime        = pub.HeaderCETime
	HeaderSchemaID      = pub.HeaderSchemaID
	HeaderOrganization  = pub.HeaderOrganization
)

// rfc3339Micro is RFC 3339 with exactly microseconds, the precision of timestamp-micros.
const rfc3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// ContentType of event values: Avro binary, framed as single-object encoding, or in the
// Confluent wire format when the record has a schema_id header.
const ContentType = pub.ContentType

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

// Key is the record key of a conversation: its id as a decimal string.
func Key(conversationID int64) []byte { return strconv.AppendInt(nil, conversationID, 10) }

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

// headers are the headers of e's record, so being its schema, in the order they are written.
func headers(e diff.Event, so *avroframe.SingleObject) []Header {
	hs := []Header{
		{HeaderEventType, []byte(e.Type.String())},
		{HeaderContentType, []byte(ContentType)},
		{HeaderSchemaName, []byte(so.Name)},
		{HeaderFingerprint, []byte(so.FPHex)},
		{HeaderCESpecVersion, []byte("1.0")},
		{HeaderCEID, []byte(e.ID)},
		{HeaderCEType, []byte(so.Name)},
		{HeaderCESource, []byte(source(e))},
		{HeaderCESubject, []byte(strconv.FormatInt(e.MessageID, 10))},
		{HeaderCETime, []byte(e.DetectedAt.UTC().Format(rfc3339Micro))},
	}
	if e.Context.Organization != "" { // several organisations: each event says whose it is
		hs = append(hs, Header{HeaderOrganization, []byte(e.Context.Organization)})
	}
	return hs
}

// source is an event's ce_source: /partoo/conversations/{id}, under
// /partoo/organizations/{org_id} when the organisation is known, so that two organisations
// writing one topic are told apart.
func source(e diff.Event) string {
	s := "/partoo/conversations/" + strconv.FormatInt(e.ConversationID, 10)
	if org := e.Context.OrganizationID; org != 0 {
		s = "/partoo/organizations/" + strconv.FormatInt(org, 10) + s[len("/partoo"):]
	}
	return s
}
