// Package engine is one organisation: Options → New → Run. It streams a Partoo organisation's
// conversations into Kafka as Avro change events, exactly once. An engine holds everything that
// belongs to its organisation — its Partoo client and budget, scheduler, walk step and runner,
// state index, health and progress — and no process global, so a process (package service)
// can run several side by side, sharing the metrics registry, the HTTP surface and the Kafka
// cluster; each has its own transactional producer.
//
// The data flow, and who owns what:
//
//	webhook hints ──┐  (httpapi, any goroutine: Hint)
//	discovery ──────┤  (its own goroutine)
//	Sending/Instagram re-walks, retries ──┼──> scheduler ──(picks)──> runner: walkers in flight
//	reconciliation (guaranteed share) ──┘ (schedule)              (pipeline.Runner, pipeline.Step)
//	                                                                   │ GET /messages, every page, through
//	                                                                   │ the one budget queue (partoo.Client)
//	                                                                   v
//	                              diff (pure): recorded state + walk → events + next state
//	                                                                   │
//	                                                                   v
//	          committer (one goroutine, publish.Publisher): the finished walks of several
//	          conversations, events and state records, in ONE Kafka transaction; the index
//	          (state.Index) is updated only after the commit
//
// Run's goroutine dispatches: it asks the scheduler for conversations and starts a walker for
// each (read, diff, encode), up to the in-flight limit, never two for one conversation; one
// committer goroutine commits finished walks in batches, records them and tells the scheduler.
// Discovery and the reconciliation's listing run on goroutines of the scheduler. Another
// goroutine, started by Run, watches health: it checks that the topics still exist, keeps
// /status and the degraded gauge current, and logs the periodic progress line. HTTP handlers
// (package httpapi) run on the server's goroutines and only read (Status, Readiness) or hint
// (Hint).
//
// Errors: Run returns nil when its context ends, and an error only for what needs an operator —
// a rejected API key, a fenced or unauthorized producer, a misconfigured, lost (by default) or
// corrupt (by default) topic. Everything else (a failing API, a failed transaction) is logged,
// counted, shown in /status, and retried.
//
// Its files, one concern each: engine.go (lifecycle), startup.go (the start-up checks: Partoo's
// key and URL, the schema registry, retried Kafka steps), restore.go (the state's restore and
// re-read), kafka.go (the Kafka failure policy: failed transactions, outages, lost topics),
// eventsize.go (the events topic's record limit), observe.go (what a walk tells metrics, health
// and logs; detection lag), health.go (the failure watch and the periodic summary), watch.go
// (the background loops), signals.go (wiring of package signal's resnapshot tracker).
package engine
