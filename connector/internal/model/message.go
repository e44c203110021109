package model

import "encoding/json"

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
// channel and its business, and the fields of the conversations table (Details). Every other
// field Partoo sends is ignored, whatever its type.
type Conversation struct {
	ID               int64    `json:"id"`
	LastMessage      *Message `json:"last_message"`
	MessagingPartner Partner  `json:"messaging_partner"`
	// BusinessID is business.id as Partoo sends it, opaque (a hex string such as
	// "5409c35a97bbc544d8e26737", or a number's decimal text); "" when absent.
	BusinessID string              `json:"business_id,omitempty"`
	Details    ConversationDetails `json:"details"`
}

// ConversationDetails are the fields of a conversation the conversations table publishes
// besides its id, channel and business id. Each is nil when Partoo did not send it (or sent
// a value of another type: decoded leniently, never failing the listing).
type ConversationDetails struct {
	BusinessName    *string `json:"business_name,omitempty"`
	BusinessCity    *string `json:"business_city,omitempty"`
	BusinessZipcode *string `json:"business_zipcode,omitempty"`
	BusinessCountry *string `json:"business_country,omitempty"`
	// Status is Open or Closed, as Partoo documents it; Unknown for any other value, which
	// StatusRaw then holds (a string as sent, any other JSON as its text); StatusRaw is nil
	// otherwise.
	Status           *string `json:"status,omitempty"`
	StatusRaw        *string `json:"status_raw,omitempty"`
	IsSolved         *bool   `json:"is_solved,omitempty"`
	IsExpired        *bool   `json:"is_expired,omitempty"`
	AssignedUserID   *string `json:"assigned_user_id,omitempty"`
	CreatedAt        *Time   `json:"created_at,omitempty"`
	FirstMessageDate *Time   `json:"first_message_date,omitempty"`
	// Personal data: published only when the user asks for it.
	ConsumerName        *string `json:"consumer_name,omitempty"`
	ConsumerPhoneNumber *string `json:"consumer_phone_number,omitempty"`
}

// Context is what every event of a conversation carries about it: the organisation the
// connector reads for (0: not configured), the business and the channel. Known is false
// until a listing or GET /conversations/{id} has said them.
type Context struct {
	OrganizationID int64
	// Organization is the organisation's name when the connector runs several
	// (PARTOO_ORGANIZATIONS_FILE); "" for one.
	Organization string
	BusinessID   string
	Partner      Partner
	Known        bool
}

// ContextOf is the context a conversation's listing gives, for organisation org.
func ContextOf(c Conversation, org int64) Context {
	return Context{OrganizationID: org, BusinessID: c.BusinessID, Partner: c.MessagingPartner, Known: true}
}
