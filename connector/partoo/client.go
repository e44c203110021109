package partoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is Partoo's production API.
const DefaultBaseURL = "https://api.partoo.co/v2"

// Endpoint labels, used in errors and by Observer.
const (
	EndpointConversations = "/conversations"
	EndpointConversation  = "/conversations/{id}"
	EndpointMessages      = "/messages"
)

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// BaseURL of the API, up to and including /v2. Default DefaultBaseURL.
	BaseURL string
	// APIKey is sent in the x-APIKey header. Required.
	APIKey Secret
	// Budget every request passes through. Default: a new Budget at RequestsPerMinute. Share
	// one Budget between all clients of the same organisation.
	Budget *Budget
	// RequestsPerMinute for the default Budget. Default 300.
	RequestsPerMinute int
	// PerPage is the page size of walks, 1..100. Default 100.
	PerPage int
	// HTTPClient sends the requests. Default: a client with no overall timeout (each attempt
	// is bounded by RequestTimeout).
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt, body included. Default 30 s.
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of one call (first try included). Default 6.
	MaxAttempts int
	// MaxRetryTime bounds the time one call may spend retrying. Default 5 min.
	MaxRetryTime time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff (full jitter). Defaults 500 ms
	// and 30 s.
	BackoffBase, BackoffMax time.Duration
	// MaxPages bounds one walk. Default 10,000 (a million messages at 100 per page).
	MaxPages int
	// MaxBodyBytes bounds one response body. Default 32 MiB.
	MaxBodyBytes int64
	// Clock for the budget and backoff sleeps. Default RealClock.
	Clock Clock
	// Observer receives request outcomes for metrics. Default: none.
	Observer Observer
	// UserAgent header. Default "partoo-connector".
	UserAgent string
}

// Observer is told about every attempt, for metrics. Implementations must be fast and safe
// for concurrent use.
type Observer interface {
	// Request: one attempt ended; status is the HTTP status, or 0 when no answer came.
	Request(endpoint string, status int, d time.Duration)
	// RateLimited: a 429 paused the client for retryAfter.
	RateLimited(retryAfter time.Duration)
	// BudgetWaited: a request waited d for the budget.
	BudgetWaited(d time.Duration)
}

type nopObserver struct{}

func (nopObserver) Request(string, int, time.Duration) {}
func (nopObserver) RateLimited(time.Duration)          {}
func (nopObserver) BudgetWaited(time.Duration)         {}

// Client reads Partoo's API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	var errs []error
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		errs = append(errs, fmt.Errorf("partoo: base URL %q must be an absolute http(s) URL", cfg.BaseURL))
	}
	if cfg.APIKey.IsZero() {
		errs = append(errs, errors.New("partoo: the API key is empty"))
	}
	if cfg.PerPage == 0 {
		cfg.PerPage = 100
	}
	if cfg.PerPage < 1 || cfg.PerPage > 100 {
		errs = append(errs, fmt.Errorf("partoo: per_page %d is outside 1..100", cfg.PerPage))
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Budget == nil {
		b, err := NewBudget(BudgetConfig{RequestsPerMinute: cfg.RequestsPerMinute, Clock: cfg.Clock})
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Budget = b
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	setDefault(&cfg.RequestTimeout, 30*time.Second)
	setDefault(&cfg.MaxRetryTime, 5*time.Minute)
	setDefault(&cfg.BackoffBase, 500*time.Millisecond)
	setDefault(&cfg.BackoffMax, 30*time.Second)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10_000
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "partoo-connector"
	}
	return &Client{cfg: cfg, base: base}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Budget returns the budget the client spends.
func (c *Client) Budget() *Budget { return c.cfg.Budget }

// PerPage returns the page size walks use.
func (c *Client) PerPage() int { return c.cfg.PerPage }

// ListConversationsParams are the query of GET /conversations.
type ListConversationsParams struct {
	PerPage     int // 0: the client's PerPage
	Cursor      string
	BusinessIDs []int64
}

// ListConversations fetches one page of GET /conversations.
func (c *Client) ListConversations(ctx context.Context, p ListConversationsParams) (*ConversationPage, error) {
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(c.perPage(p.PerPage)))
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if len(p.BusinessIDs) > 0 {
		ids := make([]string, len(p.BusinessIDs))
		for i, id := range p.BusinessIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		q.Set("business__in", strings.Join(ids, ","))
	}
	var page ConversationPage
	if err := c.get(ctx, EndpointConversations, "/conversations", q, func(b []byte) error {
		return decodeConversationPage(b, &page)
	}); err != nil {
		return nil, err
	}
	return &page, nil
}

// GetConversation fetches one conversation. A conversation that is gone (404) gives an
// error matching ErrNotFound.
func (c *Client) GetConversation(ctx context.Context, id int64) (*Conversation, error) {
	var conv Conversation
	if err := c.get(ctx, EndpointConversation, "/conversations/"+strconv.FormatInt(id, 10), nil, func(b []byte) error {
		return decodeConversation(b, &conv)
	}); err != nil {
		return nil, err
	}
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
	if err := c.get(ctx, EndpointMessages, "/messages", q, func(b []byte) error {
		return decodeMessagePage(b, &page)
	}); err != nil {
		return nil, err
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
// JSON body to decode.
func (c *Client) get(ctx context.Context, endpoint, path string, query url.Values, decode func([]byte) error) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	clock := c.cfg.Clock
	deadline := clock.Now().Add(c.cfg.MaxRetryTime)
	var lastErr error
	for attempt := 1; ; attempt++ {
		waitStart := clock.Now()
		if err := c.cfg.Budget.Wait(ctx); err != nil {
			return c.stop(err, lastErr)
		}
		c.cfg.Observer.BudgetWaited(clock.Now().Sub(waitStart))

		err := c.attempt(ctx, endpoint, u.String(), decode)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.stop(ctx.Err(), err)
		}
		if !IsRetryable(err) {
			return err
		}
		lastErr = err
		if attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		sleep := c.backoff(attempt)
		var ae *APIError
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			// The budget is paused for everyone; a little jitter spreads the waiters.
			sleep = ae.RetryAfter + time.Duration(rand.Float64()*float64(c.cfg.BackoffBase))
		}
		if clock.Now().Add(sleep).After(deadline) {
			return fmt.Errorf("%w (gave up: retrying would exceed %s)", err, c.cfg.MaxRetryTime)
		}
		if err := clock.Sleep(ctx, sleep); err != nil {
			return c.stop(err, lastErr)
		}
	}
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

func (c *Client) attempt(ctx context.Context, endpoint, rawURL string, decode func([]byte) error) error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("x-APIKey", c.cfg.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	start := c.cfg.Clock.Now()
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Observer.Request(endpoint, 0, c.cfg.Clock.Now().Sub(start))
		return fmt.Errorf("partoo: GET %s: %w", endpoint, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	c.cfg.Observer.Request(endpoint, resp.StatusCode, c.cfg.Clock.Now().Sub(start))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Method: http.MethodGet, Endpoint: endpoint, Status: resp.StatusCode, Body: snippet(body)}
		if resp.StatusCode == http.StatusTooManyRequests {
			ae.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Clock.Now())
			if ae.RetryAfter <= 0 {
				ae.RetryAfter = c.backoff(1) + c.cfg.BackoffBase
			}
			c.cfg.Budget.Pause(c.cfg.Clock.Now().Add(ae.RetryAfter))
			c.cfg.Observer.RateLimited(ae.RetryAfter)
		}
		return ae
	}
	if readErr != nil {
		return &DecodeError{Endpoint: endpoint, Reason: "reading the body failed (truncated?)", Err: readErr}
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return &DecodeError{Endpoint: endpoint, Reason: fmt.Sprintf("body larger than %d bytes", c.cfg.MaxBodyBytes)}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &DecodeError{Endpoint: endpoint, Reason: fmt.Sprintf("Content-Type is %q, want application/json", resp.Header.Get("Content-Type"))}
	}
	if err := decode(body); err != nil {
		return &DecodeError{Endpoint: endpoint, Reason: "malformed JSON body", Err: err}
	}
	return nil
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

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func snippet(b []byte) string {
	const max = 256
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
