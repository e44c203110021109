// Package pipeline is the connector's one walk step, shared by the service, the demo, the
// freshness benchmark and the tests:
//
//	walk (GET /messages, every page) → diff against the recorded state → encode → commit
//	(events and state in one transaction) → record the new state → tell the scheduler
//
// A Step does the work in two halves so that walks and commits can be run by different
// goroutines: Read walks, diffs and encodes one conversation into a Prepared; Commit writes a
// batch of Prepared in one transaction through a Committer (*publish.Publisher in the
// service; anything with the same method in benchmarks and tests) and, only once it has
// committed, records their new states in the index. Walk does both for one conversation.
//
// A Runner drives a Step concurrently: walkers in flight (as many as the budget can use at
// the observed latency, never two for one conversation) and one committer that commits the
// finished walks in batches (group commit). An aborted batch records nothing; the scheduler
// hears each of its conversations failed and walks them again.
//
// Errors: Read and Commit return an error only for what must stop the connector (a rejected
// API key, a fenced or unauthorized producer, an event that cannot be encoded, cancellation).
// Everything else — a walk that failed, a transaction that aborted — is reported to the Hooks
// and to the scheduler, which walks the conversation again later.
package pipeline
