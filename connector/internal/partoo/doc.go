// Package partoo is a client for the parts of Partoo's REST API (v2) that the connector reads:
// GET /conversations, GET /conversations/{id} and GET /messages.
//
// Every request passes through one budget.Budget (a token bucket with a hard sliding-window
// cap, 300 requests/minute by default) shared by all goroutines, waiting there with the
// client's ticket (Client.WithTicket, Client.WithPriority: the priority is passed explicitly,
// never through a context), and through one retry policy: 429, 5xx, timeouts, connection
// errors and unreadable bodies are retried with exponential backoff and full jitter, bounded
// in attempts and in time; a 429's Retry-After pauses the whole client, not only the call
// that got it. Other 4xx are not retried: 401 and 403 wrap ErrUnauthorized and ErrForbidden,
// 404 wraps ErrNotFound ("gone").
//
// Decoding is tolerant and fills the domain model (package model): enum fields keep any
// string Partoo sends (Known reports whether it is a documented value), nullable fields are
// pointers, custom_channel stays raw JSON, and dates parse in Partoo's
// "2023-01-31 16:22:17.327878+00:00" form and in RFC 3339, exactly to the microsecond.
//
// The API key is a Secret: it is sent only in the x-APIKey header and redacts itself wherever
// it is formatted, logged or marshalled.
package partoo
