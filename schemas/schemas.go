// Package schemas embeds the Avro schemas of the events the connector publishes and of its
// state records. Each event schema is self-contained (shared types are inlined), so a consumer
// or a Schema Registry can take one .avsc file as it is.
package schemas

import "embed"

// Event and state schemas, as JSON text.
var (
	//go:embed MessageCreated.avsc
	MessageCreated string
	//go:embed StatusChanged.avsc
	StatusChanged string
	//go:embed MessageDeleted.avsc
	MessageDeleted string
	//go:embed ConversationState.avsc
	ConversationState string
)

// Namespace of the event schemas.
const Namespace = "partoo.messages.v1"

// History holds the earlier revisions of the event schemas, as history/<Type>.<revision>.avsc
// (revision 1: before the conversation context, the millisecond twins, event_type and
// reason_raw). Records written with them still decode: a reader resolves them to today's
// schema, whose added fields all have defaults (the registry's BACKWARD rule).
//
//go:embed history/*.avsc
var History embed.FS

// Table schemas: the values of the compacted table topics.
var (
	//go:embed MessageRow.avsc
	MessageRow string
	//go:embed ConversationRow.avsc
	ConversationRow string
)
