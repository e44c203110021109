package schedule

import (
	"context"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
)

// Scheduler decides which conversation to walk next. Two implement it: Smart (discovery, hints,
// Sending re-walks, Instagram checks, retries and paced reconciliation; the default) and Sweep
// (every conversation in turn, or a fixed list).
//
// Next is called by one goroutine (the dispatcher of the walks) and Walked by one (the
// committer); Hint and Status may be called from any goroutine.
type Scheduler interface {
	// Next blocks until a conversation is worth a request and returns it with the reason. It
	// returns a pick only if room(pick) says the runner has room for it now (the runner holds
	// background work and webhook hints to a few walks in flight, keeping the other slots for
	// discovery and the rest), and asks again whenever it wakes (a walk recorded, a hint, at
	// the latest every second). It returns an error only when ctx ends (ctx.Err()) or the API
	// key is rejected (partoo.IsAuth).
	Next(ctx context.Context, room func(Pick) bool) (Pick, error)
	// Walked tells the scheduler that a walk of id ended: st is the conversation's recorded
	// state afterwards (nil if it has none) and o what the walk found.
	Walked(id int64, st *diff.State, o Outcome)
	// Hint asks for a walk of id as soon as possible (a webhook said it changed) and says what
	// became of the request. It never blocks.
	Hint(id int64) HintResult
	// Status reports progress and listing failures.
	Status() Status
}

// Always has room for every pick, for callers without a slot limit.
func Always(Pick) bool { return true }

var (
	_ Scheduler = (*Smart)(nil)
	_ Scheduler = (*Sweep)(nil)
)
