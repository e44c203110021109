package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
)

// DefaultLiveWindow is how recent a transaction must be to count as a live connector's.
const DefaultLiveWindow = 2 * time.Minute

// Liveness says how NoLiveConnector tells whether a connector may be alive.
type Liveness struct {
	TransactionalID string
	// StateTopic is the connector's state topic: whatever its transactional id (a shell
	// without the Deployment's KAFKA_TRANSACTIONAL_ID), a connector that wrote it lately may be
	// alive.
	StateTopic string
	// Groups are the connector's lease group and the presence group of releases before the
	// process presence group: a running connector is a member, even idle.
	Groups []string
	// PresenceGroups are the process presence groups that may list the transactional id: a
	// running connector's process is a member whose metadata lists it, even idle. One
	// organisation's process is in <its id>.presence; an organisation of a file, whose id is
	// <KAFKA_TRANSACTIONAL_ID>.<name>, is listed by its process in <KAFKA_TRANSACTIONAL_ID>.presence.
	PresenceGroups []string
	// Watch is how long the id's transactions are watched; Window how recent a transaction
	// (or a write to the state topic) must be to count as a live connector's.
	Watch, Window time.Duration
}

// LivenessOf is the liveness of the connector cfg configures: its transactional id, its state
// topic, its lease and presence groups.
func LivenessOf(cfg *config.KafkaConfig, watch, window time.Duration) Liveness {
	txn := cfg.KafkaTransactionalID
	return Liveness{TransactionalID: txn, StateTopic: cfg.KafkaStateTopic,
		Groups: []string{lease.DefaultGroup(txn), lease.PresenceGroup(txn)}, PresenceGroups: processPresenceGroups(txn),
		Watch: watch, Window: window}
}

// processPresenceGroups are the process presence groups that may list txn: its own, and that of
// the file deployment it may be an organisation of (txn without its last ".<name>").
func processPresenceGroups(txn string) []string {
	groups := []string{lease.PresenceGroup(txn)}
	if i := strings.LastIndex(txn, "."); i > 0 {
		groups = append(groups, lease.PresenceGroup(txn[:i]))
	}
	return groups
}

// NoLiveConnector returns an error when a connector of l's transactional id may be alive:
// writing with the id would fence it. It looks at what Kafka knows over a window, not at one
// instant: members of its lease and presence groups (a process presence member listing the id), a recent write to its state topic, and
// the id's transactions — one open, one started or ended while watching for l.Watch, or one
// started within l.Window.
func NoLiveConnector(ctx context.Context, adm *kadm.Client, l Liveness) error {
	txn := l.TransactionalID
	members, err := lease.Members(ctx, adm, l.Groups...)
	for _, g := range l.PresenceGroups {
		if err != nil {
			break
		}
		var present []string
		present, err = lease.Present(ctx, adm, g, txn)
		members = append(members, present...)
	}
	if err != nil {
		return fmt.Errorf("cannot tell whether a connector of %s runs (describing its groups: %v); refusing to write with its transactional id", txn, err)
	}
	slices.Sort(members)
	members = slices.Compact(members) // one process may be in a group twice: the legacy and the process presence group are one name for one organisation
	if len(members) > 0 {
		return fmt.Errorf("a connector of KAFKA_TRANSACTIONAL_ID %s is running (%s): writing with its transactional id would fence it; stop it (every replica) first", txn, strings.Join(members, "; "))
	}
	if err := recentStateWriter(ctx, adm, l); err != nil {
		return err
	}
	return watchTransactions(ctx, adm, l)
}

// recentStateWriter returns an error when a producer wrote the state topic within l.Window.
// A broker that cannot describe producers proves nothing either way.
func recentStateWriter(ctx context.Context, adm *kadm.Client, l Liveness) error {
	described, err := adm.DescribeProducers(ctx, kadm.TopicsSet{l.StateTopic: {}})
	if err != nil {
		return nil
	}
	var latest kadm.DescribedProducer
	described.EachProducer(func(p kadm.DescribedProducer) {
		if p.LastTimestamp > latest.LastTimestamp {
			latest = p
		}
	})
	if age := time.Since(time.UnixMilli(latest.LastTimestamp)); latest.LastTimestamp > 0 && age < l.Window {
		return fmt.Errorf("producer %d wrote the state topic %s %s ago: a connector (perhaps with another KAFKA_TRANSACTIONAL_ID) may still be running; stop it first (if it is stopped, retry after %s)",
			latest.ProducerID, l.StateTopic, age.Round(time.Second), time.UnixMilli(latest.LastTimestamp).Add(l.Window).UTC().Format(time.RFC3339))
	}
	return nil
}

// watchTransactions describes the id's transactions every 500 ms for l.Watch and returns an
// error as soon as one is open, changes, or is recent.
func watchTransactions(ctx context.Context, adm *kadm.Client, l Liveness) error {
	txn := l.TransactionalID
	var first kadm.DescribedTransaction
	for start := time.Now(); ; {
		described, err := adm.DescribeTransactions(ctx, txn)
		dt, onErr := described.On(txn, nil)
		switch {
		case errors.Is(err, kerr.TransactionalIDNotFound) || errors.Is(onErr, kerr.TransactionalIDNotFound) || errors.Is(dt.Err, kerr.TransactionalIDNotFound):
			return nil // never used
		case err != nil || onErr != nil || dt.Err != nil:
			return fmt.Errorf("cannot tell whether a connector of %s runs (describing its transactions: %v); refusing to write with its transactional id", txn, errors.Join(err, onErr, dt.Err))
		}
		if first.TxnID == "" {
			first = dt
		}
		age := time.Since(time.UnixMilli(dt.StartTimestamp))
		switch {
		case dt.State == "Ongoing" || dt.State == "PrepareCommit" || dt.State == "PrepareAbort":
			return fmt.Errorf("a transaction of %s is open (%s): a connector is writing; stop it first", txn, dt.State)
		case dt.ProducerEpoch != first.ProducerEpoch || dt.StartTimestamp != first.StartTimestamp:
			return fmt.Errorf("a connector of %s committed while this command watched: it is running; stop it first", txn)
		case dt.StartTimestamp > 0 && age < l.Window:
			return fmt.Errorf("a connector of %s wrote %s ago: it may still be running; stop it first (if it is stopped, retry after %s)",
				txn, age.Round(time.Second), time.UnixMilli(dt.StartTimestamp).Add(l.Window).UTC().Format(time.RFC3339))
		}
		if time.Since(start) >= l.Watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
