// Package oldwriters holds records written by earlier releases of the connector — real
// records, captured from old builds by capture.sh (documented there, never run by CI) — so that
// tests can replay them into topics and check that today's readers read every one.
//
// testdata/<commit>.jsonl holds one record a line, as written by the build of that commit.
package oldwriters

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed testdata/*.jsonl
var files embed.FS

// Topic kinds of a record: which of the connector's topics the old build wrote it to.
const (
	TopicEvents        = "events"
	TopicState         = "state"
	TopicMessages      = "messages"      // the messages table
	TopicConversations = "conversations" // the conversations table
)

// Record is one record as an old build wrote it. Value nil is a tombstone.
type Record struct {
	Writer    string   `json:"writer"` // the commit whose build wrote it
	Topic     string   `json:"topic"`  // TopicEvents, TopicState, ...
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Key       []byte   `json:"key"`
	Value     []byte   `json:"value"`
	Headers   []Header `json:"headers,omitempty"`
}

// Header is a record header.
type Header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// Header returns the value of the header named key ("" when absent).
func (r Record) Header(key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Writers lists the commits whose records are held, in name order.
func Writers() []string {
	names, _ := fs.Glob(files, "testdata/*.jsonl")
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimSuffix(path.Base(n), ".jsonl"))
	}
	sort.Strings(out)
	return out
}

// Records returns the records the build of writer wrote, in the order captured (topic, then
// partition and offset).
func Records(writer string) ([]Record, error) {
	b, err := files.ReadFile("testdata/" + writer + ".jsonl")
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse reads JSON lines of records.
func Parse(b []byte) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
