package diff

import (
	"crypto/sha1"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// EventType is the kind of a change event.
type EventType uint8

// Event types, in the order they are emitted for one message.
const (
	MessageCreated EventType = iota + 1
	StatusChanged
	MessageDeleted
)

var eventTypeNames = [...]string{MessageCreated: "MessageCreated", StatusChanged: "StatusChanged", MessageDeleted: "MessageDeleted"}

// String is the event type's name (the schema's name and the event_type header).
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) && eventTypeNames[t] != "" {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// DeleteReason says why a message counts as deleted.
type DeleteReason uint8

// Delete reasons.
const (
	ConsumerDeleted DeleteReason = iota + 1 // is_deleted became true
	Vanished                                // absent from consecutive complete walks
)

var deleteReasonNames = [...]string{ConsumerDeleted: "ConsumerDeleted", Vanished: "Vanished"}

// String is the reason's name, "Unknown" for a value that is none of the constants.
func (r DeleteReason) String() string {
	if int(r) < len(deleteReasonNames) && deleteReasonNames[r] != "" {
		return deleteReasonNames[r]
	}
	return "Unknown"
}

// ParseDeleteReason is the inverse of String: the reason named s, and whether s names one
// ("Unknown" does not).
func ParseDeleteReason(s string) (DeleteReason, bool) {
	for r, name := range deleteReasonNames {
		if name != "" && name == s {
			return DeleteReason(r), true
		}
	}
	return 0, false
}

// Event is one change, as a value.
type Event struct {
	Type           EventType
	ID             string // deterministic: the same change observed again has the same ID
	ConversationID int64
	MessageID      int64
	DetectedAt     time.Time
	Date           time.Time     // the message's date
	Message        model.Message // Created: as observed; Deleted: last known; StatusChanged: now
	Snapshot       bool          // MessageCreated found by a snapshot walk
	PreviousStatus model.Status  // StatusChanged
	Status         model.Status  // StatusChanged
	Reason         DeleteReason  // MessageDeleted
	// Evidence of a Vanished deletion: the consecutive complete walks the message was absent
	// from, and the time of the first of them.
	AbsentWalks int
	AbsentSince time.Time
}

// Coverage says how much of a conversation a walk saw.
type Coverage uint8

// Coverages, from least to most.
const (
	// Partial: the walk stopped part-way (an error after some pages). Nothing is concluded
	// from what it did not see: no Vanished deletion, and the snapshot is not over.
	Partial Coverage = iota
	// AllPages: every page was read, but some messages could not be decoded and were left
	// out. The snapshot is over (every readable message was seen), but a message missing from
	// the walk may be one of the undecodable ones, so no Vanished deletion is inferred.
	AllPages
	// Complete: every page read, every message decoded.
	Complete
)

func (c Coverage) String() string {
	return [...]string{"partial", "all_pages", "complete"}[min(int(c), 2)]
}

// Options tune the diff.
type Options struct {
	// VanishAfterWalks is how many consecutive complete walks a recorded message must be absent
	// from before it is reported Vanished. Default 2.
	VanishAfterWalks int
	// VanishConfirmAfter is how long a recorded message must have been absent — from the first
	// complete walk that missed it to the complete walk that concludes — before it is reported
	// Vanished: one glitch, however consistent, is never enough. Default 0 (walks only).
	VanishConfirmAfter time.Duration
	// Counted says the walk carried Partoo's count and received exactly that many distinct
	// messages: Partoo itself says the conversation holds what the walk saw. Without it, a
	// complete walk that misses most or all of a conversation's recorded messages is suspect
	// (Result.Suspect) and counts as no evidence of deletion.
	Counted bool
	// Unreadable are the ids of messages the walk received but could not decode: present,
	// so never absent. A walk whose undecodable items all have ids can be Complete.
	Unreadable []int64
	// Resnapshot, when set, is the id of a resnapshot request: every message of the walk
	// already recorded is also emitted as MessageCreated with Snapshot set and an event id
	// derived from the request (so that a request processed twice gives the same events, and
	// consumers deduplicating on event_id still receive it once).
	Resnapshot string
}

// Result of a diff.
type Result struct {
	Events  []Event
	Next    *State // the state to record once the events are committed
	Changed bool   // Next differs from the previous state: it must be written
	Ignored int    // messages skipped for an unknown sender_type (or another conversation)
	// Absent is the number of recorded (not deleted) messages this walk did not see; Suspect
	// is set when the walk was complete but missed most or all of them without Partoo's count
	// to vouch for it, so that the absences were not counted towards a deletion.
	Absent  int
	Suspect bool
}

// Diff compares a walk of conversation convID with its previous state (nil: none recorded)
// and returns the events and the next state. walk may be in any order and contain
// duplicates (the last copy wins). cov says how much of the conversation the walk saw.
func Diff(prev *State, convID int64, walk []model.Message, cov Coverage, now time.Time, opt Options) Result {
	if opt.VanishAfterWalks <= 0 {
		opt.VanishAfterWalks = 2
	}
	if prev == nil {
		prev = &State{ConversationID: convID}
	}
	snapshot := !prev.SnapshotDone
	res := Result{}

	// The walk, by id, without unknown senders.
	seen := make(map[int64]int, len(walk))
	msgs := make([]model.Message, 0, len(walk))
	for _, m := range walk {
		if !m.SenderType.Known() || m.ConversationID != convID {
			res.Ignored++
			continue
		}
		if i, dup := seen[m.ID]; dup {
			msgs[i] = m
			continue
		}
		seen[m.ID] = len(msgs)
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].ID < msgs[j].ID })

	// How many recorded, live messages this walk misses. A complete walk that misses most or
	// all of them (an empty page, a truncated listing) is not believed unless Partoo's count
	// vouches for it: its absences are not counted.
	unreadable := make(map[int64]bool, len(opt.Unreadable))
	for _, id := range opt.Unreadable {
		unreadable[id] = true
	}
	live := 0
	for _, ms := range prev.Messages {
		if ms.Deleted() {
			continue
		}
		live++
		if _, ok := seen[ms.ID]; !ok && !unreadable[ms.ID] {
			res.Absent++
		}
	}
	countAbsence := cov == Complete
	if countAbsence && res.Absent > 0 && !opt.Counted && (len(msgs) == 0 || 2*res.Absent > live) {
		res.Suspect, countAbsence = true, false
	}

	next := &State{
		ConversationID: convID,
		SnapshotDone:   prev.SnapshotDone || cov >= AllPages,
		UpdatedAt:      prev.UpdatedAt,
		Messages:       make([]MessageState, 0, max(len(prev.Messages), len(msgs))),
		Raw:            map[string]string{},
	}
	for k, v := range prev.Raw {
		if len(k) > 2 && k[0] == 'x' && k[1] == ':' {
			next.Raw[k] = v // generations outlive the messages they count
		}
	}
	emit := func(e Event) {
		e.ConversationID, e.DetectedAt = convID, now
		res.Events = append(res.Events, e)
	}

	// Merge the two id-sorted lists.
	i, j := 0, 0
	for i < len(prev.Messages) || j < len(msgs) {
		switch {
		case j >= len(msgs) || (i < len(prev.Messages) && prev.Messages[i].ID < msgs[j].ID):
			// Recorded, absent from this walk.
			ms := prev.Messages[i]
			i++
			copyRaw(next.Raw, prev.Raw, ms.ID)
			if countAbsence && !unreadable[ms.ID] {
				since := prev.absentSince(ms.ID)
				if ms.Missed() == 0 || since.IsZero() {
					since = now // the first complete walk that misses it (or one recorded before this was kept)
				}
				ms.setMissed(ms.Missed() + 1)
				if ms.Missed() >= opt.VanishAfterWalks && now.Sub(since) >= opt.VanishConfirmAfter {
					gen := prev.generation(ms.ID)
					if !ms.Deleted() {
						last := prev.MessageFromState(ms)
						emit(Event{Type: MessageDeleted, ID: eventID(convID, ms.ID, genSuffix("deleted", gen)), MessageID: ms.ID,
							Date: last.Date.Time, Message: last, Reason: Vanished, AbsentWalks: ms.Missed(), AbsentSince: since})
						// Should it come back, its events get new ids (generation gen+1).
						next.Raw[rawKey('x', ms.ID)] = strconv.Itoa(gen + 1)
					}
					dropRaw(next.Raw, ms.ID)
					continue // it leaves the state
				}
				next.Raw[rawKey('m', ms.ID)] = strconv.FormatInt(since.UnixMicro(), 10)
			}
			next.Messages = append(next.Messages, ms)

		case i >= len(prev.Messages) || msgs[j].ID < prev.Messages[i].ID:
			// New message.
			m := msgs[j]
			j++
			ms := encodeMessage(m, next.Raw)
			// A message that comes back after a Vanished deletion is created again, with a new
			// event id (its generation), so consumers that deduplicate on event_id see it.
			gen := prev.generation(m.ID)
			emit(Event{Type: MessageCreated, ID: eventID(convID, m.ID, genSuffix("created", gen)), MessageID: m.ID,
				Date: m.Date.Time, Message: m, Snapshot: snapshot})
			if m.IsDeleted {
				emit(Event{Type: MessageDeleted, ID: eventID(convID, m.ID, genSuffix("deleted", gen)), MessageID: m.ID,
					Date: m.Date.Time, Message: m, Reason: ConsumerDeleted})
			}
			next.Messages = append(next.Messages, ms)

		default:
			// Known message, seen again.
			old := prev.Messages[i]
			m := msgs[j]
			i++
			j++
			ms := encodeMessage(m, next.Raw)
			ms.StatusSeq = old.StatusSeq
			gen := prev.generation(m.ID)
			if before := prev.StatusOf(old); before != m.Status {
				ms.StatusSeq++
				emit(Event{Type: StatusChanged, MessageID: m.ID, Date: m.Date.Time, Message: m,
					PreviousStatus: before, Status: m.Status,
					ID: eventID(convID, m.ID, genSuffix(fmt.Sprintf("status:%d:%s:%s", ms.StatusSeq, before, m.Status), gen))})
			}
			if opt.Resnapshot != "" {
				emit(Event{Type: MessageCreated, ID: eventID(convID, m.ID, genSuffix("resnapshot:"+opt.Resnapshot, gen)), MessageID: m.ID,
					Date: m.Date.Time, Message: m, Snapshot: true})
			}
			switch {
			case m.IsDeleted && !old.Deleted():
				emit(Event{Type: MessageDeleted, ID: eventID(convID, m.ID, genSuffix("deleted", gen)), MessageID: m.ID,
					Date: m.Date.Time, Message: m, Reason: ConsumerDeleted})
			case old.Deleted():
				ms.Flags |= flagDeleted // deletion is final: an undelete never re-emits
			}
			next.Messages = append(next.Messages, ms)
		}
	}

	sort.SliceStable(res.Events, func(a, b int) bool {
		ea, eb := res.Events[a], res.Events[b]
		if !ea.Date.Equal(eb.Date) {
			return ea.Date.Before(eb.Date)
		}
		if ea.MessageID != eb.MessageID {
			return ea.MessageID < eb.MessageID
		}
		return ea.Type < eb.Type
	})
	res.Changed = len(res.Events) > 0 || !sameState(prev, next)
	if res.Changed {
		next.UpdatedAt = now
	}
	res.Next = next
	return res
}

// genSuffix names the change of a message's generation gen: the change itself for the first
// (so ids stay what they always were), "<change>#<gen>" after the message came back from a
// Vanished deletion.
func genSuffix(change string, gen int) string {
	if gen == 0 {
		return change
	}
	return change + "#" + strconv.Itoa(gen)
}

// dropRaw forgets the raw strings of a message that leaves the state (not its generation).
func dropRaw(raw map[string]string, id int64) {
	for _, k := range []byte{'s', 'c', 't', 'm'} {
		delete(raw, rawKey(k, id))
	}
}

func copyRaw(dst, src map[string]string, id int64) {
	if len(src) == 0 {
		return
	}
	for _, k := range []byte{'s', 'c', 't', 'm'} {
		key := rawKey(k, id)
		if v, ok := src[key]; ok {
			dst[key] = v
		}
	}
}

func sameState(a, b *State) bool {
	if a.SnapshotDone != b.SnapshotDone || len(a.Messages) != len(b.Messages) || len(a.Raw) != len(b.Raw) {
		return false
	}
	for i := range a.Messages {
		if a.Messages[i] != b.Messages[i] {
			return false
		}
	}
	for k, v := range a.Raw {
		if b.Raw[k] != v {
			return false
		}
	}
	return true
}

// eventNamespace is the UUID namespace of event ids (a random v4 UUID fixed forever).
var eventNamespace = [16]byte{0x6f, 0x1c, 0x3a, 0x52, 0x9d, 0x0e, 0x4b, 0x7a, 0x8f, 0x21, 0x5c, 0x44, 0x0b, 0xe3, 0x97, 0x16}

// eventID is a UUID v5 (RFC 9562) of "partoo:<conversation>:<message>:<change>".
func eventID(conv, msg int64, change string) string {
	h := sha1.New()
	h.Write(eventNamespace[:])
	fmt.Fprintf(h, "partoo:%d:%d:%s", conv, msg, change)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
