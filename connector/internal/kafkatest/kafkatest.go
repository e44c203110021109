package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables read by this package.
const (
	EnvBrokers     = "KAFKA_BROKERS"
	EnvRequireReal = "KAFKA_REQUIRE_REAL"
)

// Kind says where a Cluster's brokers come from.
type Kind string

const (
	KindExternal       Kind = "external"       // KAFKA_BROKERS
	KindTestcontainers Kind = "testcontainers" // apache/kafka in Docker
	KindFake           Kind = "kfake"          // in-process, not a real broker
)

// Cluster is a Kafka cluster a test may use. Topics it creates should come from Topic so that
// tests never share one.
type Cluster struct {
	Brokers []string
	Kind    Kind
}

// Real reports whether the cluster is a real Apache Kafka broker rather than kfake.
func (c *Cluster) Real() bool { return c.Kind != KindFake }

// Client returns a kgo client for the cluster, closed when the test ends.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client for the cluster, closed when the test ends.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}

// RequireReal reports whether the environment demands a real broker (KAFKA_REQUIRE_REAL).
func RequireReal() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvRequireReal))) {
	case "1", "true", "yes":
		return true
	}
	return false
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// New returns the cluster for this test run (see the package doc for how it is chosen). The
// external and Docker clusters are shared by every test in the binary; a kfake cluster is new
// for each test and closed when it ends.
func New(t testing.TB) *Cluster {
	t.Helper()
	if brokers := splitBrokers(os.Getenv(EnvBrokers)); len(brokers) > 0 {
		return &Cluster{Brokers: brokers, Kind: KindExternal}
	}
	sharedOnce.Do(func() { shared, sharedErr = startContainer(context.Background()) })
	if shared != nil {
		return shared
	}
	if RequireReal() {
		t.Fatalf("kafkatest: %s=1 but no real broker: %s is empty and Docker is unavailable (%v); "+
			"start one with deploy/local-kafka/kafka.sh start", EnvRequireReal, EnvBrokers, sharedErr)
	}
	t.Logf("kafkatest: no real Kafka broker (%s unset, Docker unavailable: %v); using in-process kfake", EnvBrokers, sharedErr)
	return NewFake(t)
}

// NewFake returns a fresh in-process kfake cluster, closed when the test ends. Tests that only
// need Kafka semantics kfake implements may call it directly for speed.
func NewFake(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	// The cleaner runs every 200 ms, as on the local broker, so compaction is observable.
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "200"}),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Cluster{Brokers: c.ListenAddrs(), Kind: KindFake}
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Topic returns a topic name unique to this test: its name plus a random suffix.
func Topic(t testing.TB) string {
	t.Helper()
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 150 {
		name = name[:150]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("kafkatest: random: %v", err)
	}
	return "test." + strings.ToLower(name) + "." + hex.EncodeToString(b[:])
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
