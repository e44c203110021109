// Package connector holds no code: it is the map of the house. The connector streams a Partoo
// organisation's conversations into Kafka as Avro change events, exactly once; the folders
// follow the flow.
//
//	Partoo ──> schedule ──> pipeline (walk) ──> diff ──> events ──> publish (transaction) ──> state
//	internal/partoo  internal/schedule  internal/pipeline  internal/diff  internal/events
//	internal/publish  internal/state
//
// An engine (internal/engine) is one organisation: its Partoo client and budget, scheduler,
// walk step and runner, state index, health and progress, built from engine.Options and run
// with Run(ctx). The service (internal/service) is the supervisor of a process: it runs the
// engines side by side and shares the metrics registry (an organization label), the HTTP
// surface (internal/httpapi) and the Kafka cluster. The resnapshot feature is internal/signal;
// the /status model internal/status.
//
// # Public surface
//
// Everything under connector/internal is private to this module. What other modules may
// import is deliberate:
//
//   - connector/cli/connector, connector/cli/sim, connector/cli/bench: one entry point per
//     command (cmd/* are three-line mains), so each binary links only what it runs;
//   - schemas: the events' Avro schemas (.avsc), embedded;
//   - connector/events: the consumer-side decoder of the events topic (both framings);
//   - cmd/partoo-connector, cmd/partoo-sim, cmd/partoo-bench: the commands.
//
// docs/architecture.md describes the packages, the public surface and a glossary;
// docs/how-it-works.md the walks, the diff and its invariants.
package connector
