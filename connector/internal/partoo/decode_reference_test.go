package partoo

// The decoder as it was before it read pages with the scanner of scan.go (encoding/json into
// structs whose fields decode themselves leniently), kept as the reference the new decoder is
// compared with: same values, same skips, same errors (TestDecodersAgree, FuzzDecodersAgree).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// refEnvelope is a page: its item array (messages or conversations), count and next_cursor.
// Items stay raw: each is decoded on its own, so one bad item cannot fail the page.
type refEnvelope struct {
	Messages      *[]json.RawMessage `json:"messages"`
	Conversations *[]json.RawMessage `json:"conversations"`
	Count         json.RawMessage    `json:"count"`
	NextCursor    json.RawMessage    `json:"next_cursor"`
}

func refDecodeEnvelope(b []byte, key string) (items []json.RawMessage, count int, hasCount bool, next *string, err error) {
	if !looksLikeJSONObject(b) {
		return nil, 0, false, nil, errors.New("the body is not a JSON object")
	}
	var env refEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && (te.Field == "messages" || te.Field == "conversations") {
			return nil, 0, false, nil, fmt.Errorf("%q is not an array", key)
		}
		return nil, 0, false, nil, err
	}
	list := env.Messages
	if key == "conversations" {
		list = env.Conversations
	}
	if list == nil {
		// Absent or null: either way not a page. A null list is what a backend error dressed
		// as a 200 looks like ({"messages": null, "error": "backend timeout"}); reading it as
		// an empty page would make every recorded message look deleted.
		var present map[string]json.RawMessage
		_ = json.Unmarshal(b, &present)
		if _, ok := present[key]; ok {
			return nil, 0, false, nil, fmt.Errorf("%q is null, not an array%s", key, errorHint(present))
		}
		return nil, 0, false, nil, fmt.Errorf("no %q array%s", key, errorHint(present))
	}
	items = *list
	if n, err := parseInt(env.Count); err == nil && n >= 0 {
		count, hasCount = int(n), true
	}
	next, err = parseCursor(env.NextCursor)
	return items, count, hasCount, next, err
}

func refDecodeMessagePage(b []byte, convID int64, p *MessagePage) error {
	items, count, hasCount, next, err := refDecodeEnvelope(b, "messages")
	if err != nil {
		return err
	}
	*p = MessagePage{Messages: make([]model.Message, 0, len(items)), Count: count, HasCount: hasCount, NextCursor: next}
	for i, raw := range items {
		m, reason, repaired, err := refDecodeMessageRepairs(raw, convID)
		if err != nil {
			p.Skipped = append(p.Skipped, SkippedItem{Endpoint: EndpointMessages, Index: i, ID: m.ID, Reason: reason, Err: err})
			continue
		}
		for _, f := range repaired {
			p.Repaired = append(p.Repaired, RepairedItem{Endpoint: EndpointMessages, ConversationID: m.ConversationID, ID: m.ID, Field: f, Reason: RepairInvalidUTF8})
		}
		p.Messages = append(p.Messages, m)
	}
	return nil
}

func refDecodeConversationPage(b []byte, p *ConversationPage) error {
	items, count, hasCount, next, err := refDecodeEnvelope(b, "conversations")
	if err != nil {
		return err
	}
	*p = ConversationPage{Conversations: make([]model.Conversation, 0, len(items)), Count: count, HasCount: hasCount, NextCursor: next}
	for i, raw := range items {
		c, skip := refDecodeConversation(raw)
		if skip != nil {
			skip.Endpoint, skip.Index = EndpointConversations, i
			p.Skipped = append(p.Skipped, *skip)
			if skip.Reason != SkipBadLastMessage {
				continue
			}
		}
		p.Conversations = append(p.Conversations, c)
	}
	return nil
}

// refWireConversation is the part of a listed conversation the connector reads.
type refWireConversation struct {
	ID               refID         `json:"id"`
	LastMessage      refMessage    `json:"last_message"`
	MessagingPartner refString     `json:"messaging_partner"`
	Business         refBusinessID `json:"business"`
}

// refDecodeConversation returns the conversation and, when something was wrong, a skip: with
// SkipBadLastMessage the conversation is usable without its last message; with any other
// reason it is not.
func refDecodeConversation(raw json.RawMessage) (model.Conversation, *SkippedItem) {
	w := refWireConversation{ID: refID{err: errMissing}}
	if !looksLikeJSONObject(raw) || json.Unmarshal(raw, &w) != nil {
		return model.Conversation{}, &SkippedItem{Reason: SkipNotObject, Err: errors.New("not a JSON object")}
	}
	id, err := refPositive(w.ID)
	if err != nil {
		return model.Conversation{}, &SkippedItem{Reason: SkipBadID, Err: fmt.Errorf("id: %w", err)}
	}
	c := model.Conversation{ID: id, MessagingPartner: model.Partner(w.MessagingPartner), BusinessID: string(w.Business),
		Details: refDecodeDetails(raw)}
	if lm := w.LastMessage; lm.set {
		if lm.err != nil {
			return c, &SkippedItem{ID: id, Reason: SkipBadLastMessage, Err: fmt.Errorf("last_message: %s: %w", lm.reason, lm.err)}
		}
		m := lm.m
		if m.ConversationID == 0 {
			m.ConversationID = id
		}
		c.LastMessage = &m
	}
	return c, nil
}

// refWireMessage is a message as Partoo sends it, field by field.
type refWireMessage struct {
	ID             refID     `json:"id"`
	ConversationID refID     `json:"conversation_id"`
	Date           refTime   `json:"date"`
	ContentType    refString `json:"content_type"`
	SenderType     refString `json:"sender_type"`
	SenderLabel    refString `json:"sender_label"`
	Status         refString `json:"status"`
	IsDeleted      refBool   `json:"is_deleted"`
	Content        refText   `json:"content"`
	UserID         refRaw    `json:"user_id"`
	CustomChannel  refRaw    `json:"custom_channel"`
}

// refDecodeMessage decodes one message. convID, when not 0, is the conversation being walked: a
// message without a conversation_id belongs to it. On failure the returned message carries
// the id if it was readable, and reason says what was wrong.
func refDecodeMessage(raw json.RawMessage, convID int64) (model.Message, string, error) {
	m, reason, _, err := refDecodeMessageRepairs(raw, convID)
	return m, reason, err
}

// refDecodeMessageRepairs is refDecodeMessage, also naming the fields whose text had to be repaired
// (invalid UTF-8, or an escaped lone surrogate, each replaced by U+FFFD).
func refDecodeMessageRepairs(raw json.RawMessage, convID int64) (model.Message, string, []string, error) {
	w := refWireMessage{ID: refID{err: errMissing}, ConversationID: refID{err: errMissing}, Date: refTime{err: errMissing}}
	if !looksLikeJSONObject(raw) || json.Unmarshal(raw, &w) != nil {
		return model.Message{}, SkipNotObject, nil, errors.New("not a JSON object")
	}
	id, err := refPositive(w.ID)
	if err != nil {
		return model.Message{}, SkipBadID, nil, fmt.Errorf("id: %w", err)
	}
	m := model.Message{ID: id, ConversationID: convID}
	switch n, err := w.ConversationID.v, w.ConversationID.err; {
	case err == nil && n > 0:
		m.ConversationID = n
	case err == errMissing || (err == nil && n == 0):
		// absent: the walked conversation's
	default:
		return model.Message{ID: id}, SkipBadConversation, nil, errors.New("conversation_id is not an id")
	}
	if w.Date.err != nil {
		return model.Message{ID: id}, SkipBadDate, nil, fmt.Errorf("date: %w", w.Date.err)
	}
	m.Date = model.Time{Time: w.Date.v}
	m.ContentType = model.ContentType(w.ContentType)
	m.SenderType = model.SenderType(w.SenderType)
	m.SenderLabel = string(w.SenderLabel)
	m.Status = model.Status(w.Status)
	m.IsDeleted = bool(w.IsDeleted)
	m.Content = w.Content.s
	var repaired []string
	if w.Content.repaired {
		repaired = append(repaired, "content")
	}
	if len(w.UserID) > 0 {
		u := parseString(json.RawMessage(w.UserID))
		m.UserID = &u
	}
	if len(w.CustomChannel) > 0 {
		m.CustomChannel = json.RawMessage(w.CustomChannel)
	}
	return m, "", repaired, nil
}

// Lenient field types: their UnmarshalJSON never fails, so a field of an unexpected type
// cannot fail its item; the conversion result (or error) is kept for the caller to judge.
type (
	refID struct {
		v   int64
		err error // errMissing when absent or null
	}
	refString string
	refBool   bool
	refTime   struct {
		v   time.Time
		err error
	}
	refRaw     json.RawMessage
	refMessage struct {
		m      model.Message
		reason string // a Skip* reason when err is set
		err    error
		set    bool // present and not null
	}
)

func (x *refID) UnmarshalJSON(b []byte) error     { x.v, x.err = parseInt(b); return nil }
func (x *refString) UnmarshalJSON(b []byte) error { *x = refString(parseString(b)); return nil }
func (x *refText) UnmarshalJSON(b []byte) error   { x.s, x.repaired = parseText(b); return nil }
func (x *refBool) UnmarshalJSON(b []byte) error   { *x = refBool(parseBool(b)); return nil }
func (x *refTime) UnmarshalJSON(b []byte) error   { x.v, x.err = parseTimeJSON(b); return nil }

func (x *refRaw) UnmarshalJSON(b []byte) error {
	if !isNull(b) {
		*x = append(refRaw(nil), b...)
	}
	return nil
}
func (x *refMessage) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	x.set = true
	x.m, x.reason, x.err = refDecodeMessage(b, 0)
	return nil
}

func refPositive(x refID) (int64, error) {
	if x.err != nil {
		return 0, x.err
	}
	if x.v <= 0 {
		return 0, fmt.Errorf("%d is not a positive id", x.v)
	}
	return x.v, nil
}

// refText is a string field whose repairs are told: parseString's value, and whether the
// JSON text held invalid UTF-8 or an escaped lone surrogate that decoding replaced by U+FFFD.
type refText struct {
	s        string
	repaired bool
}

// refParseBusinessID reads a conversation's business: an object with an id (string or number),
// or the id itself. It returns "" when there is none.
func refParseBusinessID(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return ""
	}
	if r[0] == '{' {
		var b struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(r, &b) != nil {
			return ""
		}
		r = b.ID
	}
	return parseString(r)
}

// refWireDetails are the fields of a conversation the conversations table publishes, read
// leniently: a field of an unexpected type, or absent, is nil; it never fails a listing.
type refWireDetails struct {
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

// refDecodeDetails reads a conversation's details from its JSON object (already known to be
// one).
func refDecodeDetails(raw json.RawMessage) model.ConversationDetails {
	var w refWireDetails
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
	d.Status, d.StatusRaw = refConversationStatus(w.Status)
	return d
}

// refConversationStatus reads a conversation's status: Open or Closed (the strings Partoo
// documents) with no raw value; Unknown with the value as sent for anything else (another
// string as it is, an object, number or boolean as its JSON text), never the JSON text as the
// status; nil, nil when absent or null.
func refConversationStatus(r json.RawMessage) (status, raw *string) {
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

// refBusinessID is BusinessID as it was.
type refBusinessID string

func (x *refBusinessID) UnmarshalJSON(b []byte) error {
	*x = refBusinessID(refParseBusinessID(b))
	return nil
}
