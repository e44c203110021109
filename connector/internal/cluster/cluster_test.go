package cluster_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
)

// heard collects what an organisation hears from the layer.
type heard struct {
	mu       sync.Mutex
	down     []*cluster.Outage
	metadata int
	missing  []string
	records  []string
}

func (h *heard) org(name string, topics []string) cluster.Org {
	return cluster.Org{Name: name, Topics: topics,
		Kafka: func(o *cluster.Outage) { h.mu.Lock(); h.down = append(h.down, o); h.mu.Unlock() },
		Metadata: func(md kadm.Metadata) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.metadata++
			h.missing = h.missing[:0]
			for _, t := range topics {
				if td, ok := md.Topics[t]; !ok || td.Err != nil {
					h.missing = append(h.missing, t)
				}
			}
		}}
}

func (h *heard) snapshot() (downs []*cluster.Outage, metadata int, missing, records []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*cluster.Outage(nil), h.down...), h.metadata, append([]string(nil), h.missing...), append([]string(nil), h.records...)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	ctx := kafkatest.Context(t, 2*time.Minute)
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("never: %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestEveryOrganisationHearsTheProcessFacts joins two organisations to one layer: each hears
// Kafka up at once, the metadata of its own topics (a deleted one shows missing to its owner
// only), and the records of its own signal topic only, all through the one process client.
func TestEveryOrganisationHearsTheProcessFacts(t *testing.T) {
	kc := kafkatest.New(t)
	adm := kc.Admin(t)
	ctx := kafkatest.Context(t, 2*time.Minute)
	a, b, sigA, sigB := kafkatest.Topic(t), kafkatest.Topic(t), kafkatest.Topic(t), kafkatest.Topic(t)
	for _, topic := range []string{a, b, sigA, sigB} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	c, err := cluster.New(cluster.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start()
	var ha, hb heard
	ma, mb := c.Join(ha.org("a", []string{a})), c.Join(hb.org("b", []string{b}))
	defer ma.Leave()
	defer mb.Leave()
	for _, h := range []*heard{&ha, &hb} {
		if downs, _, _, _ := h.snapshot(); len(downs) != 1 || downs[0] != nil {
			t.Fatalf("at Join an organisation hears Kafka's state once (up: nil); got %v", downs)
		}
	}
	deliver := func(h *heard) func(*kgo.Record) {
		return func(r *kgo.Record) { h.mu.Lock(); h.records = append(h.records, string(r.Value)); h.mu.Unlock() }
	}
	ma.ReadSignals(sigA, kgo.NewOffset().AtStart(), deliver(&ha), nil)
	mb.ReadSignals(sigB, kgo.NewOffset().AtStart(), deliver(&hb), nil)
	prod := kc.Client(t)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: sigA, Value: []byte("for-a")}, &kgo.Record{Topic: sigB, Value: []byte("for-b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "each organisation reads its own signal", func() bool {
		_, _, _, ra := ha.snapshot()
		_, _, _, rb := hb.snapshot()
		return len(ra) > 0 && len(rb) > 0
	})
	if _, _, _, ra := ha.snapshot(); !slices.Equal(ra, []string{"for-a"}) {
		t.Fatalf("a read %v, want only its own record", ra)
	}
	if _, _, _, rb := hb.snapshot(); !slices.Equal(rb, []string{"for-b"}) {
		t.Fatalf("b read %v, want only its own record", rb)
	}
	if _, err := adm.DeleteTopics(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b hears its topic is gone", func() bool { _, _, m, _ := hb.snapshot(); return slices.Equal(m, []string{b}) })
	if _, n, m, _ := ha.snapshot(); n == 0 || len(m) != 0 {
		t.Fatalf("a's topics were checked %d times and %v are missing; want checked, none missing", n, m)
	}
}

// TestKafkaDownIsHeardByEveryOrganisation points the layer at a port where no broker answers:
// the first ping fails, every joined organisation hears the outage, and one that joins later
// hears it at once.
func TestKafkaDownIsHeardByEveryOrganisation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := cluster.New(cluster.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var h1, h2 heard
	m1 := c.Join(h1.org("one", nil))
	defer m1.Leave()
	c.Start()
	waitFor(t, "the outage is heard", func() bool { d, _, _, _ := h1.snapshot(); return len(d) == 2 && d[1] != nil })
	m2 := c.Join(h2.org("two", nil))
	defer m2.Leave()
	if d, _, _, _ := h2.snapshot(); len(d) != 1 || d[0] == nil || d[0].Since.IsZero() {
		t.Fatalf("an organisation joining during an outage hears it at once; got %v", d)
	}
}

// TestProducerClientIDNamesTheOrganisation: every producer's client id is the process's client
// id and the organisation's name (or, alone, its transactional id), never the replica.
func TestProducerClientIDNamesTheOrganisation(t *testing.T) {
	c, err := cluster.New(cluster.Config{Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, ClientID: "pc"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ProducerClientID("acme", "txn-acme"); got != "pc.acme" {
		t.Fatalf("ProducerClientID = %q, want pc.acme", got)
	}
	if got := c.ProducerClientID("", "txn-1"); got != "pc.txn-1" {
		t.Fatalf("ProducerClientID = %q, want pc.txn-1", got)
	}
	if _, err := cluster.New(cluster.Config{Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, Compression: "brotli"}); err == nil {
		t.Fatal("an unknown compression is refused")
	}
}

// TestPresenceListsTheTransactionalIDs: one member of the presence group per process, whose
// metadata lists the transactional ids of the organisations joined; Present finds an id while
// an organisation of it is joined, and not after it left.
func TestPresenceListsTheTransactionalIDs(t *testing.T) {
	kc := kafkatest.New(t)
	adm := kc.Admin(t)
	group := kafkatest.Topic(t)
	c, err := cluster.New(cluster.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, PresenceGroup: group, PresenceTopic: group + ".topic"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start()
	ma := c.Join(cluster.Org{Name: "a", TransactionalID: "txn-a"})
	mb := c.Join(cluster.Org{Name: "b", TransactionalID: "txn-b"})
	defer mb.Leave()
	present := func(txn string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := lease.Present(ctx, adm, group, txn)
		if err != nil {
			return nil
		}
		return p
	}
	waitFor(t, "both ids are listed", func() bool { return len(present("txn-a")) == 1 && len(present("txn-b")) == 1 })
	ma.Leave()
	waitFor(t, "a's id is no longer listed once it left", func() bool { return len(present("txn-a")) == 0 })
	if p := present("txn-b"); len(p) != 1 {
		t.Fatalf("b is still joined: present %v", p)
	}
	if p := present("txn-c"); len(p) != 0 {
		t.Fatalf("txn-c never joined: present %v", p)
	}
}
