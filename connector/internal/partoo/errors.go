package partoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Sentinels matched with errors.Is.
var (
	// ErrUnauthorized: Partoo answered 401, the API key was rejected. Not retried.
	ErrUnauthorized = errors.New("the API key was rejected (401): check the key")
	// ErrForbidden: Partoo answered 403, the key's user lacks the right. Not retried.
	ErrForbidden = errors.New("the API key lacks the right for this request (403): check its user's role")
	// ErrNotFound: Partoo answered 404; for a conversation, it is gone or no longer visible.
	ErrNotFound = errors.New("not found (404): gone or not visible to this key")
	// ErrRateLimited: Partoo answered 429 more often than the retry policy allows.
	ErrRateLimited = errors.New("rate limited (429)")
	// ErrCursorLoop: a walk met a next_cursor it had already followed.
	ErrCursorLoop = errors.New("next_cursor repeats: the pagination loops")
	// ErrTooManyPages: a walk went past the page limit (Config.MaxPages), or past the pages
	// its count can fill (with slack).
	ErrTooManyPages = errors.New("walk exceeded the page limit")
	// ErrNoProgress: a page brought no item new to its walk yet pointed at another page (a
	// server that ignores the cursor).
	ErrNoProgress = errors.New("pagination makes no progress")
)

// APIError is a non-2xx answer from Partoo.
type APIError struct {
	Method     string
	Endpoint   string // e.g. "/messages"
	Status     int
	RetryAfter time.Duration // from a 429's Retry-After, else 0
	Body       string        // the start of the response body, for diagnosis
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("partoo: %s %s: %d %s", e.Method, e.Endpoint, e.Status, http.StatusText(e.Status))
	if s := e.sentinel(); s != nil {
		return msg + ": " + s.Error()
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *APIError) sentinel() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

// Unwrap lets errors.Is match ErrUnauthorized, ErrForbidden, ErrNotFound and ErrRateLimited.
func (e *APIError) Unwrap() error { return e.sentinel() }

// DecodeError is a 2xx answer whose body could not be used: not JSON (an HTML page from a
// proxy, say), truncated, too large, or not shaped like a page.
type DecodeError struct {
	Endpoint    string
	Status      int    // the HTTP status (2xx)
	ContentType string // the Content-Type header as sent
	NonJSON     bool   // the body is not JSON at all
	Reason      string
	Snippet     string // the first bytes of the body, for diagnosis
	Err         error
}

func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("partoo: GET %s: %d answer: %s", e.Endpoint, e.Status, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.ContentType != "" {
		msg += fmt.Sprintf(" (Content-Type %s)", e.ContentType)
	}
	if e.Snippet != "" {
		msg += fmt.Sprintf("; body starts %q", e.Snippet)
	}
	return msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Error kinds: the label values of ErrorKind, for metrics and logs.
const (
	KindUnauthorized = "unauthorized" // 401
	KindForbidden    = "forbidden"    // 403
	KindNotFound     = "not_found"    // 404
	KindRateLimited  = "rate_limited" // 429
	Kind4xx          = "4xx"          // another 4xx
	Kind5xx          = "5xx"
	KindOtherStatus  = "other_status" // 1xx or 3xx
	KindTimeout      = "timeout"      // no answer within the request timeout
	KindConnection   = "connection"   // refused, reset, DNS, TLS…
	KindNonJSON      = "non_json"     // a 2xx body that is not JSON (an HTML page, say)
	KindDecode       = "decode"       // a 2xx JSON body we cannot use (truncated, wrong shape, too large)
	KindPagination   = "pagination"   // a cursor loop or too many pages
	KindCanceled     = "canceled"     // the caller gave up
	KindOther        = "other"
)

// ErrorKind classifies a request error into one of the Kind* labels ("" for nil).
func ErrorKind(err error) string {
	if err == nil {
		return ""
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusUnauthorized:
			return KindUnauthorized
		case ae.Status == http.StatusForbidden:
			return KindForbidden
		case ae.Status == http.StatusNotFound:
			return KindNotFound
		case ae.Status == http.StatusTooManyRequests:
			return KindRateLimited
		case ae.Status >= 500:
			return Kind5xx
		case ae.Status >= 400:
			return Kind4xx
		}
		return KindOtherStatus
	}
	var de *DecodeError
	if errors.As(err, &de) {
		if de.NonJSON {
			return KindNonJSON
		}
		return KindDecode
	}
	switch {
	case errors.Is(err, ErrCursorLoop), errors.Is(err, ErrTooManyPages), errors.Is(err, ErrNoProgress):
		return KindPagination
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return KindTimeout
		}
		return KindConnection
	}
	var oe *net.OpError
	if errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return KindConnection
	}
	return KindOther
}

// IsRetryable reports whether a request that failed with err may succeed if sent again: 429,
// 5xx, timeouts, connection errors and unusable 2xx bodies. Other 4xx, cancellation and walk
// errors (loops, page limit) are not retryable.
func IsRetryable(err error) bool {
	switch ErrorKind(err) {
	case KindRateLimited, Kind5xx, KindTimeout, KindConnection, KindNonJSON, KindDecode:
		return true
	}
	return false
}

// IsAuth reports whether err means the key is rejected or lacks a right: retrying is useless
// until the configuration changes.
func IsAuth(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden)
}
