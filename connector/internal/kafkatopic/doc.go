// Package kafkatopic holds the two things every Kafka caller of the connector does the same
// way: creating a topic it needs (Ensure) and reading a topic to its committed end
// (ReadToEnd). The state and events topics (package state), the lease topic (package lease),
// the signal topic, and the commands that read a topic once through (rebuild-state, tail
// --until-end) use them, so the rules — a topic that already exists is fine, a read stops at
// the last stable offset taken when it starts, transaction markers show where a partition ends
// — live in one place.
package kafkatopic
