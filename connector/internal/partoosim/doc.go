// Package partoosim is an in-memory Partoo API simulator for tests, the demo and benchmarks.
//
// It serves Partoo's public API contract (summarised in docs/how-it-works.md, "The Partoo API
// client") under /v2 — x-APIKey auth (401),
// validation (400), 404 for unknown conversations, opaque cursors, and a per-organisation rate
// limit answering 429 with Retry-After — plus admin endpoints under /_sim/ that the real API
// does not have, to script scenarios and read the ground truth.
//
// Assumptions where Partoo's documentation is silent, chosen here and documented in the
// docs/development.md:
//
//   - GET /messages serves a conversation's messages oldest first (ascending id); cursors are
//     keyset cursors ("after message id N"), so they stay valid while messages arrive.
//   - GET /conversations lists the most recently active conversation first (OrderRecent), or
//     by ascending id (OrderID) so the connector can be tested against both.
//   - A message deleted by the consumer keeps its row with is_deleted=true and empty content.
//   - The rate limit counts every authenticated /v2 request in a sliding 60 s window; requests
//     answered 429 do not count.
//
// Every change (message created, status changed, deleted, vanished) is appended to a
// ground-truth log with its time, which tests compare with what reached Kafka.
package partoosim
