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
// channel and its business. Every other field Partoo sends is ignored, whatever its type.
type Conversation struct {
	ID               int64    `json:"id"`
	LastMessage      *Message `json:"last_message"`
	MessagingPartner Partner  `json:"messaging_partner"`
	// BusinessID is business.id as Partoo sends it, opaque (a hex string such as
	// "5409c35a97bbc544d8e26737", or a number's decimal text); "" when absent.
	BusinessID string `json:"business_id,omitempty"`
}
