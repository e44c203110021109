// Package model is the connector's domain model: a Partoo message and conversation, their
// enumerations (content type, sender type, delivery status, messaging partner) and Partoo's
// dates. It does no I/O and imports only the standard library, so that the pure core (diff,
// the codecs, the state) can use it without linking an HTTP client.
//
// Enumerations are open: Partoo may add values without notice, so any string is a valid
// value and Known reports whether it is one documented here.
package model
