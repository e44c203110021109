package partoo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ContentType is a message's content_type. Partoo may add values without notice: any string
// decodes, and Known reports whether it is one documented here.
type ContentType string

// Documented content types.
const (
	ContentText           ContentType = "Text"
	ContentImage          ContentType = "Image"
	ContentVideo          ContentType = "Video"
	ContentAudio          ContentType = "Audio"
	ContentDocument       ContentType = "Document"
	ContentIgStoryReply   ContentType = "IgStoryReply"
	ContentIgStoryMention ContentType = "IgStoryMention"
	ContentUnsupported    ContentType = "Unsupported"
)

// Known reports whether c is a documented content type.
func (c ContentType) Known() bool {
	switch c {
	case ContentText, ContentImage, ContentVideo, ContentAudio, ContentDocument,
		ContentIgStoryReply, ContentIgStoryMention, ContentUnsupported:
		return true
	}
	return false
}

// SenderType is a message's sender_type. Partoo advises ignoring messages whose sender_type
// is unknown; Known tells them apart.
type SenderType string

// Documented sender types.
const (
	SenderUser     SenderType = "User"
	SenderConsumer SenderType = "Consumer"
	SenderMetadata SenderType = "Metadata"
)

// Known reports whether s is a documented sender type.
func (s SenderType) Known() bool {
	return s == SenderUser || s == SenderConsumer || s == SenderMetadata
}

// Status is a message's delivery status: Sending, then Success or Failed; a Failed message can
// be retried (Failed → Sending → Success).
type Status string

// Documented statuses.
const (
	StatusSending Status = "Sending"
	StatusSuccess Status = "Success"
	StatusFailed  Status = "Failed"
)

// Known reports whether s is a documented status.
func (s Status) Known() bool { return s == StatusSending || s == StatusSuccess || s == StatusFailed }

// Terminal reports whether no further change is expected without a retry (Success or Failed).
func (s Status) Terminal() bool { return s == StatusSuccess || s == StatusFailed }

// Partner is a conversation's messaging_partner (channel). New values may appear.
type Partner string

// Documented messaging partners.
const (
	PartnerGoogle    Partner = "Google"
	PartnerFacebook  Partner = "Facebook"
	PartnerInstagram Partner = "Instagram"
	PartnerSMS       Partner = "SMS"
	PartnerWhatsapp  Partner = "Whatsapp"
)

// Known reports whether p is a documented messaging partner.
func (p Partner) Known() bool {
	switch p {
	case PartnerGoogle, PartnerFacebook, PartnerInstagram, PartnerSMS, PartnerWhatsapp:
		return true
	}
	return false
}

// Message is one message of a conversation, as GET /messages returns it.
type Message struct {
	ID             int64           `json:"id"`
	ConversationID int64           `json:"conversation_id"`
	Date           Time            `json:"date"`
	ContentType    ContentType     `json:"content_type"`
	SenderType     SenderType      `json:"sender_type"`
	SenderLabel    string          `json:"sender_label"`
	Status         Status          `json:"status"`
	IsDeleted      bool            `json:"is_deleted"`
	Content        string          `json:"content"`
	UserID         *string         `json:"user_id"`
	CustomChannel  json.RawMessage `json:"custom_channel"`
}

// Business is the business a conversation belongs to.
type Business struct {
	ID               int64   `json:"id"`
	Name             string  `json:"name"`
	City             *string `json:"city"`
	Zipcode          *string `json:"zipcode"`
	Country          *string `json:"country"`
	FormattedAddress *string `json:"formatted_address"`
}

// Conversation is one conversation, as GET /conversations returns it.
type Conversation struct {
	ID                  int64           `json:"id"`
	ConsumerImg         *string         `json:"consumer_img"`
	ConsumerName        *string         `json:"consumer_name"`
	ConsumerPhoneNumber *string         `json:"consumer_phone_number"`
	LastMessage         *Message        `json:"last_message"`
	IsRead              bool            `json:"is_read"`
	Status              string          `json:"status"`
	CreatedAt           *Time           `json:"created_at"`
	HasOneUserMessage   bool            `json:"has_one_user_message"`
	Business            *Business       `json:"business"`
	MessagingPartner    Partner         `json:"messaging_partner"`
	Issues              []string        `json:"issues"`
	FirstMessageDate    *Time           `json:"first_message_date"`
	IsExpired           bool            `json:"is_expired"`
	IsSolved            bool            `json:"is_solved"`
	AssignedUserID      *string         `json:"assigned_user_id"`
	CustomChannel       json.RawMessage `json:"custom_channel"`
}

// ConversationPage is one page of GET /conversations.
type ConversationPage struct {
	Conversations []Conversation `json:"conversations"`
	Count         int            `json:"count"`
	NextCursor    *string        `json:"next_cursor"`
}

// MessagePage is one page of GET /messages.
type MessagePage struct {
	Messages   []Message `json:"messages"`
	Count      int       `json:"count"`
	NextCursor *string   `json:"next_cursor"`
}

// Time is a Partoo date. It decodes "2023-01-31 16:22:17.327878+00:00" (Partoo's form) and RFC
// 3339 ("2023-01-31T16:22:17.327878Z"), and encodes in Partoo's form with microseconds. A JSON
// null leaves it zero.
type Time struct{ time.Time }

// Partoo's layout: a space instead of 'T', fractional seconds, numeric offset.
const partooLayout = "2006-01-02 15:04:05.999999999-07:00"

// PartooTimeLayout is the layout Time encodes with.
const PartooTimeLayout = "2006-01-02 15:04:05.000000-07:00"

// ParseTime parses a date in Partoo's form or RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(partooLayout, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("partoo: date %q is neither \"2006-01-02 15:04:05.999999+00:00\" nor RFC 3339", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("partoo: date must be a string, got %s", truncate(b, 40))
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(PartooTimeLayout))
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
