package connectorcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
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
	rows    *tables.Codec // the table topics' rows (tail --topic partoo.messages.table)
	count   map[string]int
	unknown map[string]int // records of an unknown schema fingerprint, by fingerprint
	printed int
	// counted, when set, is called after each record is counted (demo --until-every-type).
	counted func(count map[string]int)
}

func newPrinter(w io.Writer, format string) (*printer, error) {
	if format != formatJSON && format != formatText {
		return nil, fmt.Errorf("format %q is not json or text", format)
	}
	codec, err := events.NewCodec()
	if err != nil {
		return nil, err
	}
	rows, err := tables.NewCodec()
	if err != nil {
		return nil, err
	}
	return &printer{w: w, enc: json.NewEncoder(w), format: format, codec: codec, rows: rows, count: map[string]int{}, unknown: map[string]int{}}, nil
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
	fp := line.Headers[events.HeaderFingerprint]
	name, native, err := p.codec.DecodeWithFingerprint(r.Value, fp)
	switch {
	case r.Value == nil:
		line.Type = "tombstone" // a table topic's deleted row
	case err != nil && line.Type == "":
		// Not an event: a table topic's row?
		if name, native, err = p.rows.DecodeWithFingerprint(r.Value, fp); err == nil {
			line.Type = name[strings.LastIndexByte(name, '.')+1:]
		}
	}
	var unknown *schemahistory.UnknownError
	if r.Value != nil && errors.As(err, &unknown) {
		p.unknown[unknown.Fingerprint]++
	}
	switch {
	case r.Value == nil:
	case err != nil:
		line.Event = map[string]string{"error": err.Error()}
	default:
		line.Event = events.Plain(native)
	}
	p.count[line.Type]++
	p.printed++
	if p.counted != nil {
		defer p.counted(p.count)
	}
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
	if at == "" {
		at = str(ev, "updated_at") // a table row
	}
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
	case "MessageRow":
		fmt.Fprintf(&b, " %s %s %s/%s", str(ev, "sender_type"), str(ev, "status"), str(ev, "messaging_partner"), str(ev, "business_id"))
		m = ev
	case "ConversationRow":
		fmt.Fprintf(&b, " %s %s/%s", str(ev, "status"), str(ev, "messaging_partner"), str(ev, "business_id"))
	case "tombstone":
		fmt.Fprintf(&b, " key=%s deleted", l.Key)
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
