// Package state keeps the connector's per-conversation state in a compacted Kafka topic: the
// record codec, topic checks, restore on start (Restore), the in-memory index, and the
// rebuild of a lost state topic from the events topic (Rebuild, behind rebuild-state).
//
// One record per conversation, keyed by conversation_id (decimal), valued with an Avro
// single-object ConversationState: parallel, delta-encoded columns of message id, date,
// status, kind and flags — about 10 bytes a message on the wire, 24 in memory.
package state
