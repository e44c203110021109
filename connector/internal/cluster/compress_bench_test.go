package cluster_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// batch is what a transaction of a first snapshot writes to one partition of the events topic:
// the MessageCreated events of realistic conversations (the simulator's pages), Avro
// single-object encoded by the shipped codec, each with its key, laid out with length prefixes
// as in a Kafka record batch's records section (which is what the producer compresses).
func batch(tb testing.TB, pages ...string) []byte {
	tb.Helper()
	codec, err := events.NewCodec()
	if err != nil {
		tb.Fatal(err)
	}
	var out []byte
	for _, name := range pages {
		raw, err := os.ReadFile("../partoo/testdata/pages/" + name)
		if err != nil {
			tb.Fatal(err)
		}
		page, err := partoo.DecodeMessagePage(raw)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page.Messages) == 0 {
			tb.Fatalf("%s: no message", name)
		}
		conv := page.Messages[0].ConversationID
		r := diff.Diff(nil, conv, page.Messages, diff.Complete, time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), diff.Options{Organization: 7})
		for _, e := range r.Events {
			e.Context = model.Context{OrganizationID: 7, BusinessID: "b-42", Partner: model.Partner("whatsapp"), Known: true}
			enc, err := codec.Encode(e)
			if err != nil {
				tb.Fatal(err)
			}
			key := enc.Key
			out = binary.AppendUvarint(out, uint64(len(key)))
			out = append(out, key...)
			out = binary.AppendUvarint(out, uint64(len(enc.Value)))
			out = append(out, enc.Value...)
		}
	}
	return out
}

// BenchmarkCompression compresses a first snapshot's batch of event records with each codec
// KAFKA_COMPRESSION offers, through the compressor the producers use (cluster.NewCompressor:
// franz-go's, pooled for the process). Reported: the compressed size as a share of the raw
// batch (ratio), and, measured once per codec outside the loop, the bytes allocated by the first
// compression of a fresh compressor (cold-bytes: an encoder's cost, what each producer paid
// when every producer had its own pool).
//
//	go test -run XXX -bench Compression -benchmem ./connector/internal/cluster/
func BenchmarkCompression(b *testing.B) {
	raw := batch(b, "realistic-messages-100.json", "realistic-messages-20.json", "classic-messages-100.json")
	for _, codec := range cluster.Compressions {
		b.Run(codec, func(b *testing.B) {
			cold := coldBytes(b, codec, raw)
			c, err := cluster.NewCompressor(codec)
			if err != nil {
				b.Fatal(err)
			}
			var dst bytes.Buffer
			size := len(raw)
			b.SetBytes(int64(len(raw)))
			b.ResetTimer()
			for b.Loop() {
				dst.Reset()
				if c != nil {
					out, _ := c.Compress(&dst, raw)
					size = len(out)
				}
			}
			b.ReportMetric(float64(size)/float64(len(raw)), "ratio")
			b.ReportMetric(float64(cold), "cold-bytes")
		})
	}
}

// coldBytes is what the first compression of a fresh compressor allocates.
func coldBytes(tb testing.TB, codec string, raw []byte) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := cluster.NewCompressor(codec)
	if err != nil {
		tb.Fatal(err)
	}
	if c != nil {
		var dst bytes.Buffer
		c.Compress(&dst, raw)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// codecTypes are the Kafka codec numbers of the record batch attributes.
var codecTypes = map[string]kgo.CompressionCodecType{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// TestCompressorsRoundTrip: every codec KAFKA_COMPRESSION offers compresses a batch smaller
// (none leaves it as is) with the codec it names.
func TestCompressorsRoundTrip(t *testing.T) {
	raw := batch(t, "realistic-messages-20.json")
	for _, codec := range cluster.Compressions {
		c, err := cluster.NewCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		if codec == "none" {
			if c != nil {
				t.Fatal("none: no compressor")
			}
			continue
		}
		var dst bytes.Buffer
		out, typ := c.Compress(&dst, raw)
		if len(out) == 0 || len(out) >= len(raw) {
			t.Fatalf("%s: %d bytes from %d", codec, len(out), len(raw))
		}
		if want := codecTypes[codec]; typ != want {
			t.Fatalf("%s: compressed as codec type %d, want %d", codec, typ, want)
		}
	}
}
