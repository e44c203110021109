// Package budget is the rate budget every request to Partoo's API passes through: a token
// bucket at the organisation's rate (less a reserve, lowered while Partoo answers 429), a hard
// cap on the requests Partoo's limiter can see in any 60 s window, and the pause a 429's
// Retry-After imposes on every caller (Budget).
//
// Waiting requests are served earliest deadline first. Each request waits with a Ticket: the
// place at the budget of the unit of work it belongs to (a walk of one conversation), which
// holds the work's Priority — how long the request lets later ones go first — and records
// whether one of its requests has started. The ticket is passed explicitly to Wait (nil: a
// request of its own at PriorityNormal); the Partoo client binds one to its requests with
// Client.WithTicket. A ticket's priority may be raised while its requests wait (a background
// walk that a fresh change now waits for becomes urgent), never lowered.
package budget
