// Package tables makes the records of the two compacted table topics users' engines read as
// current state: the messages table (key: message id; value: the message as it is now, flat,
// with its conversation's context; a tombstone once it is deleted) and the conversations table
// (key: conversation id; value: the conversation's business, channel and status). Their
// records are written in the transaction of the batch whose events they follow.
//
// Conversations also holds every conversation's context (organisation, business, channel), as
// the API's listings and GET /conversations/{id} say it: every event carries it.
package tables
