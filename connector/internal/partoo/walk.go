package partoo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// WalkMessages reads every page of a conversation's messages, in the order Partoo serves them,
// and hands each page to fn. It stops at the first error, including fn's. A walk that
// returns nil saw every page. A next_cursor that was already followed (ErrCursorLoop), a page
// that brings no message id new to the walk while pointing at another page (ErrNoProgress),
// or more pages than Config.MaxPages or than the pages' count can fill (ErrTooManyPages) end
// it with an error.
func (c *Client) WalkMessages(ctx context.Context, conversationID int64, fn func(*MessagePage) error) error {
	w := c.newWalker(fmt.Sprintf("messages of conversation %d", conversationID))
	return walkPages(w,
		func(cursor string) (*MessagePage, error) { return c.ListMessages(ctx, conversationID, 0, cursor) },
		func(p *MessagePage) pageInfo {
			info := pageInfo{next: p.NextCursor, count: p.Count, hasCount: p.HasCount, ids: make([]int64, 0, len(p.Messages)+len(p.Skipped))}
			for _, m := range p.Messages {
				info.ids = append(info.ids, m.ID)
			}
			for _, s := range p.Skipped {
				if s.ID != 0 {
					info.ids = append(info.ids, s.ID)
				}
			}
			return info
		}, fn)
}

// Walk is what a walk of one conversation's messages read.
type Walk struct {
	Messages []model.Message // every decoded message, in the order Partoo served them
	Skipped  []SkippedItem   // the messages that could not be decoded
	Pages    int
	// Count is the largest count the pages gave (Partoo's "total number of results"), when
	// HasCount; Distinct is the number of distinct message ids the walk received, decoded or
	// not (plus the skipped items whose id was unreadable).
	Count    int
	HasCount bool
	Distinct int
}

// Short reports whether the walk received fewer distinct messages than Partoo's own count
// says there are: every page was read, yet the walk is not the whole conversation (a glitch
// such as an empty page with "count": 3, or messages added while walking).
func (w Walk) Short() bool { return w.HasCount && w.Distinct < w.Count }

// Messages reads every page of a conversation's messages. With a nil error every page was read
// (the walk is complete if nothing was skipped and it is not Short); with an error, Walk
// holds what was read before it.
func (c *Client) Messages(ctx context.Context, conversationID int64) (Walk, error) {
	var w Walk
	ids := map[int64]struct{}{}
	err := c.WalkMessages(ctx, conversationID, func(p *MessagePage) error {
		w.Pages++
		w.Messages = append(w.Messages, p.Messages...)
		w.Skipped = append(w.Skipped, p.Skipped...)
		for _, m := range p.Messages {
			ids[m.ID] = struct{}{}
		}
		for _, s := range p.Skipped {
			if s.ID == 0 {
				w.Distinct++
			} else {
				ids[s.ID] = struct{}{}
			}
		}
		if p.HasCount {
			w.HasCount, w.Count = true, max(w.Count, p.Count)
		}
		return nil
	})
	w.Distinct += len(ids)
	return w, err
}

// WalkConversations reads every page of GET /conversations (p.Cursor, if set, is where it
// starts) and hands each page to fn, with the same guards as WalkMessages.
func (c *Client) WalkConversations(ctx context.Context, p ListConversationsParams, fn func(*ConversationPage) error) error {
	w := c.newWalker("conversations")
	w.cursor = p.Cursor
	w.resumed = p.Cursor != ""
	return walkPages(w,
		func(cursor string) (*ConversationPage, error) {
			p.Cursor = cursor
			return c.ListConversations(ctx, p)
		},
		func(p *ConversationPage) pageInfo {
			info := pageInfo{next: p.NextCursor, count: p.Count, hasCount: p.HasCount, ids: make([]int64, 0, len(p.Conversations))}
			for _, cv := range p.Conversations {
				info.ids = append(info.ids, cv.ID)
			}
			return info
		}, fn)
}

// pageInfo is what the walker's guards need of a page.
type pageInfo struct {
	next     *string
	count    int
	hasCount bool
	ids      []int64 // ids of the page's items (0s left out)
}

// walkPages fetches pages from the walker's cursor on, hands each to fn, and follows
// next_cursor with the walker's guards.
func walkPages[P any](w *walker, fetch func(cursor string) (P, error), info func(P) pageInfo, fn func(P) error) error {
	for {
		page, err := fetch(w.cursor)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if done, err := w.next(info(page)); done || err != nil {
			return err
		}
	}
}

type walker struct {
	what     string
	cursor   string
	resumed  bool // started from a cursor: the count covers pages not walked
	seen     map[string]struct{}
	ids      map[int64]struct{}
	pages    int
	maxPages int
	perPage  int
	maxCount int
	hasCount bool
}

func (c *Client) newWalker(what string) *walker {
	return &walker{what: what, seen: map[string]struct{}{}, ids: map[int64]struct{}{}, maxPages: c.cfg.MaxPages, perPage: c.cfg.PerPage}
}

// next records a page and moves to its next_cursor; done is true at the last page.
func (w *walker) next(p pageInfo) (done bool, err error) {
	w.pages++
	fresh := 0
	for _, id := range p.ids {
		if _, dup := w.ids[id]; !dup {
			w.ids[id] = struct{}{}
			fresh++
		}
	}
	if p.hasCount {
		w.hasCount, w.maxCount = true, max(w.maxCount, p.count)
	}
	if p.next == nil {
		return true, nil
	}
	if _, dup := w.seen[*p.next]; dup || *p.next == w.cursor {
		return true, fmt.Errorf("partoo: walking %s: %w (after %d pages; page %d points back at cursor %s)", w.what, ErrCursorLoop, w.pages, w.pages, quoteCursor(*p.next))
	}
	if fresh == 0 {
		return true, fmt.Errorf("partoo: walking %s: %w: page %d (cursor %s) brought %d items, none new to this walk, and points at another page (cursor %s)",
			w.what, ErrNoProgress, w.pages, quoteCursor(w.cursor), len(p.ids), quoteCursor(*p.next))
	}
	if w.pages >= w.maxPages {
		return true, fmt.Errorf("partoo: walking %s: %w (%d pages)", w.what, ErrTooManyPages, w.maxPages)
	}
	if limit := w.countLimit(); limit > 0 && w.pages >= limit {
		return true, fmt.Errorf("partoo: walking %s: %w: %d pages read and next_cursor still set, while count %d at %d per page needs %d",
			w.what, ErrTooManyPages, w.pages, w.maxCount, w.perPage, (w.maxCount+w.perPage-1)/w.perPage)
	}
	w.seen[*p.next] = struct{}{}
	w.cursor = *p.next
	return false, nil
}

// countLimit is the most pages a walk may take given the largest count seen: the pages the
// count fills, plus slack for items added while walking (2 pages, and a tenth more). 0: no
// limit from the count (none given, or a walk resumed from a cursor).
func (w *walker) countLimit() int {
	if !w.hasCount || w.resumed || w.perPage <= 0 {
		return 0
	}
	need := (w.maxCount + w.perPage - 1) / w.perPage
	return need + 2 + need/10
}

// quoteCursor shows a cursor in a log line: quoted, and cut when long.
func quoteCursor(c string) string {
	if c == "" {
		return `"" (first page)`
	}
	if len(c) > 40 {
		c = c[:40] + "…"
	}
	return strconv.Quote(c)
}
