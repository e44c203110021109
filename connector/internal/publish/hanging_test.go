package publish

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// TestCloseHangingAbortsForGood: on a real broker, a transaction left open on a partition (as
// when the coordinator skipped its abort marker) is found and aborted by closeHanging, the last
// stable offset moves past it, and a later COMMIT marker of the same producer id no longer
// makes its records visible — the way a hanging transaction's records used to be published.
func TestCloseHangingAbortsForGood(t *testing.T) {
	c := kafkatest.New(t)
	if !c.Real() {
		t.Skip("what matters is how a real broker takes a marker written from outside its coordinator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := kafkatest.Topic(t)
	adm := c.Admin(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	txn := c.Client(t, kgo.TransactionalID(topic+".txn"), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	pid, epoch, err := txn.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := txn.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("aborted")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// An older epoch than the open transaction's is another process's business: untouched.
	if epoch > 0 {
		if open, err := findOpen(ctx, adm, []string{topic}, pid, epoch-1); err != nil || len(open) != 0 {
			t.Fatalf("findOpen with an older epoch = %v, %v; want nothing", open, err)
		}
	}
	n, err := closeHanging(ctx, adm, slog.New(slog.DiscardHandler), []string{topic}, pid, epoch, outcomeAbort)
	if err != nil || n != 1 {
		t.Fatalf("closeHanging = %d, %v; want 1 partition closed", n, err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup(topic, 1); o.Offset < 4 {
		t.Fatalf("last stable offset of partition 1 is %d, want past the 3 records and the marker", o.Offset)
	}

	// The producer, unaware, commits and writes one more transaction on the same partition.
	_ = txn.EndTransaction(ctx, kgo.TryCommit)
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The commit's markers reach the partitions after EndTransaction returns: on a busy
	// machine the last stable offset may lag a moment, so read until the commit shows (an
	// aborted record that became visible fails below whenever it shows).
	var recs []*kgo.Record
	for deadline := time.Now().Add(30 * time.Second); len(recs) == 0 && time.Now().Before(deadline); {
		var err error
		if recs, err = c.ReadCommitted(ctx, t, topic); err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, r := range recs {
		if string(r.Value) != "committed" {
			t.Fatalf("read_committed sees %q at [%d]@%d: the aborted transaction became visible", r.Value, r.Partition, r.Offset)
		}
	}
	if len(recs) != 1 {
		t.Fatalf("read_committed sees %d records, want the 1 committed", len(recs))
	}
}

func TestOutcomeOf(t *testing.T) {
	for state, want := range map[string]outcome{
		"Ongoing": outcomeAbort, "PrepareAbort": outcomeAbort, "CompleteAbort": outcomeAbort, "PrepareEpochFence": outcomeAbort,
		"PrepareCommit": outcomeCommit, "CompleteCommit": outcomeCommit,
		"Empty": outcomeUnknown, "Dead": outcomeUnknown, "": outcomeUnknown,
	} {
		if got := outcomeOf(state); got != want {
			t.Errorf("outcomeOf(%q) = %v, want %v", state, got, want)
		}
	}
}
