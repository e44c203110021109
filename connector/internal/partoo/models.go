package partoo

import (
	"encoding/json"
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

// Conversation is what the connector reads of a conversation listed by GET /conversations:
// its id, its last message (nil when Partoo sends none, or one we could not read), its
// channel and its business. Every other field Partoo sends is ignored, whatever its type.
type Conversation struct {
	ID               int64    `json:"id"`
	LastMessage      *Message `json:"last_message"`
	MessagingPartner Partner  `json:"messaging_partner"`
	// BusinessID is business.id as Partoo sends it, opaque (a hex string such as
	// "5409c35a97bbc544d8e26737", or a number's decimal text); "" when absent.
	BusinessID string `json:"business_id,omitempty"`
}

// ConversationPage is one page of GET /conversations.
type ConversationPage struct {
	Conversations []Conversation `json:"conversations"`
	Count         int            `json:"count"`
	HasCount      bool           `json:"-"` // the page carried a readable count
	NextCursor    *string        `json:"next_cursor"`
	// Skipped lists the conversations that could not be decoded (left out of Conversations),
	// and those whose last_message could not be (kept, with LastMessage nil).
	Skipped []SkippedItem `json:"-"`
}

// MessagePage is one page of GET /messages.
type MessagePage struct {
	Messages   []Message `json:"messages"`
	Count      int       `json:"count"`
	HasCount   bool      `json:"-"` // the page carried a readable count
	NextCursor *string   `json:"next_cursor"`
	// Skipped lists the messages that could not be decoded; they are not in Messages.
	Skipped []SkippedItem `json:"-"`
}

// Time is a Partoo date. It decodes every form ParseTime reads, and encodes in Partoo's form
// with microseconds. A JSON null leaves it zero.
type Time struct{ time.Time }

// PartooTimeLayout is the layout Time encodes with: Partoo's own, with microseconds.
const PartooTimeLayout = "2006-01-02 15:04:05.000000-07:00"

// UnmarshalJSON implements json.Unmarshaler with the formats ParseTime reads, plus epoch
// numbers; null leaves it zero.
func (t *Time) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		t.Time = time.Time{}
		return nil
	}
	p, err := parseTimeJSON(b)
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
