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

// History holds every revision of the schemas a release of the connector wrote, today's
// included, as history/<Type>.<revision>.avsc, and history/fingerprints.json: the
// fingerprints each release was observed to write, and the file each resolves to (revision 0:
// the first releases, before content_truncated_from; revision 1: before the conversation
// context, the millisecond twins, event_type and reason_raw; today's schemas are the highest
// revision). Records written with any of them still decode: a reader resolves them to today's
// schema, whose added fields all have defaults (the registry's BACKWARD rule).
//
//go:embed history
var History embed.FS

// Table schemas: the values of the compacted table topics.
var (
	//go:embed MessageRow.avsc
	MessageRow string
	//go:embed ConversationRow.avsc
	ConversationRow string
)
