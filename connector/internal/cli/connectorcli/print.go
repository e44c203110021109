package connectorcli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
)

// Output formats of `tail` and `demo`.
const (
	formatJSON = "json"
	formatText = "text"
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

// printer writes event records as JSON lines or readable text lines.
type printer struct {
	w       io.Writer
	enc     *json.Encoder
	format  string
	codec   *events.Codec
	count   map[string]int
	printed int
}

func newPrinter(w io.Writer, format string) (*printer, error) {
	if format != formatJSON && format != formatText {
		return nil, fmt.Errorf("format %q is not json or text", format)
	}
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	return &printer{w: w, enc: json.NewEncoder(w), format: format, codec: codec, count: map[string]int{}}, nil
}

// isTerminal reports whether w is a character device (a terminal), not a pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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
	p.printed++
	if p.format == formatText {
		_, err := io.WriteString(p.w, textLine(line)+"\n")
		return err
	}
	return p.enc.Encode(line)
}

// textLine is one readable line: time, type, conversation, message, what changed, and a
// shortened content.
func textLine(l eventLine) string {
	ev, _ := l.Event.(map[string]any)
	if msg, bad := ev["error"].(string); bad && len(ev) == 1 {
		return fmt.Sprintf("%s[%d]@%d key=%s undecodable: %s", l.Headers[events.HeaderCEType], l.Partition, l.Offset, l.Key, msg)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	at := str(ev, "detected_at")
	if len(at) > len("2006-01-02T15:04:05") {
		at = at[:len("2006-01-02T15:04:05")] + "Z"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-14s conv=%v msg=%v", at, l.Type, ev["conversation_id"], ev["message_id"])
	m, _ := ev["message"].(map[string]any)
	switch l.Type {
	case "MessageCreated":
		if ev["snapshot"] == true {
			b.WriteString(" snapshot")
		}
		fmt.Fprintf(&b, " %s %s", str(m, "sender_type_raw"), str(m, "status_raw"))
	case "StatusChanged":
		fmt.Fprintf(&b, " %s→%s", str(ev, "previous_status_raw"), str(ev, "status_raw"))
	case "MessageDeleted":
		fmt.Fprintf(&b, " %s", str(ev, "reason"))
	}
	if c := str(m, "content"); c != "" {
		fmt.Fprintf(&b, " %q", shorten(c, 60))
	}
	return b.String()
}

// shorten cuts s to at most n runes, on one line.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
