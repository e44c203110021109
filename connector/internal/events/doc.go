// Package events is the codec of the change events the connector publishes: a diff.Event
// becomes an Avro record of its type's schema (schemas/*.avsc), framed in Avro single-object
// encoding or — once UseSchemaIDs gave it a schema registry's ids — in the Confluent wire
// format, with its key (the conversation id) and headers (event type, schema name and
// fingerprint, CloudEvents attributes); and back (Decode, DecodeEvent).
//
// Every event type is one entry of one table (eventKinds in kinds.go): its diff.EventType,
// its schema, whether its record carries the message, and how its own fields go to and from
// the record. A new event type is one entry there plus its schema; nothing else switches on
// the type, and a type or a schema the table does not know is an error, never a default.
package events
