// Package cluster is the process's Kafka layer: what every organisation needs of the Kafka
// cluster that the process does once for all of them. One client (ClientID, by default
// "partoo-connector") answers the admin and metadata requests of every organisation and reads
// every organisation's signal topic; one loop asks whether Kafka answers; one asks whether
// every organisation's topics still exist; one asks which producers wrote to every state
// topic; one member of the presence group says which transactional ids the process writes
// for (PresenceGroup). The producers' compression is chosen once and its encoders pooled for the process
// (Compressor).
//
// An organisation keeps only its transactional producer (named by its own client id:
// ProducerOpts) and hears the process's facts as calls on its Org: Kafka down or up, the
// topics' metadata, its state topic's producers, a signal record. The calls come from the
// layer's goroutines and must return quickly: they record and decide, and never wait on
// Kafka.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
)

// Defaults of Config.
const (
	// DefaultClientID is the client id of the process's own client (KAFKA_CLIENT_ID).
	DefaultClientID = "partoo-connector"
	// DefaultCompression is the producers' codec (KAFKA_COMPRESSION).
	DefaultCompression = "zstd"
)

// Compressions are the values of Config.Compression.
var Compressions = []string{"zstd", "lz4", "snappy", "gzip", "none"}

// Pace of the loops.
const (
	pingEvery      = 2 * time.Second
	pingTimeout    = 4 * time.Second
	topicsEvery    = 10 * time.Second
	producersEvery = 30 * time.Second
	requestTimeout = 10 * time.Second
)

// Config configures a Cluster.
type Config struct {
	// Kafka are the connection options (seed brokers, TLS, SASL) of every client. Required.
	Kafka []kgo.Opt
	// ClientID names the process's client [DefaultClientID]; organisations' producers are
	// named ClientID + "." + their name (ProducerClientID).
	ClientID string
	// Compression is the producers' codec, one of Compressions [DefaultCompression].
	Compression string
	// PresenceGroup is the process presence group, whose members' metadata list the
	// transactional ids each process writes for (lease.ProcessPresence), and PresenceTopic the
	// one-partition topic (no record) its members subscribe to; "": no presence member.
	PresenceGroup, PresenceTopic string
	// ReplicationFactor of the presence topic when created [-1: the broker's default].
	ReplicationFactor int16
	Logger            *slog.Logger
}

// Outage is Kafka not answering: since when, and the last error.
type Outage struct {
	Since time.Time
	Err   string
}

func (o *Outage) String() string {
	return fmt.Sprintf("Kafka does not answer since %s (%s ago): %s; walks are paused until it does", o.Since.UTC().Format(time.RFC3339),
		time.Since(o.Since).Round(time.Second), o.Err)
}

// Org is what an organisation tells the layer when it joins, and the calls by which it hears
// the process's facts. Every call is optional, made from the layer's goroutines, and must
// return quickly.
type Org struct {
	Name string // for logs
	// Topics are watched: Metadata receives their metadata after every check.
	Topics []string
	// StateTopic's producers are described every 30 s (Producers).
	StateTopic string
	// TransactionalID is listed in the presence group while the organisation is joined.
	TransactionalID string
	// Kafka is called with the outage when Kafka stops answering, with nil when it answers
	// again, and once at Join with the current state.
	Kafka func(down *Outage)
	// Metadata receives the answer of a check of Topics.
	Metadata func(md kadm.Metadata)
	// Producers receives the producers of StateTopic's partitions.
	Producers func(d kadm.DescribedProducersPartitions)
}

// Cluster is the process's Kafka layer. Create it with New, Start it, Close it last.
type Cluster struct {
	cfg        Config
	cl         *kgo.Client
	adm        *kadm.Client
	compressor kgo.Compressor
	log        *slog.Logger

	start       sync.Once
	cancel      context.CancelFunc
	done        chan struct{}
	checkTopics chan struct{} // a member asks for a check of the topics now

	mu       sync.Mutex
	members  map[*Member]struct{}
	signals  map[string]*signalReader // signal topic → its reader
	down     *Outage
	presence *lease.ProcessPresence
	joining  bool // the presence member is being created
	closed   bool
}

// New validates cfg and builds the layer's client; it touches no network until used.
func New(cfg Config) (*Cluster, error) {
	if len(cfg.Kafka) == 0 {
		return nil, errors.New("cluster: Kafka connection options are required")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.Compression == "" {
		cfg.Compression = DefaultCompression
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	comp, err := NewCompressor(cfg.Compression)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Kafka...), kgo.ClientID(cfg.ClientID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &Cluster{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), compressor: comp, log: cfg.Logger.With("component", "kafka"),
		members: map[*Member]struct{}{}, signals: map[string]*signalReader{}, done: make(chan struct{}), checkTopics: make(chan struct{}, 1)}, nil
}

// NewCompressor returns the producers' compressor of codec (one of Compressions); nil for
// "none". Its encoders are pooled: one compressor serves every producer of the process.
func NewCompressor(codec string) (kgo.Compressor, error) {
	var c kgo.CompressionCodec
	switch strings.ToLower(codec) {
	case "zstd":
		c = kgo.ZstdCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "gzip":
		c = kgo.GzipCompression()
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("cluster: compression %q is not one of %v", codec, Compressions)
	}
	return kgo.DefaultCompressor(c)
}

// Admin is the process's admin client.
func (c *Cluster) Admin() *kadm.Client { return c.adm }

// Client is the process's client.
func (c *Cluster) Client() *kgo.Client { return c.cl }

// Kafka are the connection options every client of the process starts from.
func (c *Cluster) Kafka() []kgo.Opt { return c.cfg.Kafka }

// ProducerClientID is the client id of an organisation's producer: stable across restarts and
// rollouts (the organisation's name, or for a single organisation its transactional id), so
// that per-client quotas and metering apply to one organisation.
func (c *Cluster) ProducerClientID(org, transactionalID string) string {
	if org == "" {
		org = transactionalID
	}
	return c.cfg.ClientID + "." + org
}

// ProducerOpts are an organisation's producer's options: the connection, its client id and
// the process's compressor.
func (c *Cluster) ProducerOpts(org, transactionalID string) []kgo.Opt {
	opts := append(append([]kgo.Opt(nil), c.cfg.Kafka...), kgo.ClientID(c.ProducerClientID(org, transactionalID)))
	if c.compressor == nil {
		return append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	return append(opts, kgo.WithCompressor(c.compressor))
}

// Compression is the producers' codec.
func (c *Cluster) Compression() string { return c.cfg.Compression }

// Start starts the layer's loops (once); Close stops them.
func (c *Cluster) Start() {
	c.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		go func() {
			defer close(c.done)
			var wg sync.WaitGroup
			for _, loop := range []func(context.Context){c.liveness, c.watchTopics, c.watchProducers, c.readSignals} {
				wg.Add(1)
				go func() { defer wg.Done(); loop(ctx) }()
			}
			wg.Wait()
		}()
	})
}

// Close stops the loops, leaves the presence group and closes the client.
func (c *Cluster) Close() {
	started := false
	c.start.Do(func() {}) // a Start after Close starts nothing
	if c.cancel != nil {
		c.cancel()
		started = true
	}
	if started {
		<-c.done
	}
	c.mu.Lock()
	p := c.presence
	c.presence, c.closed = nil, true
	c.mu.Unlock()
	if p != nil {
		p.Close()
	}
	c.cl.Close()
}

// Down returns the current outage, nil while Kafka answers.
func (c *Cluster) Down() *Outage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}
