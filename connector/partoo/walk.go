package partoo

import (
	"context"
	"fmt"
)

// WalkMessages reads every page of a conversation's messages, in the order Partoo serves them,
// and hands each page to fn. It stops at the first error, including fn's. A walk that
// returns nil saw every page: it is complete. A next_cursor that was already followed
// (ErrCursorLoop) or a walk past Config.MaxPages (ErrTooManyPages) ends it with an error.
func (c *Client) WalkMessages(ctx context.Context, conversationID int64, fn func(*MessagePage) error) error {
	return walkPages(c.newWalker(fmt.Sprintf("messages of conversation %d", conversationID)),
		func(cursor string) (*MessagePage, error) { return c.ListMessages(ctx, conversationID, 0, cursor) },
		func(p *MessagePage) *string { return p.NextCursor }, fn)
}

// Walk is what a walk of one conversation's messages read.
type Walk struct {
	Messages []Message     // every decoded message, in the order Partoo served them
	Skipped  []SkippedItem // the messages that could not be decoded
	Pages    int
}

// Messages reads every page of a conversation's messages. With a nil error every page was read
// (the walk is complete if nothing was skipped); with an error, Walk holds what was read
// before it.
func (c *Client) Messages(ctx context.Context, conversationID int64) (Walk, error) {
	var w Walk
	err := c.WalkMessages(ctx, conversationID, func(p *MessagePage) error {
		w.Pages++
		w.Messages = append(w.Messages, p.Messages...)
		w.Skipped = append(w.Skipped, p.Skipped...)
		return nil
	})
	return w, err
}

// WalkConversations reads every page of GET /conversations (p.Cursor, if set, is where it
// starts) and hands each page to fn, with the same loop and page-limit guards as WalkMessages.
func (c *Client) WalkConversations(ctx context.Context, p ListConversationsParams, fn func(*ConversationPage) error) error {
	w := c.newWalker("conversations")
	w.cursor = p.Cursor
	return walkPages(w,
		func(cursor string) (*ConversationPage, error) {
			p.Cursor = cursor
			return c.ListConversations(ctx, p)
		},
		func(p *ConversationPage) *string { return p.NextCursor }, fn)
}

// walkPages fetches pages from the walker's cursor on, hands each to fn, and follows
// next_cursor with the walker's loop and page-limit guards.
func walkPages[P any](w *walker, fetch func(cursor string) (P, error), next func(P) *string, fn func(P) error) error {
	for {
		page, err := fetch(w.cursor)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if done, err := w.next(next(page)); done || err != nil {
			return err
		}
	}
}

type walker struct {
	what     string
	cursor   string
	seen     map[string]struct{}
	pages    int
	maxPages int
}

func (c *Client) newWalker(what string) *walker {
	return &walker{what: what, seen: map[string]struct{}{}, maxPages: c.cfg.MaxPages}
}

// next records a page and moves to its next_cursor; done is true at the last page.
func (w *walker) next(nextCursor *string) (done bool, err error) {
	w.pages++
	if nextCursor == nil {
		return true, nil
	}
	if _, dup := w.seen[*nextCursor]; dup || *nextCursor == w.cursor {
		return true, fmt.Errorf("partoo: walking %s: %w (after %d pages)", w.what, ErrCursorLoop, w.pages)
	}
	if w.pages >= w.maxPages {
		return true, fmt.Errorf("partoo: walking %s: %w (%d pages)", w.what, ErrTooManyPages, w.maxPages)
	}
	w.seen[*nextCursor] = struct{}{}
	w.cursor = *nextCursor
	return false, nil
}
