package state

import (
	"fmt"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/avroframe"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/schemahistory"
	"github.com/partoo-connector/partoo-connector/schemas"
)

// Codec encodes diff.State as a ConversationState record, and decodes the records of every
// release (schemas/history). Safe for concurrent use.
type Codec struct {
	so   *avroframe.SingleObject
	byFP map[uint64]*avroframe.SingleObject // today's schema and every release's
}

// NewCodec compiles the embedded ConversationState schema and its history.
func NewCodec() (*Codec, error) {
	so, err := avroframe.NewSingleObject(schemas.ConversationState)
	if err != nil {
		return nil, err
	}
	entries, err := schemahistory.Load()
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	byFP := schemahistory.Of(entries, "ConversationState")
	byFP[so.Fingerprint] = so
	return &Codec{so: so, byFP: byFP}, nil
}

// Encode returns the record value for s.
func (c *Codec) Encode(s *diff.State) ([]byte, error) {
	n := len(s.Messages)
	ids := make([]any, n)
	dates := make([]any, n)
	statuses := make([]byte, n)
	kinds := make([]byte, n)
	flags := make([]byte, n)
	seqs := make([]byte, n)
	var prevID, prevDate int64
	for i, m := range s.Messages {
		ids[i] = m.ID - prevID
		dates[i] = m.DateMicros - prevDate
		prevID, prevDate = m.ID, m.DateMicros
		statuses[i], kinds[i], flags[i], seqs[i] = m.Status, m.Kind, m.Flags, m.StatusSeq
	}
	raw := make(map[string]any, len(s.Raw))
	for k, v := range s.Raw {
		raw[k] = v
	}
	return c.so.Append(make([]byte, 0, 64+12*n), map[string]any{
		"conversation_id": s.ConversationID,
		"snapshot_done":   s.SnapshotDone,
		"updated_at":      s.UpdatedAt.UTC(),
		"id_deltas":       ids,
		"date_deltas":     dates,
		"statuses":        statuses,
		"kinds":           kinds,
		"flags":           flags,
		"status_changes":  seqs,
		"raw":             raw,
	})
}

// Decode parses a record value.
func (c *Codec) Decode(value []byte) (*diff.State, error) {
	fp, body, err := avroframe.SplitSingleObject(value)
	if err != nil {
		return nil, err
	}
	so := c.byFP[fp]
	if so == nil {
		return nil, &schemahistory.UnknownError{Reader: "state", Fingerprint: schemahistory.Hex(fp)}
	}
	n, err := so.DecodeBody(body)
	if err != nil {
		return nil, err
	}
	m, ok := n.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("state: not a record")
	}
	ids, _ := m["id_deltas"].([]any)
	dates, _ := m["date_deltas"].([]any)
	statuses, _ := m["statuses"].([]byte)
	kinds, _ := m["kinds"].([]byte)
	flags, _ := m["flags"].([]byte)
	seqs, _ := m["status_changes"].([]byte)
	k := len(ids)
	if len(dates) != k || len(statuses) != k || len(kinds) != k || len(flags) != k || len(seqs) != k {
		return nil, fmt.Errorf("state: columns of different lengths")
	}
	s := &diff.State{
		ConversationID: m["conversation_id"].(int64),
		SnapshotDone:   m["snapshot_done"].(bool),
		Messages:       make([]diff.MessageState, k),
		Raw:            map[string]string{},
	}
	if t, ok := m["updated_at"].(time.Time); ok {
		s.UpdatedAt = t.UTC()
	}
	var id, date int64
	for i := 0; i < k; i++ {
		id += ids[i].(int64)
		date += dates[i].(int64)
		s.Messages[i] = diff.MessageState{ID: id, DateMicros: date, Status: statuses[i], Kind: kinds[i], Flags: flags[i], StatusSeq: seqs[i]}
	}
	if raw, ok := m["raw"].(map[string]any); ok {
		for k, v := range raw {
			s.Raw[k], _ = v.(string)
		}
	}
	return s, nil
}
