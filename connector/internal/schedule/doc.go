// Package schedule decides which conversation to walk next, spending Partoo's request budget
// where changes are likely. Two schedulers implement the Scheduler interface: Smart (the
// default) and Sweep (every conversation in turn).
//
// Smart picks, in this order:
//
//  1. reconciliation, whenever it is behind its guaranteed share of the picks
//     (ReconcileShare): the safety net is never starved, even at saturation;
//  2. webhook hints (Hint), within their share of the budget (HintShare);
//  3. conversations that discovery found changed: GET /conversations lists them with their
//     last_message, so a new message, a new status or a deletion of the last message shows
//     without walking; with the listing ordered by recent activity, a conversation that moved
//     up the list had activity too, and page 1 (one request) is enough. Discovery runs on its
//     own goroutine at its own cadence (DiscoveryInterval), whatever else is going on;
//  4. conversations with a message in Sending, re-walked with a growing delay until terminal;
//     Instagram conversations (the channel where consumers delete messages), re-checked a few
//     times after activity; conversations whose last walk failed, after a delay of RetryMin
//     doubling to RetryMax — nothing else walks them before it runs out;
//  5. with what is left, a reconciliation walk of every conversation in turn: the first pass
//     over an organisation is its snapshot. ReconcilePeriod paces it: a pass that finishes
//     early waits for the period's end instead of spending every leftover request; and a
//     pass never begins sooner than DiscoveryInterval after the previous one, so that a small
//     organisation is not walked in a loop (when page 1 holds the whole listing, the pass
//     takes it from discovery rather than read it again). The first pass after a start walks
//     the conversations the state does not know first: a snapshot cut short by a restart goes
//     on where it was, and is reported as the snapshot.
//
// A conversation discovery lists but the state has never seen is left to reconciliation
// unless its last message is recent (LiveWindow): during a first snapshot, discovery keeps
// reporting live changes instead of turning into a second, competing snapshot.
//
// Whether the listing really puts the most recently active first is checked at run time on
// every discovery page (last_message dates must mostly descend); while it does not hold,
// discovery reads every page of /conversations, paced, comparing each last_message.
//
// Scope comes from Partoo, never from a webhook: discovery and reconciliation read the listing
// filtered by business (Config.BusinessIDs), and with a filter set, a hint for a conversation
// the state does not know is walked only after GET /conversations/{id} says its business is
// one of the filter's (Hint).
//
// The listing is never a single point of failure: a failed discovery is logged, counted
// (Status) and tried again at the next interval, and while the listing fails reconciliation
// walks the conversations the state already knows.
//
// Concurrency: Next is called by one goroutine (the dispatcher of the walks), Walked by the
// goroutine that commits them; Hint and Status by any. Discovery and the reconciliation's
// listing run on goroutines of their own, started with Config.Go.
package schedule
