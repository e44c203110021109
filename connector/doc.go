// Package connector is the service: Options → New → Run. It streams a Partoo organisation's
// conversations into Kafka as Avro change events, exactly once.
//
// The data flow, and who owns what:
//
//	webhook hints ──┐  (httpapi, any goroutine: Hint)
//	discovery ──────┤
//	Sending/Instagram re-walks, retries ──┼──> scheduler ──(conversation id)──> walk step
//	reconciliation (paced) ──┘           (schedule)                      (pipeline.Step)
//	                                                                           │ GET /messages, every page, through
//	                                                                           │ the one budget (partoo.Client)
//	                                                                           v
//	                                      diff (pure): recorded state + walk → events + next state
//	                                                                           │
//	                                                                           v
//	                  committer (publish.Publisher): events and the state record in ONE Kafka
//	                  transaction; the index (state.Index) is updated only after the commit
//
// Run's goroutine owns the loop: it asks the scheduler for the next conversation and runs the
// walk step on it (walk, diff, encode, commit, record, tell the scheduler). A second goroutine,
// started by Run, watches health: it checks that the topics still exist, keeps /status and the
// degraded gauge current, and logs the periodic progress line. HTTP handlers (package httpapi)
// run on the server's goroutines and only read (Status, Readiness) or hint (Hint).
//
// Errors: Run returns nil when its context ends, and an error only for what needs an operator —
// a rejected API key, a fenced or unauthorized producer, a misconfigured, lost (by default) or
// corrupt (by default) topic. Everything else (a failing API, a failed transaction) is logged,
// counted, shown in /status, and retried.
//
// The packages below it, each with one concern: partoo (API client, budget, decoding), schedule
// (what to walk), pipeline (the walk step), diff (pure change detection), events and state
// (Avro codecs, the state topic), avroframe (Avro framing), publish (the transactional
// producer), httpapi (HTTP), metrics, ratelog, clock, secret; config reads the environment;
// partoosim is the Partoo simulator used by the demo, partoo-sim, benchmarks and tests.
package connector
