package partoo

import (
	"context"
	"errors"
	"fmt"
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
	// ErrTooManyPages: a walk went past the page limit.
	ErrTooManyPages = errors.New("walk exceeded the page limit")
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

// DecodeError is a 2xx answer whose body could not be used: not JSON, truncated, a wrong
// Content-Type, or a shape that does not match the contract.
type DecodeError struct {
	Endpoint string
	Reason   string
	Err      error
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("partoo: %s: %s: %v", e.Endpoint, e.Reason, e.Err)
	}
	return fmt.Sprintf("partoo: %s: %s", e.Endpoint, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// IsRetryable reports whether a request that failed with err may succeed if sent again: 429,
// 5xx, timeouts, connection errors and unusable 2xx bodies. Other 4xx, cancellation and walk
// errors (loops, page limit) are not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return true
	}
	if errors.Is(err, ErrCursorLoop) || errors.Is(err, ErrTooManyPages) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // a per-request timeout; the caller's own context is checked separately
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// IsAuth reports whether err means the key is rejected or lacks a right: retrying is useless
// until the configuration changes.
func IsAuth(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden)
}
