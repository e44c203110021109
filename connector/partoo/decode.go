package partoo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// DecodeMessagePage decodes a GET /messages body. It fails on malformed or truncated JSON and
// on a body without a "messages" array; unknown fields and enum values are accepted.
func DecodeMessagePage(b []byte) (*MessagePage, error) {
	var p MessagePage
	if err := decodeMessagePage(b, &p); err != nil {
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

func decodeMessagePage(b []byte, p *MessagePage) error {
	// Messages as a pointer tells "absent or null" apart from "[]" in one pass.
	var raw struct {
		Messages   *[]Message `json:"messages"`
		Count      int        `json:"count"`
		NextCursor *string    `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Messages == nil {
		return errors.New(`no "messages" array`)
	}
	*p = MessagePage{Messages: *raw.Messages, Count: raw.Count, NextCursor: raw.NextCursor}
	for i := range p.Messages {
		if err := normalizeMessage(&p.Messages[i]); err != nil {
			return fmt.Errorf("messages[%d]: %w", i, err)
		}
	}
	return checkCursor(p.NextCursor)
}

func decodeConversationPage(b []byte, p *ConversationPage) error {
	var raw struct {
		Conversations *[]Conversation `json:"conversations"`
		Count         int             `json:"count"`
		NextCursor    *string         `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Conversations == nil {
		return errors.New(`no "conversations" array`)
	}
	*p = ConversationPage{Conversations: *raw.Conversations, Count: raw.Count, NextCursor: raw.NextCursor}
	for i := range p.Conversations {
		if err := normalizeConversation(&p.Conversations[i]); err != nil {
			return fmt.Errorf("conversations[%d]: %w", i, err)
		}
	}
	return checkCursor(p.NextCursor)
}

func decodeConversation(b []byte, c *Conversation) error {
	if err := json.Unmarshal(b, c); err != nil {
		return err
	}
	return normalizeConversation(c)
}

func normalizeConversation(c *Conversation) error {
	if c.ID == 0 {
		return errors.New("conversation without an id")
	}
	c.CustomChannel = nullToNil(c.CustomChannel)
	if c.LastMessage != nil {
		if err := normalizeMessage(c.LastMessage); err != nil {
			return fmt.Errorf("last_message: %w", err)
		}
	}
	return nil
}

func normalizeMessage(m *Message) error {
	if m.ID == 0 {
		return errors.New("message without an id")
	}
	if m.Date.IsZero() {
		return fmt.Errorf("message %d without a date", m.ID)
	}
	m.CustomChannel = nullToNil(m.CustomChannel)
	return nil
}

func checkCursor(c *string) error {
	if c != nil && *c == "" {
		return errors.New(`next_cursor is an empty string (expected a cursor or null)`)
	}
	return nil
}

func nullToNil(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil
	}
	return r
}
