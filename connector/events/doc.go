// Package events decodes the change events the Partoo connector publishes, for consumers
// written in Go. It is the module's deliberate public surface for readers of the events
// topic: the header names every event record carries, and a Decoder that turns a record's
// value into an Event.
//
// A record's key is the conversation id (decimal). Its value is one Avro record of the
// event's schema (the .avsc files of package schemas: MessageCreated, StatusChanged,
// MessageDeleted, namespace partoo.messages.v1), framed either way the connector writes:
//
//   - Avro single-object encoding (the default): C3 01, the schema's 8-byte CRC-64-AVRO
//     fingerprint (little-endian), then the body. Such a value decodes on its own.
//   - The Confluent wire format, when the connector registers its schemas with a schema
//     registry: byte 0, the registry's 4-byte big-endian schema id, then the body. Such a
//     value decodes when the decoder knows the id (Config.SchemaIDs, or Decoder.Register with
//     the schema the registry returns for it), or with the record's schema_fingerprint header
//     (HeaderFingerprint), which the connector writes in both framings.
//
// The decoder reads every schema a release of the connector wrote (schemas/history and the
// fingerprints of schemas/history/fingerprints.json): a topic written by any release
// decodes, the fields added since at their zero values. A value of another schema is an
// UnknownFingerprintError, naming its fingerprint: skip and count it. The decoder does no
// I/O: asking a registry for an unknown id is the caller's (see UnknownSchemaIDError). It links no Kafka or HTTP
// client; read the records with the Kafka client of your choice, with isolation level
// read_committed (the connector writes in transactions).
package events
