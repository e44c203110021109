package lease

// DefaultTopic is the default lease topic of a state topic: one partition, no record; the lease
// and presence groups subscribe to it.
func DefaultTopic(stateTopic string) string { return stateTopic + ".lease" }

// DefaultGroup is the default consumer group of leader election for a transactional id.
func DefaultGroup(transactionalID string) string { return transactionalID + ".lease" }

// PresenceGroup is the consumer group the writing connector of a transactional id is a member
// of while it runs, leader election or not: tools that write with the same transactional id
// (rebuild-state) refuse while it, or the lease group, has members.
func PresenceGroup(transactionalID string) string { return transactionalID + ".presence" }
