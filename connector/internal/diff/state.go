package diff

import (
	"sort"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// Status codes kept in MessageState (0: not a documented value, raw string in RawStatus).
const (
	StatusOther   uint8 = 0
	StatusSending uint8 = 1
	StatusSuccess uint8 = 2
	StatusFailed  uint8 = 3
)

var statusCodes = map[model.Status]uint8{model.StatusSending: StatusSending, model.StatusSuccess: StatusSuccess, model.StatusFailed: StatusFailed}
var statusNames = [...]model.Status{"", model.StatusSending, model.StatusSuccess, model.StatusFailed}

var contentTypes = []model.ContentType{"", model.ContentText, model.ContentImage, model.ContentVideo, model.ContentAudio,
	model.ContentDocument, model.ContentIgStoryReply, model.ContentIgStoryMention, model.ContentUnsupported}
var senderTypes = []model.SenderType{"", model.SenderUser, model.SenderConsumer, model.SenderMetadata}

// MessageState is what the diff remembers of one message: 24 bytes, plus a map entry for
// the rare undocumented value.
type MessageState struct {
	ID         int64
	DateMicros int64
	Status     uint8 // Status* code
	Kind       uint8 // content type code (low 4 bits) | sender type code (high 4 bits)
	Flags      uint8 // bit 0: deleted; bits 1-7: consecutive complete walks absent
	StatusSeq  uint8 // StatusChanged events emitted so far (mod 256), for event ids
}

const flagDeleted = 1

// Deleted reports whether a MessageDeleted(ConsumerDeleted) was emitted for the message.
func (m MessageState) Deleted() bool { return m.Flags&flagDeleted != 0 }

// Missed is the number of consecutive complete walks the message was absent from.
func (m MessageState) Missed() int { return int(m.Flags >> 1) }

func (m *MessageState) setMissed(n int) {
	if n > 127 {
		n = 127
	}
	m.Flags = m.Flags&flagDeleted | uint8(n)<<1
}

// State is the recorded state of one conversation. Messages are sorted by ID. Raw holds the
// strings of undocumented values, keyed like the state record ("s:<id>", "c:<id>", "t:<id>").
type State struct {
	ConversationID int64
	SnapshotDone   bool
	UpdatedAt      time.Time
	Messages       []MessageState
	Raw            map[string]string
}

// absentSince is when the first complete walk of the current run of absences of message id
// missed it (raw "m:<id>", microseconds); zero when not recorded.
func (s *State) absentSince(id int64) time.Time {
	v, ok := s.Raw[rawKey('m', id)]
	if !ok {
		return time.Time{}
	}
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// generation is how many times message id was reported Vanished (raw "x:<id>"); its events
// after the n-th return carry the suffix "#n" in their id.
func (s *State) generation(id int64) int {
	n, _ := strconv.Atoi(s.Raw[rawKey('x', id)])
	return n
}

// Find returns the index of message id, or -1.
func (s *State) Find(id int64) int {
	i := sort.Search(len(s.Messages), func(i int) bool { return s.Messages[i].ID >= id })
	if i < len(s.Messages) && s.Messages[i].ID == id {
		return i
	}
	return -1
}

// StatusOf returns the recorded status of a message, as Partoo's string.
func (s *State) StatusOf(m MessageState) model.Status {
	if m.Status != StatusOther && int(m.Status) < len(statusNames) {
		return statusNames[m.Status]
	}
	return model.Status(s.Raw[rawKey('s', m.ID)])
}

// ContentTypeOf returns the recorded content type of a message.
func (s *State) ContentTypeOf(m MessageState) model.ContentType {
	if c := int(m.Kind & 0x0f); c != 0 && c < len(contentTypes) {
		return contentTypes[c]
	}
	return model.ContentType(s.Raw[rawKey('c', m.ID)])
}

// SenderTypeOf returns the recorded sender type of a message.
func (s *State) SenderTypeOf(m MessageState) model.SenderType {
	if c := int(m.Kind >> 4); c != 0 && c < len(senderTypes) {
		return senderTypes[c]
	}
	return model.SenderType(s.Raw[rawKey('t', m.ID)])
}

func rawKey(kind byte, id int64) string {
	b := make([]byte, 0, 24)
	b = append(b, kind, ':')
	return string(appendInt(b, id))
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// encodeMessage returns the MessageState for a walked message and records raw strings of
// undocumented values in raw.
func encodeMessage(m model.Message, raw map[string]string) MessageState {
	ms := MessageState{ID: m.ID, DateMicros: m.Date.UnixMicro()}
	ms.Status = statusCodes[m.Status]
	if ms.Status == StatusOther {
		raw[rawKey('s', m.ID)] = string(m.Status)
	}
	ct := indexOf(contentTypes, m.ContentType)
	if ct <= 0 {
		ct = 0
		raw[rawKey('c', m.ID)] = string(m.ContentType)
	}
	st := indexOf(senderTypes, m.SenderType)
	if st <= 0 {
		st = 0
		raw[rawKey('t', m.ID)] = string(m.SenderType)
	}
	ms.Kind = uint8(ct) | uint8(st)<<4
	if m.IsDeleted {
		ms.Flags |= flagDeleted
	}
	return ms
}

func indexOf[T comparable](xs []T, x T) int {
	for i, v := range xs {
		if v == x && i > 0 {
			return i
		}
	}
	return -1
}

// MessageFromState rebuilds the last known message from the state (for Vanished deletions):
// content, sender label, user id and custom channel are not recorded and come back empty.
func (s *State) MessageFromState(m MessageState) model.Message {
	return model.Message{
		ID:             m.ID,
		ConversationID: s.ConversationID,
		Date:           model.Time{Time: time.UnixMicro(m.DateMicros).UTC()},
		ContentType:    s.ContentTypeOf(m),
		SenderType:     s.SenderTypeOf(m),
		Status:         s.StatusOf(m),
		IsDeleted:      m.Deleted(),
	}
}
