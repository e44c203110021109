// Package avroframe frames Avro values for Kafka, the same way for the events and the state:
// the Avro specification's Parsing Canonical Form of a schema and its CRC-64-AVRO fingerprint
// (computed here because goavro's is wrong for schemas with logical types); single-object
// encoding (C3 01, the 8-byte little-endian fingerprint, then the Avro binary body); and the
// Confluent wire format of schema registries (byte 0, the registry's 4-byte big-endian schema
// id, then the body).
package avroframe
