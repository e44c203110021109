// Command capture reads topics an old build of the connector wrote and prints their records
// as JSON lines (oldwriters.Record): the golden dumps of connector/internal/oldwriters.
// capture.sh runs it; see there.
//
//	capture -brokers 127.0.0.1:9092 -writer 71e1c68 events=old.events state=old.state > 71e1c68.jsonl
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	"github.com/partoo-connector/partoo-connector/connector/internal/oldwriters"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BROKERS"), "bootstrap brokers, comma-separated")
	writer := flag.String("writer", "", "the commit whose build wrote the topics")
	flag.Parse()
	if *brokers == "" || *writer == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: capture -brokers B -writer COMMIT kind=topic...")
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, arg := range flag.Args() {
		kind, topic, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "capture: %q is not kind=topic\n", arg)
			os.Exit(2)
		}
		recs, err := read(strings.Split(*brokers, ","), topic)
		if err != nil {
			fmt.Fprintf(os.Stderr, "capture: %s: %v\n", topic, err)
			os.Exit(1)
		}
		for _, r := range recs {
			out := oldwriters.Record{Writer: *writer, Topic: kind, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				out.Headers = append(out.Headers, oldwriters.Header{Key: h.Key, Value: h.Value})
			}
			if err := enc.Encode(out); err != nil {
				os.Exit(1)
			}
		}
		fmt.Fprintf(os.Stderr, "capture: %s (%s): %d records\n", topic, kind, len(recs))
	}
}

// read returns a topic's committed records, by partition and offset.
func read(brokers []string, topic string) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	err := kafkatopic.ReadToEnd(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, func(r *kgo.Record) error {
		recs = append(recs, r)
		return nil
	})
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs, err
}
