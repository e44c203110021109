package main

import (
	"encoding/json"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/events"
)

// eventLine is one JSON line of `tail` and `demo`.
type eventLine struct {
	Type      string            `json:"type"`
	Key       string            `json:"key"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Headers   map[string]string `json:"headers"`
	Event     any               `json:"event"`
}

// printer writes event records as JSON lines.
type printer struct {
	enc   *json.Encoder
	codec *events.Codec
	count map[string]int
}

func newPrinter(w io.Writer) (*printer, error) {
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	return &printer{enc: json.NewEncoder(w), codec: codec, count: map[string]int{}}, nil
}

// print decodes and writes one record; a record that is not one of our events is printed
// with its error instead of its event, never dropped silently.
func (p *printer) print(r *kgo.Record) error {
	line := eventLine{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset, Headers: map[string]string{}}
	for _, h := range r.Headers {
		line.Headers[h.Key] = string(h.Value)
	}
	line.Type = line.Headers[events.HeaderEventType]
	// Registry-framed values carry the schema's fingerprint too: no registry call needed.
	_, native, err := p.codec.DecodeWithFingerprint(r.Value, line.Headers[events.HeaderFingerprint])
	if err != nil {
		line.Event = map[string]string{"error": err.Error()}
	} else {
		line.Event = events.Plain(native)
	}
	p.count[line.Type]++
	return p.enc.Encode(line)
}
