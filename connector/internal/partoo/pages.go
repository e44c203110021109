package partoo

import "github.com/partoo-connector/partoo-connector/connector/internal/model"

// ConversationPage is one page of GET /conversations.
type ConversationPage struct {
	Conversations []model.Conversation `json:"conversations"`
	Count         int                  `json:"count"`
	HasCount      bool                 `json:"-"` // the page carried a readable count
	NextCursor    *string              `json:"next_cursor"`
	// Skipped lists the conversations that could not be decoded (left out of Conversations),
	// and those whose last_message could not be (kept, with LastMessage nil).
	Skipped []SkippedItem `json:"-"`
}

// MessagePage is one page of GET /messages.
type MessagePage struct {
	Messages   []model.Message `json:"messages"`
	Count      int             `json:"count"`
	HasCount   bool            `json:"-"` // the page carried a readable count
	NextCursor *string         `json:"next_cursor"`
	// Skipped lists the messages that could not be decoded; they are not in Messages.
	Skipped []SkippedItem `json:"-"`
	// Repaired lists the messages of Messages with a field repaired to be published.
	Repaired []RepairedItem `json:"-"`
}

// truncate cuts b to n bytes for an error message.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
