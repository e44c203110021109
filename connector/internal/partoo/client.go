package partoo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// Endpoint labels, used in errors and by hooks.
const (
	EndpointConversations = "/conversations"
	EndpointConversation  = "/conversations/{id}"
	EndpointMessages      = "/messages"
)

// Client reads Partoo's API. It is safe for concurrent use.
//
// Its requests wait at the budget with the client's ticket: none for a Client from New (each
// request then waits on its own at budget.PriorityNormal); WithTicket and WithPriority return
// a Client whose requests all wait with one ticket, sharing everything else.
type Client struct {
	*conn
	ticket *budget.Ticket // the place at the budget of every request of this Client; nil: each its own
}

// conn is what every Client derived from one New shares.
type conn struct {
	cfg    Config
	base   *url.URL
	server *ServerClock // Partoo's clock, learnt from every answer's Date header
}

// BaseURL is the API's base URL the client sends requests to (it holds no credentials).
func (c *Client) BaseURL() string { return c.base.String() }

// APIKey returns the key the client sends (a Secret: it never prints).
func (c *Client) APIKey() secret.Secret { return c.cfg.APIKey }

// Budget returns the budget the client spends.
func (c *Client) Budget() *budget.Budget { return c.cfg.Budget }

// WithTicket returns a Client whose requests wait at the budget with t: the place of one unit
// of work (a walk), whose priority the caller may raise while the requests wait, and which
// records whether one of them has started. It shares everything else with c. A nil t gives
// each request a place of its own at budget.PriorityNormal, as a Client from New does.
func (c *Client) WithTicket(t *budget.Ticket) *Client { return &Client{conn: c.conn, ticket: t} }

// WithPriority returns a Client whose requests wait at the budget with priority p, all with
// one new ticket (WithTicket).
func (c *Client) WithPriority(p budget.Priority) *Client {
	return c.WithTicket(budget.NewTicket(p))
}

// ListConversationsParams are the query of GET /conversations.
type ListConversationsParams struct {
	PerPage int // 0: the client's PerPage
	Cursor  string
	// BusinessIDs filter the listing (business__in); sent verbatim, comma-separated.
	BusinessIDs []string
	// MaxAttempts, when positive and below the client's RequestAttempts, bounds this call's
	// attempts: a periodic listing is better retried at its next period than now.
	MaxAttempts int
}

// ListConversations fetches one page of GET /conversations.
func (c *Client) ListConversations(ctx context.Context, p ListConversationsParams) (*ConversationPage, error) {
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(c.perPage(p.PerPage)))
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if len(p.BusinessIDs) > 0 {
		q.Set("business__in", strings.Join(p.BusinessIDs, ","))
	}
	var page ConversationPage
	if err := c.get(ctx, EndpointConversations, "/conversations", q, p.MaxAttempts, func(b []byte) ([]SkippedItem, error) {
		err := decodeConversationPage(b, &page)
		return page.Skipped, err
	}); err != nil {
		return nil, err
	}
	c.record(page.Conversations)
	return &page, nil
}

// GetConversation fetches one conversation. A conversation that is gone (404) gives an
// error matching ErrNotFound.
func (c *Client) GetConversation(ctx context.Context, id int64) (*model.Conversation, error) {
	var conv model.Conversation
	if err := c.get(ctx, EndpointConversation, "/conversations/"+strconv.FormatInt(id, 10), nil, 0, func(b []byte) ([]SkippedItem, error) {
		if !looksLikeJSONObject(b) {
			return nil, errors.New("the body is not a JSON object")
		}
		var skip *SkippedItem
		conv, skip = decodeConversationBody(b)
		switch {
		case skip == nil:
			return nil, nil
		case skip.Reason == SkipBadLastMessage:
			skip.Endpoint = EndpointConversation
			return []SkippedItem{*skip}, nil
		}
		return nil, skip.Err
	}); err != nil {
		return nil, err
	}
	c.record([]model.Conversation{conv})
	return &conv, nil
}

// ListMessages fetches one page of GET /messages for a conversation.
func (c *Client) ListMessages(ctx context.Context, conversationID int64, perPage int, cursor string) (*MessagePage, error) {
	q := url.Values{}
	q.Set("conversation_id", strconv.FormatInt(conversationID, 10))
	q.Set("per_page", strconv.Itoa(c.perPage(perPage)))
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page MessagePage
	if err := c.get(ctx, EndpointMessages, "/messages", q, 0, func(b []byte) ([]SkippedItem, error) {
		err := decodeMessagePage(b, conversationID, &page)
		if err == nil {
			implausibleDates(&page, c.server.Now())
		}
		return page.Skipped, err
	}); err != nil {
		return nil, err
	}
	for _, r := range page.Repaired {
		hooks(c.cfg.Hooks).repaired(r)
	}
	return &page, nil
}

func (c *Client) perPage(n int) int {
	if n <= 0 {
		return c.cfg.PerPage
	}
	return n
}

// get sends GET base+path?query through the budget and the retry policy, and hands a 2xx
// body to decode, which returns the items it had to skip. maxAttempts, when positive, lowers
// the client's RequestAttempts for this call.
func (c *Client) get(ctx context.Context, endpoint, path string, query url.Values, maxAttempts int, decode func([]byte) ([]SkippedItem, error)) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	logPath := u.Path
	if u.RawQuery != "" {
		logPath += "?" + u.RawQuery
	}
	attempts := c.cfg.RequestAttempts
	if maxAttempts > 0 && maxAttempts < attempts {
		attempts = maxAttempts
	}
	clk := c.cfg.Clock
	deadline := clk.Now().Add(c.cfg.MaxRetryTime)
	var lastErr error
	for attempt := 1; ; attempt++ {
		waitStart := clk.Now()
		if err := c.cfg.Budget.Wait(ctx, c.ticket); err != nil {
			return c.stop(err, lastErr)
		}
		granted := clk.Now()
		hooks(c.cfg.Hooks).budgetWaited(granted.Sub(waitStart))

		info, skipped := c.attempt(ctx, endpoint, u.String(), decode)
		c.cfg.Budget.Answered(granted, clk.Now().Sub(granted))
		info.Path, info.Number = logPath, attempt
		err := info.Err
		retry := err != nil && ctx.Err() == nil && IsRetryable(err) && attempt < attempts
		var sleep time.Duration
		if retry {
			sleep = c.backoff(attempt)
			var ae *APIError
			if errors.As(err, &ae) && ae.RetryAfter > 0 {
				// The budget is paused for everyone; a little jitter spreads the waiters.
				sleep = ae.RetryAfter + time.Duration(rand.Float64()*float64(c.cfg.BackoffBase))
			}
			retry = !clk.Now().Add(sleep).After(deadline)
		}
		info.Retrying = retry
		hooks(c.cfg.Hooks).attempt(info)
		c.logAttempt(ctx, info)
		if err == nil {
			for _, s := range skipped {
				hooks(c.cfg.Hooks).skipped(s)
			}
			return nil
		}
		switch {
		case ctx.Err() != nil:
			return c.stop(ctx.Err(), err)
		case !IsRetryable(err):
			return err
		case attempt >= attempts:
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		case !retry:
			return fmt.Errorf("%w (gave up: retrying would exceed %s)", err, c.cfg.MaxRetryTime)
		}
		lastErr = err
		if err := clock.Sleep(ctx, clk, sleep); err != nil {
			return c.stop(err, lastErr)
		}
	}
}

func (c *Client) logAttempt(ctx context.Context, a Attempt) {
	if !c.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []any{"method", http.MethodGet, "path", a.Path, "status", a.Status,
		"duration", a.Duration.Round(time.Microsecond), "bytes", a.Bytes, "attempt", a.Number}
	if a.Err != nil {
		attrs = append(attrs, "error_kind", ErrorKind(a.Err), "err", a.Err.Error(), "retrying", a.Retrying)
	}
	c.cfg.Logger.DebugContext(ctx, "partoo request", attrs...)
}

func (c *Client) stop(ctxErr, last error) error {
	if last != nil {
		return fmt.Errorf("%w (last error: %v)", ctxErr, last)
	}
	return ctxErr
}

// backoff returns a full-jitter exponential delay for the given attempt (1-based).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 20)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	return time.Duration(rand.Float64() * float64(d))
}

// attempt sends one request and decodes its answer. The returned Attempt has Endpoint,
// Status, Duration, Bytes and Err set.
func (c *Client) attempt(ctx context.Context, endpoint, rawURL string, decode func([]byte) ([]SkippedItem, error)) (Attempt, []SkippedItem) {
	info := Attempt{Endpoint: endpoint}
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		info.Err = err
		return info, nil
	}
	req.Header.Set("x-APIKey", c.cfg.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	start := c.cfg.Clock.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		info.Duration = c.cfg.Clock.Now().Sub(start)
		if ctx.Err() == nil && actx.Err() != nil {
			err = fmt.Errorf("no answer within %s: %w", c.cfg.RequestTimeout, context.DeadlineExceeded)
		}
		info.Err = fmt.Errorf("partoo: GET %s: %w", endpoint, scrubURLError(err))
		return info, nil
	}
	defer resp.Body.Close()
	body, readErr := readBody(resp, c.cfg.MaxBodyBytes+1)
	info.Status, info.Bytes = resp.StatusCode, len(body)
	info.Duration = c.cfg.Clock.Now().Sub(start)
	c.cfg.Budget.ObserveLatency(info.Duration)
	c.server.Observe(start, start.Add(info.Duration), resp.Header.Get("Date"))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Method: http.MethodGet, Endpoint: endpoint, Status: resp.StatusCode, Body: c.snippet(body)}
		if resp.StatusCode == http.StatusTooManyRequests {
			raw := resp.Header.Get("Retry-After")
			ae.RetryAfter = parseRetryAfter(raw, c.server.Earliest()) // an epoch or a date is Partoo's clock: never too short a wait
			switch {
			case ae.RetryAfter > UnbelievableRetryAfter:
				// A per-minute limit does not ask for hours: a garbled header (or a proxy's).
				// Obeying it, even capped, would stop every request; our own backoff applies.
				c.cfg.Logger.Warn("Partoo's Retry-After is not believed (a per-minute limit does not ask for that); the usual backoff applies",
					"endpoint", endpoint, "retry_after", raw, "asked_seconds", int64(ae.RetryAfter.Seconds()))
				ae.RetryAfter = 0
			case ae.RetryAfter > MaxRetryAfter:
				c.cfg.Logger.Warn("Partoo's Retry-After asks for a longer pause than the connector takes; capped",
					"endpoint", endpoint, "retry_after", raw, "asked_seconds", int64(ae.RetryAfter.Seconds()), "capped_seconds", int64(MaxRetryAfter.Seconds()))
				ae.RetryAfter = MaxRetryAfter
			}
			if ae.RetryAfter <= 0 {
				ae.RetryAfter = c.backoff(1) + c.cfg.BackoffBase
			}
			c.cfg.Budget.RateLimited(c.cfg.Clock.Now().Add(ae.RetryAfter))
			hooks(c.cfg.Hooks).rateLimited(ae.RetryAfter)
		}
		info.Err = ae
		return info, nil
	}
	de := &DecodeError{Endpoint: endpoint, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	switch {
	case readErr != nil:
		if ctx.Err() == nil && actx.Err() != nil {
			readErr = fmt.Errorf("no complete answer within %s: %w", c.cfg.RequestTimeout, context.DeadlineExceeded)
			info.Err = fmt.Errorf("partoo: GET %s: reading the body: %w", endpoint, readErr)
			return info, nil
		}
		de.Reason, de.Err = "reading the body failed (truncated?)", readErr
	case int64(len(body)) > c.cfg.MaxBodyBytes:
		de.Reason, de.Snippet = fmt.Sprintf("body larger than %d bytes", c.cfg.MaxBodyBytes), ""
	case !looksLikeJSON(body):
		de.NonJSON, de.Reason = true, "the body is not JSON"
	default:
		skipped, err := decode(body)
		if err == nil {
			return info, skipped
		}
		de.Reason, de.Err = "unusable JSON body", err
	}
	info.Err = c.withSnippet(de, body)
	return info, nil
}

// looksLikeJSON reports whether a body starts like a JSON object or array.
func looksLikeJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// scrubURLError drops the URL from a *url.Error: the message stays short, and nothing the
// caller passed in a query string is repeated.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// MaxRetryAfter caps the pause a 429's Retry-After imposes on every request: Partoo documents
// seconds (e.g. 60) for a per-minute limit. UnbelievableRetryAfter is where a header stops being
// believed at all (a garbled value, an epoch misread): the client's own backoff applies then,
// so one bad header cannot stop every request for minutes.
const (
	MaxRetryAfter          = 2 * time.Minute
	UnbelievableRetryAfter = time.Hour
)

// parseRetryAfter reads a Retry-After value in seconds, as an HTTP date, or — what some
// servers send — as an epoch timestamp (seconds or milliseconds: a number too large to be a
// delay); it returns the delay from now, which may exceed MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case s < 0 || math.IsNaN(s):
			return 0
		case s >= 1e9: // an epoch timestamp, not a delay (1e9 s is 31 years)
			t, err := model.ParseEpoch(v)
			if err != nil {
				return 0
			}
			return max(t.Sub(now), 0)
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// snippet is the start of a body for errors and logs, with the API key blanked out should
// the server echo it.
func (c *Client) snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b[:min(len(b), 4*max)]))
	if k := c.cfg.APIKey.Reveal(); len(k) >= 4 {
		s = strings.ReplaceAll(s, k, secret.Redacted)
	}
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// record hands conversations Partoo described to Config.Conversations.
func (c *Client) record(cs []model.Conversation) {
	if c.cfg.Conversations != nil && len(cs) > 0 {
		c.cfg.Conversations.Record(cs)
	}
}

// readBody reads at most limit bytes of resp's body, in one buffer sized by its Content-Length
// when the server sent one (io.ReadAll grows its buffer by copying: a listing of 100
// conversations was read in about ten allocations).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, limit)
	if n := resp.ContentLength; n > 0 && n < limit {
		var b bytes.Buffer
		b.Grow(int(n) + bytes.MinRead)
		_, err := b.ReadFrom(r)
		return b.Bytes(), err
	}
	return io.ReadAll(r)
}

// withSnippet adds the start of the body to a decode error (only an error needs one: a
// successful page computes none), unless the body was too large to keep.
func (c *Client) withSnippet(de *DecodeError, body []byte) *DecodeError {
	if int64(len(body)) <= c.cfg.MaxBodyBytes {
		de.Snippet = c.snippet(body)
	}
	return de
}
