// Package doctor checks a deployment before it goes live, with the connector's own
// configuration (the environment): the configuration itself; Partoo (the key, latency, listing
// and page order, the field types of a sample, the budget); Kafka (reachability, version, both
// topics, the ACLs the connector needs, whether a connector of the transactional id is alive);
// the schema registry when set; webhooks. Each check gives a Check — fine, worth knowing, or
// blocking the connector, with advice naming the variable to change — and writes nothing
// anywhere. `partoo-connector doctor` prints them; `rebuild-state` shares NoLiveConnector.
//
// Like the commands it serves, this package speaks in environment variable names.
package doctor
