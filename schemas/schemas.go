// Package schemas embeds the Avro schemas of the events the connector publishes and of its
// state records. Each event schema is self-contained (shared types are inlined), so a consumer
// or a Schema Registry can take one .avsc file as it is.
package schemas

import _ "embed"

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
