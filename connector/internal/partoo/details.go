package partoo

import (
	"bytes"
	"encoding/json"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// businessFields are the fields of a conversation's business object the connector reads.
var businessFields = fieldSet{folded: []string{"ID", "NAME", "CITY", "ZIPCODE", "COUNTRY"}}

const (
	bfID = iota
	bfName
	bfCity
	bfZipcode
	bfCountry
	bfFields
)

// businessID is a conversation's business id: the id of its business object (read into id),
// or the business value itself when it is not an object; "" when there is none.
func businessID(business, id []byte) string {
	if len(business) > 0 && business[0] == '{' {
		return parseString(id)
	}
	return parseString(business)
}

// decodeDetails reads a conversation's details, the fields the conversations table
// publishes, from its fields f and its business object's fields b, leniently: a field of an
// unexpected type, or absent, is nil; it never fails a listing.
func decodeDetails(f *[cfFields][]byte, b *[bfFields][]byte) model.ConversationDetails {
	d := model.ConversationDetails{
		BusinessName: optString(b[bfName]), BusinessCity: optString(b[bfCity]), BusinessZipcode: optString(b[bfZipcode]),
		BusinessCountry: optString(b[bfCountry]),
		IsSolved:        optBool(f[cfIsSolved]), IsExpired: optBool(f[cfIsExpired]), AssignedUserID: optString(f[cfAssignedUserID]),
		CreatedAt: optTime(f[cfCreatedAt]), FirstMessageDate: optTime(f[cfFirstMessageDate]),
		ConsumerName: optString(f[cfConsumerName]), ConsumerPhoneNumber: optString(f[cfConsumerPhone]),
	}
	d.Status, d.StatusRaw = conversationStatus(f[cfStatus])
	return d
}

// Conversation statuses, as Partoo documents them; any other value is StatusUnknown.
const (
	StatusOpen    = "Open"
	StatusClosed  = "Closed"
	StatusUnknown = "Unknown"
)

// conversationStatus reads a conversation's status: Open or Closed (the strings Partoo
// documents) with no raw value; Unknown with the value as sent for anything else (another
// string as it is, an object, number or boolean as its JSON text), never the JSON text as the
// status; nil, nil when absent or null.
func conversationStatus(r json.RawMessage) (status, raw *string) {
	if len(r) == 0 || isNull(r) {
		return nil, nil
	}
	var s string
	if r[0] == '"' {
		s = parseString(r)
		if s == StatusOpen || s == StatusClosed {
			return &s, nil
		}
	} else {
		var b bytes.Buffer
		if json.Compact(&b, r) == nil {
			s = b.String()
		} else {
			s = string(r)
		}
	}
	unknown := StatusUnknown
	return &unknown, &s
}

// optString is a string or number as text; nil when absent or null.
func optString(r json.RawMessage) *string {
	if len(r) == 0 || isNull(r) {
		return nil
	}
	s := parseString(r)
	return &s
}

// optBool is a boolean read like parseBool; nil when absent or null.
func optBool(r json.RawMessage) *bool {
	if len(r) == 0 || isNull(r) {
		return nil
	}
	v := parseBool(r)
	return &v
}

// optTime is a date in any form Partoo's dates take; nil when absent, null or unreadable.
func optTime(r json.RawMessage) *model.Time {
	if len(r) == 0 || isNull(r) {
		return nil
	}
	t, err := parseTimeJSON(r)
	if err != nil {
		return nil
	}
	return &model.Time{Time: t}
}
