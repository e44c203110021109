// Package diff is the pure heart of the connector: given a conversation's last recorded
// state, the messages of a walk, how much of the conversation the walk saw (Coverage), and
// the current time, it returns the ordered change events and the next state. It does no I/O
// and never reads the clock.
//
// Rules:
//   - a message not in the state → MessageCreated, a snapshot when its date (Partoo's clock)
//     is not after the instant the connector started watching the conversation (Watch; with
//     no watch known: when the conversation has had no complete walk yet); already deleted
//     at first sight → MessageCreated then MessageDeleted;
//   - a status different from the recorded one → StatusChanged(previous → new);
//   - is_deleted false → true → MessageDeleted(ConsumerDeleted);
//   - a recorded message absent from VanishAfterWalks consecutive COMPLETE walks spanning at
//     least VanishConfirmAfter → MessageDeleted(Vanished), and it leaves the state (its
//     generation stays: should it come back, its events get new ids); a partial walk, one
//     that skipped undecodable messages without their ids, or a complete one that misses
//     most of the conversation without Partoo's count to vouch for it (Suspect), never
//     deletes;
//   - unchanged → nothing; a message with an unknown sender_type → nothing, counted in
//     Result.Ignored (Partoo's advice is to ignore them).
//
// Events of one conversation are ordered by (message date, message id); for one message,
// created < status changed < deleted.
package diff
