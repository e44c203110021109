package partoo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Decoding follows one rule: read only the fields the connector uses, and accept every JSON
// shape of them that has an unambiguous meaning. Partoo documents little beyond the message
// object and adds values without notice, so:
//
//   - ids the connector computes with (conversation and message ids) accept a JSON number
//     (1234, 1234.0) or a numeric string ("1234"); anything else makes the item undecodable;
//   - business ids are opaque: a string is kept verbatim, a number as its decimal text;
//   - strings accept null (empty), numbers and booleans (their JSON text), and objects or
//     arrays (their compact JSON text); booleans accept true/false, "true"/"false", 0/1 and
//     null (false);
//   - dates accept Partoo's "2023-01-31 16:22:17.327878+00:00", RFC 3339, the same without a
//     zone (read as UTC) or with a "+0000"/"+00" offset, and epoch numbers (seconds,
//     milliseconds or microseconds, told apart by magnitude);
//   - every other field, known or not, is ignored whatever its type.
//
// An item (a message, or a listed conversation) that is not an object or lacks a usable id
// or date is left out of its page and reported in the page's Skipped list; the page's other
// items decode normally. Only a body that is not a JSON object, or whose item array is
// missing or not an array, fails the whole page.

// Skip reasons: the label values of SkippedItem.Reason.
const (
	SkipNotObject       = "not_object"       // the item is not a JSON object
	SkipBadID           = "bad_id"           // no id, or one that is not an integer
	SkipBadDate         = "bad_date"         // no date, or one in no format we read
	SkipBadLastMessage  = "bad_last_message" // a listed conversation's last_message is unreadable (the conversation is kept)
	SkipBadConversation = "bad_conversation" // a message's conversation_id is not an integer
)

// Repair reasons: the label values of RepairedItem.Reason.
const (
	// RepairInvalidUTF8: a text field held bytes that are not UTF-8 (or an escaped lone
	// surrogate); each was replaced by U+FFFD, as Avro strings must be valid UTF-8.
	RepairInvalidUTF8 = "invalid_utf8"
)

// RepairedItem is an item of a page that was kept, with one field repaired: what is published
// differs from what Partoo sent, so it is named (logged once, counted).
type RepairedItem struct {
	Endpoint       string // EndpointMessages
	ConversationID int64
	ID             int64  // the message's id
	Field          string // "content"
	Reason         string // one of the Repair* constants
}

// SkippedItem is an item of a page that could not be decoded and was left out.
type SkippedItem struct {
	Endpoint string // EndpointMessages or EndpointConversations
	Index    int    // position in the page's array
	ID       int64  // the item's id when it was readable, else 0
	Reason   string // one of the Skip* constants
	Err      error  // what exactly was wrong
}

func (s SkippedItem) Error() string {
	id := "unreadable id"
	if s.ID != 0 {
		id = "id " + strconv.FormatInt(s.ID, 10)
	}
	return fmt.Sprintf("%s item %d (%s) skipped: %s: %v", s.Endpoint, s.Index, id, s.Reason, s.Err)
}

// DecodeMessagePage decodes a GET /messages body. Undecodable messages are left out and
// listed in Skipped; the error is reserved for a body that is not a page at all.
func DecodeMessagePage(b []byte) (*MessagePage, error) {
	var p MessagePage
	if err := decodeMessagePage(b, 0, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DecodeConversationPage decodes a GET /conversations body, like DecodeMessagePage.
func DecodeConversationPage(b []byte) (*ConversationPage, error) {
	var p ConversationPage
	if err := decodeConversationPage(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// envelopeFields are a page's fields: its item array (messages or conversations), count and
// next_cursor.
var envelopeFields = fieldSet{folded: []string{"MESSAGES", "CONVERSATIONS", "COUNT", "NEXT_CURSOR"}}

const (
	efMessages = iota
	efConversations
	efCount
	efNextCursor
	efFields
)

// decodeEnvelope reads a page: its items (each left raw, a subslice of b, decoded on its own
// so that one bad item cannot fail the page), count and next_cursor.
func decodeEnvelope(b []byte, key string) (items [][]byte, count int, hasCount bool, next *string, err error) {
	if !looksLikeJSONObject(b) {
		return nil, 0, false, nil, errors.New("the body is not a JSON object")
	}
	if !json.Valid(b) {
		var v struct{}
		return nil, 0, false, nil, json.Unmarshal(b, &v) // the syntax error, where it is
	}
	var f [efFields][]byte
	for m := newMembers(b); ; {
		k, v, ok := m.next()
		if !ok {
			break
		}
		i := envelopeFields.index(k)
		if (i == efMessages || i == efConversations) && v[0] != '[' && !isNullValue(v) {
			// Either array of another type failed the page, whichever page it was.
			return nil, 0, false, nil, fmt.Errorf("%q is not an array", key)
		}
		if i >= 0 {
			f[i] = v
		}
	}
	list := f[efMessages]
	if key == "conversations" {
		list = f[efConversations]
	}
	if len(list) == 0 || isNullValue(list) {
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
	for e := newElements(list); ; {
		v, ok := e.next()
		if !ok {
			break
		}
		items = append(items, v)
	}
	if n, err := parseInt(f[efCount]); err == nil && n >= 0 {
		count, hasCount = int(n), true
	}
	next, err = parseCursor(f[efNextCursor])
	return items, count, hasCount, next, err
}

// errorHint quotes an "error" key of a body that is not a page, if it has one.
func errorHint(obj map[string]json.RawMessage) string {
	if e, ok := obj["error"]; ok && len(e) > 0 {
		return " (the body says error: " + truncate(e, 120) + ")"
	}
	return ""
}

func decodeMessagePage(b []byte, convID int64, p *MessagePage) error {
	items, count, hasCount, next, err := decodeEnvelope(b, "messages")
	if err != nil {
		return err
	}
	*p = MessagePage{Messages: make([]model.Message, 0, len(items)), Count: count, HasCount: hasCount, NextCursor: next}
	for i, raw := range items {
		m, reason, repaired, err := decodeMessageRepairs(raw, convID)
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

func decodeConversationPage(b []byte, p *ConversationPage) error {
	items, count, hasCount, next, err := decodeEnvelope(b, "conversations")
	if err != nil {
		return err
	}
	*p = ConversationPage{Conversations: make([]model.Conversation, 0, len(items)), Count: count, HasCount: hasCount, NextCursor: next}
	for i, raw := range items {
		c, skip := decodeConversation(raw)
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

// conversationFields are the fields of a listed conversation the connector reads.
var conversationFields = fieldSet{folded: []string{"ID", "LAST_MESSAGE", "MESSAGING_PARTNER", "BUSINESS", "STATUS",
	"IS_SOLVED", "IS_EXPIRED", "ASSIGNED_USER_ID", "CREATED_AT", "FIRST_MESSAGE_DATE", "CONSUMER_NAME", "CONSUMER_PHONE_NUMBER"},
	keepNull: 1 << cfLastMessage}

const (
	cfID = iota
	cfLastMessage
	cfMessagingPartner
	cfBusiness
	cfStatus
	cfIsSolved
	cfIsExpired
	cfAssignedUserID
	cfCreatedAt
	cfFirstMessageDate
	cfConsumerName
	cfConsumerPhone
	cfFields
)

// decodeConversation returns the conversation and, when something was wrong, a skip: with
// SkipBadLastMessage the conversation is usable without its last message; with any other
// reason it is not. raw is valid JSON (see decodeConversationBody for a body).
func decodeConversation(raw []byte) (model.Conversation, *SkippedItem) {
	if !looksLikeJSONObject(raw) {
		return model.Conversation{}, &SkippedItem{Reason: SkipNotObject, Err: errors.New("not a JSON object")}
	}
	var f [cfFields][]byte
	conversationFields.read(raw, f[:])
	id, err := parseID(f[cfID])
	if err != nil {
		return model.Conversation{}, &SkippedItem{Reason: SkipBadID, Err: fmt.Errorf("id: %w", err)}
	}
	var b [bfFields][]byte
	if len(f[cfBusiness]) > 0 && f[cfBusiness][0] == '{' {
		businessFields.read(f[cfBusiness], b[:])
	}
	c := model.Conversation{ID: id, MessagingPartner: model.Partner(parseString(f[cfMessagingPartner])),
		BusinessID: businessID(f[cfBusiness], b[bfID]), Details: decodeDetails(&f, &b)}
	if lm := f[cfLastMessage]; lm != nil {
		m, reason, _, err := decodeMessageRepairs(lm, 0)
		if err != nil {
			return c, &SkippedItem{ID: id, Reason: SkipBadLastMessage, Err: fmt.Errorf("last_message: %s: %w", reason, err)}
		}
		if m.ConversationID == 0 {
			m.ConversationID = id
		}
		c.LastMessage = &m
	}
	return c, nil
}

// decodeConversationBody is decodeConversation for a whole body, which may not be JSON.
func decodeConversationBody(b []byte) (model.Conversation, *SkippedItem) {
	if !json.Valid(b) {
		return model.Conversation{}, &SkippedItem{Reason: SkipNotObject, Err: errors.New("not a JSON object")}
	}
	return decodeConversation(b)
}

// messageFields are the fields of a message, as Partoo sends it.
var messageFields = fieldSet{folded: []string{"ID", "CONVERSATION_ID", "DATE", "CONTENT_TYPE", "SENDER_TYPE",
	"SENDER_LABEL", "STATUS", "IS_DELETED", "CONTENT", "USER_ID", "CUSTOM_CHANNEL"},
	keepNull: 1<<mfUserID | 1<<mfCustomChannel}

const (
	mfID = iota
	mfConversationID
	mfDate
	mfContentType
	mfSenderType
	mfSenderLabel
	mfStatus
	mfIsDeleted
	mfContent
	mfUserID
	mfCustomChannel
	mfFields
)

// decodeMessage decodes one message. convID, when not 0, is the conversation being walked: a
// message without a conversation_id belongs to it. On failure the returned message carries
// the id if it was readable, and reason says what was wrong.
func decodeMessage(raw []byte, convID int64) (model.Message, string, error) {
	m, reason, _, err := decodeMessageRepairs(raw, convID)
	return m, reason, err
}

// decodeMessageRepairs is decodeMessage, also naming the fields whose text had to be repaired
// (invalid UTF-8, or an escaped lone surrogate, each replaced by U+FFFD). raw is valid JSON.
func decodeMessageRepairs(raw []byte, convID int64) (model.Message, string, []string, error) {
	if !looksLikeJSONObject(raw) {
		return model.Message{}, SkipNotObject, nil, errors.New("not a JSON object")
	}
	var f [mfFields][]byte
	messageFields.read(raw, f[:])
	id, err := parseID(f[mfID])
	if err != nil {
		return model.Message{}, SkipBadID, nil, fmt.Errorf("id: %w", err)
	}
	m := model.Message{ID: id, ConversationID: convID}
	switch n, err := parseInt(f[mfConversationID]); {
	case err == nil && n > 0:
		m.ConversationID = n
	case err == errMissing || (err == nil && n == 0):
		// absent: the walked conversation's
	default:
		return model.Message{ID: id}, SkipBadConversation, nil, errors.New("conversation_id is not an id")
	}
	date, err := parseTimeJSON(f[mfDate])
	if err != nil {
		return model.Message{ID: id}, SkipBadDate, nil, fmt.Errorf("date: %w", err)
	}
	m.Date = model.Time{Time: date}
	m.ContentType = model.ContentType(parseString(f[mfContentType]))
	m.SenderType = model.SenderType(parseString(f[mfSenderType]))
	m.SenderLabel = parseString(f[mfSenderLabel])
	m.Status = model.Status(parseString(f[mfStatus]))
	m.IsDeleted = parseBool(f[mfIsDeleted])
	var repaired []string
	var fixed bool
	if m.Content, fixed = parseText(f[mfContent]); fixed {
		repaired = append(repaired, "content")
	}
	if len(f[mfUserID]) > 0 {
		u := parseString(f[mfUserID])
		m.UserID = &u
	}
	if len(f[mfCustomChannel]) > 0 {
		m.CustomChannel = append(json.RawMessage(nil), f[mfCustomChannel]...)
	}
	return m, "", repaired, nil
}

// EarliestDate is the earliest message date the connector believes: Partoo's messaging did
// not exist before; an earlier date is a wrong unit or a placeholder.
var EarliestDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// LatestDateAhead is how far in the future a message date may be (clock skew) before it is
// taken for a wrong unit.
const LatestDateAhead = 24 * time.Hour

// implausibleDates moves the messages whose date is before EarliestDate or more than
// LatestDateAhead after now from p.Messages to p.Skipped (SkipBadDate): strict Avro readers
// refuse such timestamps, and they are not true.
func implausibleDates(p *MessagePage, now time.Time) {
	latest := now.Add(LatestDateAhead)
	kept := p.Messages[:0]
	for i, m := range p.Messages {
		if d := m.Date.Time; d.Before(EarliestDate) || d.After(latest) {
			p.Skipped = append(p.Skipped, SkippedItem{Endpoint: EndpointMessages, Index: i, ID: m.ID, Reason: SkipBadDate,
				Err: fmt.Errorf("date %s is outside %s .. now + %s", d.Format(time.RFC3339), EarliestDate.Format("2006-01-02"), LatestDateAhead)})
			continue
		}
		kept = append(kept, m)
	}
	p.Messages = kept
}
