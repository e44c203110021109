package events

// Header names on every event record (the CloudEvents attributes follow the CloudEvents
// Kafka protocol binding, binary mode).
const (
	HeaderEventType     = "event_type"         // MessageCreated | StatusChanged | MessageDeleted (Type)
	HeaderContentType   = "content-type"       // ContentType
	HeaderSchemaName    = "schema_name"        // the schema's full name, e.g. partoo.messages.v1.MessageCreated
	HeaderFingerprint   = "schema_fingerprint" // hex of the schema's 8 CRC-64-AVRO fingerprint bytes, as after C3 01
	HeaderCESpecVersion = "ce_specversion"     // "1.0"
	HeaderCEID          = "ce_id"              // the event id (Event.ID)
	HeaderCEType        = "ce_type"            // the schema's full name
	HeaderCESource      = "ce_source"          // /partoo/conversations/{conversation_id}
	HeaderCESubject     = "ce_subject"         // the message id, decimal
	HeaderCETime        = "ce_time"            // when the change was detected, RFC 3339 with microseconds
	HeaderSchemaID      = "schema_id"          // the registry's schema id, decimal; only in the Confluent wire format
	HeaderOrganization  = "organization"       // the organisation's name; only when one process runs several (PARTOO_ORGANIZATIONS_FILE)
)

// ContentType is the content-type header of event values: Avro binary, in single-object
// encoding, or in the Confluent wire format when the record has a schema_id header.
const ContentType = "application/avro"
