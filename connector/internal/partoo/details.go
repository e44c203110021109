package partoo

import (
	"bytes"
	"encoding/json"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// wireDetails are the fields of a conversation the conversations table publishes, read
// leniently: a field of an unexpected type, or absent, is nil; it never fails a listing.
type wireDetails struct {
	Business         json.RawMessage `json:"business"`
	Status           json.RawMessage `json:"status"`
	IsSolved         json.RawMessage `json:"is_solved"`
	IsExpired        json.RawMessage `json:"is_expired"`
	AssignedUserID   json.RawMessage `json:"assigned_user_id"`
	CreatedAt        json.RawMessage `json:"created_at"`
	FirstMessageDate json.RawMessage `json:"first_message_date"`
	ConsumerName     json.RawMessage `json:"consumer_name"`
	ConsumerPhone    json.RawMessage `json:"consumer_phone_number"`
}

// decodeDetails reads a conversation's details from its JSON object (already known to be
// one).
func decodeDetails(raw json.RawMessage) model.ConversationDetails {
	var w wireDetails
	if json.Unmarshal(raw, &w) != nil {
		return model.ConversationDetails{}
	}
	var b struct {
		Name, City, Zipcode, Country json.RawMessage
	}
	if len(w.Business) > 0 && w.Business[0] == '{' {
		_ = json.Unmarshal(w.Business, &b)
	}
	d := model.ConversationDetails{
		BusinessName: optString(b.Name), BusinessCity: optString(b.City), BusinessZipcode: optString(b.Zipcode),
		BusinessCountry: optString(b.Country),
		IsSolved:        optBool(w.IsSolved), IsExpired: optBool(w.IsExpired), AssignedUserID: optString(w.AssignedUserID),
		CreatedAt: optTime(w.CreatedAt), FirstMessageDate: optTime(w.FirstMessageDate),
		ConsumerName: optString(w.ConsumerName), ConsumerPhoneNumber: optString(w.ConsumerPhone),
	}
	d.Status, d.StatusRaw = conversationStatus(w.Status)
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
	if json.Unmarshal(r, &s) == nil {
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
