package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

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
	// Organization, when not 0, is the Partoo organisation the connector reads for: it is part
	// of every event id, so that two organisations whose conversation ids overlap never share
	// one. 0 keeps the ids of a single organisation what they always were.
	Organization int64
	// Watch is since when the connector has watched the conversation's scope, on Partoo's
	// clock (see Watch). It applies unless the conversation's state records a watch of
	// another scope (it was watched since then, before the filter changed), and is recorded
	// in a state that has none the next time it is written. Zero: the state's own watch, or
	// with none, a message is a snapshot when its conversation has had no complete walk yet
	// (the rule of releases before the watch).
	Watch Watch
	// OrganizationName, when Organization is 0, scopes the event ids instead: the name of an
	// organisation configured without its id among several. Its ids can meet neither those of
	// a numeric organisation nor the unscoped ones (see eventID).
	OrganizationName string
}

// scope is what scopes the event ids: the organisation's id, else its name, else nothing.
func (o Options) scope() scope { return scope{o.Organization, o.OrganizationName} }

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
	watch, own := prev.Watch()
	if !own || (!opt.Watch.IsZero() && watch.Scope == opt.Watch.Scope) {
		// The scope's watch rules; a conversation's own, recorded under another scope (before
		// the business or conversation filter changed), says since when it has been watched.
		watch = opt.Watch
	}
	d := differ{prev: prev, convID: convID, now: now, opt: opt, watch: watch}
	if len(opt.Unreadable) > 0 {
		d.unreadable = make(map[int64]bool, len(opt.Unreadable))
		for _, id := range opt.Unreadable {
			d.unreadable[id] = true
		}
	}
	msgs, seen := d.byID(walk)
	d.countAbsence = d.judgeAbsences(seen, len(msgs), cov)
	d.next = nextState(prev, convID, cov, len(msgs))
	d.merge(msgs)
	sortEvents(d.res.Events)
	res := d.res
	res.Changed = len(res.Events) > 0 || !sameState(prev, d.next)
	if res.Changed {
		d.next.UpdatedAt = now
		if !own && !watch.IsZero() {
			d.next.Raw[watchKey] = watch.encode() // kept from now on: the conversation's own
		}
	}
	res.Next = d.next
	return res
}

// differ is one Diff in progress.
type differ struct {
	prev, next   *State
	convID       int64
	now          time.Time
	opt          Options
	watch        Watch          // since when the conversation has been watched (the snapshot rule)
	unreadable   map[int64]bool // opt.Unreadable (nil when none)
	countAbsence bool           // this walk's absences count towards a Vanished deletion
	res          Result
}

// byID returns the walk's messages sorted by id, without duplicates (the last copy wins) and
// without those of an unknown sender or of another conversation (counted as Ignored), and the
// set of their ids.
func (d *differ) byID(walk []model.Message) ([]model.Message, map[int64]int) {
	seen := make(map[int64]int, len(walk))
	msgs := make([]model.Message, 0, len(walk))
	for _, m := range walk {
		if !m.SenderType.Known() || m.ConversationID != d.convID {
			d.res.Ignored++
			continue
		}
		if i, dup := seen[m.ID]; dup {
			msgs[i] = m
			continue
		}
		seen[m.ID] = len(msgs)
		msgs = append(msgs, m)
	}
	slices.SortFunc(msgs, func(a, b model.Message) int { return cmp.Compare(a.ID, b.ID) }) // ids are unique
	return msgs, seen
}

// judgeAbsences counts the recorded, live messages this walk misses (Result.Absent) and says
// whether their absences count towards a Vanished deletion: only in a complete walk, and not
// in one that misses most or all of them (an empty page, a truncated listing) unless
// Partoo's count vouches for it — that walk is Suspect.
func (d *differ) judgeAbsences(seen map[int64]int, walked int, cov Coverage) bool {
	live := 0
	for _, ms := range d.prev.Messages {
		if ms.Deleted() {
			continue
		}
		live++
		if _, ok := seen[ms.ID]; !ok && !d.unreadable[ms.ID] {
			d.res.Absent++
		}
	}
	count := cov == Complete
	if count && d.res.Absent > 0 && !d.opt.Counted && (walked == 0 || 2*d.res.Absent > live) {
		d.res.Suspect, count = true, false
	}
	return count
}

// nextState starts the state that follows prev: the snapshot is over once a walk saw every
// page; the messages are added by the merge; of prev's raw strings only the generations
// carry over, as they outlive the messages they count, and the watch.
func nextState(prev *State, convID int64, cov Coverage, walked int) *State {
	next := &State{
		ConversationID: convID,
		SnapshotDone:   prev.SnapshotDone || cov >= AllPages,
		UpdatedAt:      prev.UpdatedAt,
		Messages:       make([]MessageState, 0, max(len(prev.Messages), walked)),
		Raw:            map[string]string{},
	}
	for k, v := range prev.Raw {
		if (len(k) > 2 && k[0] == 'x' && k[1] == ':') || k == watchKey {
			next.Raw[k] = v
		}
	}
	return next
}

// merge walks the recorded messages and the walk's, both sorted by id, side by side.
func (d *differ) merge(msgs []model.Message) {
	recorded := d.prev.Messages
	i, j := 0, 0
	for i < len(recorded) || j < len(msgs) {
		switch {
		case j >= len(msgs) || (i < len(recorded) && recorded[i].ID < msgs[j].ID):
			d.absent(recorded[i])
			i++
		case i >= len(recorded) || msgs[j].ID < recorded[i].ID:
			d.created(msgs[j])
			j++
		default:
			d.seenAgain(recorded[i], msgs[j])
			i++
			j++
		}
	}
}

// absent handles a recorded message absent from this walk: when the absence counts, one more
// walk missed it, and after enough of them, long enough, it is deleted as Vanished and leaves
// the state.
func (d *differ) absent(ms MessageState) {
	copyRaw(d.next.Raw, d.prev.Raw, ms.ID)
	if d.countAbsence && !d.unreadable[ms.ID] {
		since := d.prev.absentSince(ms.ID)
		if ms.Missed() == 0 || since.IsZero() {
			since = d.now // the first complete walk that misses it (or one recorded before this was kept)
		}
		ms.setMissed(ms.Missed() + 1)
		if ms.Missed() >= d.opt.VanishAfterWalks && d.now.Sub(since) >= d.opt.VanishConfirmAfter {
			d.vanished(ms, since)
			return // it leaves the state
		}
		d.next.Raw[rawKey('m', ms.ID)] = strconv.FormatInt(since.UnixMicro(), 10)
	}
	d.next.Messages = append(d.next.Messages, ms)
}

// vanished emits the Vanished deletion of ms (unless it was deleted already) and forgets it
// but for its generation: should it come back, its events get new ids (generation gen+1).
func (d *differ) vanished(ms MessageState, since time.Time) {
	gen := d.prev.generation(ms.ID)
	if !ms.Deleted() {
		last := d.prev.MessageFromState(ms)
		d.emit(Event{Type: MessageDeleted, ID: eventID(d.opt.scope(), d.convID, ms.ID, genSuffix("deleted", gen)), MessageID: ms.ID,
			Date: last.Date.Time, Message: last, Reason: Vanished, AbsentWalks: ms.Missed(), AbsentSince: since})
		d.next.Raw[rawKey('x', ms.ID)] = strconv.Itoa(gen + 1)
	}
	dropRaw(d.next.Raw, ms.ID)
}

// created handles a message the state does not hold. A message that comes back after a
// Vanished deletion is created again, with a new event id (its generation), so consumers that
// deduplicate on event_id see it.
func (d *differ) created(m model.Message) {
	ms := encodeMessage(m, d.next.Raw)
	gen := d.prev.generation(m.ID)
	d.emit(Event{Type: MessageCreated, ID: eventID(d.opt.scope(), d.convID, m.ID, genSuffix("created", gen)), MessageID: m.ID,
		Date: m.Date.Time, Message: m, Snapshot: d.watch.snapshotAt(m.Date.Time, d.prev.SnapshotDone)})
	if m.IsDeleted {
		d.consumerDeleted(m, gen)
	}
	d.next.Messages = append(d.next.Messages, ms)
}

// seenAgain handles a recorded message the walk saw again: a status change, a resnapshot, a
// deletion by the consumer.
func (d *differ) seenAgain(old MessageState, m model.Message) {
	ms := encodeMessage(m, d.next.Raw)
	ms.StatusSeq = old.StatusSeq
	gen := d.prev.generation(m.ID)
	if before := d.prev.StatusOf(old); before != m.Status {
		ms.StatusSeq++
		d.emit(Event{Type: StatusChanged, MessageID: m.ID, Date: m.Date.Time, Message: m,
			PreviousStatus: before, Status: m.Status,
			ID: eventID(d.opt.scope(), d.convID, m.ID, genSuffix(fmt.Sprintf("status:%d:%s:%s", ms.StatusSeq, before, m.Status), gen))})
	}
	if d.opt.Resnapshot != "" {
		d.emit(Event{Type: MessageCreated, ID: eventID(d.opt.scope(), d.convID, m.ID, genSuffix("resnapshot:"+d.opt.Resnapshot, gen)), MessageID: m.ID,
			Date: m.Date.Time, Message: m, Snapshot: true})
	}
	switch {
	case m.IsDeleted && !old.Deleted():
		d.consumerDeleted(m, gen)
	case old.Deleted():
		ms.Flags |= flagDeleted // deletion is final: an undelete never re-emits
	}
	d.next.Messages = append(d.next.Messages, ms)
}

// consumerDeleted emits the deletion of m by the consumer (is_deleted became true).
func (d *differ) consumerDeleted(m model.Message, gen int) {
	d.emit(Event{Type: MessageDeleted, ID: eventID(d.opt.scope(), d.convID, m.ID, genSuffix("deleted", gen)), MessageID: m.ID,
		Date: m.Date.Time, Message: m, Reason: ConsumerDeleted})
}

func (d *differ) emit(e Event) {
	e.ConversationID, e.DetectedAt = d.convID, d.now
	d.res.Events = append(d.res.Events, e)
}

// sortEvents orders a conversation's events by message date, then message id, then type
// (created < status changed < deleted), keeping the order of equal ones.
func sortEvents(evs []Event) {
	slices.SortStableFunc(evs, func(a, b Event) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.MessageID, b.MessageID); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
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
