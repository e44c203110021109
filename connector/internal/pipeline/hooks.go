package pipeline

import (
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/hook"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// Hook hears what a Step and a Runner do, for metrics, health, logs and benchmarks: any value
// that implements one or more of the Hook* interfaces below, as franz-go's kgo hooks do (and
// package partoo's); they call the ones it implements. Walks settle on several goroutines at
// once: implementations must be safe for that.
type Hook = any

// HookWalked hears each conversation's walk once it is settled — skipped, failed, or read and
// (when it changed) committed. Report.Events are the committed events.
type HookWalked interface{ OnWalked(r Report) }

// HookTransaction hears each transaction of n conversations' changes; err is nil when it
// committed.
type HookTransaction interface{ OnTransaction(n int, err error) }

// HookPicked hears each conversation the runner takes from the scheduler, with the reason.
type HookPicked interface{ OnPicked(reason schedule.Reason) }

// HookInFlight hears the walks in flight and the runner's current limit.
type HookInFlight interface{ OnInFlight(walks, limit int) }

// HookBatch hears how many conversations each commit carries.
type HookBatch interface{ OnBatch(conversations int) }

// hooks calls, for each event, the hooks that hear it.
type hooks []Hook

func (hs hooks) walked(r Report) { hook.Each(hs, func(h HookWalked) { h.OnWalked(r) }) }

func (hs hooks) transaction(n int, err error) {
	hook.Each(hs, func(h HookTransaction) { h.OnTransaction(n, err) })
}

func (hs hooks) picked(reason schedule.Reason) {
	hook.Each(hs, func(h HookPicked) { h.OnPicked(reason) })
}

func (hs hooks) inFlight(walks, limit int) {
	hook.Each(hs, func(h HookInFlight) { h.OnInFlight(walks, limit) })
}

func (hs hooks) batch(n int) { hook.Each(hs, func(h HookBatch) { h.OnBatch(n) }) }

// Result is how a walk ended (Report.Result); its value is the result label of the walk
// metrics.
type Result string

// Results of a walk.
const (
	ResultComplete Result = "complete"  // every page read, every message decoded
	ResultAllPages Result = "all_pages" // every page read, some messages undecodable (skipped)
	ResultPartial  Result = "partial"   // the walk failed part-way; what was read was published
	ResultSkipped  Result = "skipped"   // the conversation answered 404 or 403
	ResultFailed   Result = "failed"    // its transaction did not commit
)

// resultOf is the result of a walk that ended with coverage c.
func resultOf(c diff.Coverage) Result {
	switch c {
	case diff.Complete:
		return ResultComplete
	case diff.AllPages:
		return ResultAllPages
	}
	return ResultPartial
}

// Report describes one conversation's walk.
type Report struct {
	ConversationID int64
	Result         Result
	Coverage       diff.Coverage
	Started        time.Time
	Duration       time.Duration // walking (requests included)
	PreviousWalk   time.Time     // start of the previous walk of the conversation (zero: none since the start)
	Pages          int
	Messages       int   // decoded
	Skipped        int   // undecodable, left out
	Ignored        int   // unknown sender_type, or another conversation's
	Err            error // the walk's error (partial, skipped), or the commit's (failed)
	// OK: the walk read every page and (if it had to) committed, and something it read was
	// usable: what health counts as a successful walk.
	OK bool
	// What the walk proved of itself: Partoo's count (when HasCount) and the distinct messages
	// received; Short: every page read but fewer than the count. Absent: recorded messages the
	// walk did not see; Suspect: a complete walk missing most or all of them without the count
	// to vouch for it, so no absence was counted.
	Count    int
	HasCount bool
	Distinct int
	Short    bool
	Absent   int
	Suspect  bool
	// Truncated lists the events published with their content cut to fit the events topic;
	// Dropped those that could not fit at all (left out, the rest of the conversation goes on).
	Truncated []Truncated
	Dropped   []Dropped
	// Refused: Kafka refused records of this conversation (Err says why); the rest of its
	// batch was published without it, and it is walked again later.
	Refused bool
	// Resnapshot is the resnapshot request the walk served ("" for none); Fill the table-fill
	// request (signal.FillTables).
	Resnapshot, Fill string
	// Events committed for the conversation (nil if none, or if the commit failed).
	Events []diff.Event
	// UnknownSenders maps each undocumented sender_type met to a message id with it, and
	// Foreign lists messages of another conversation the walk returned: both ignored.
	UnknownSenders map[string]int64
	Foreign        []int64
}

func (r *Report) noteIgnored(msgs []model.Message) {
	for _, m := range msgs {
		switch {
		case m.ConversationID != r.ConversationID:
			r.Foreign = append(r.Foreign, m.ID)
		case !m.SenderType.Known():
			if r.UnknownSenders == nil {
				r.UnknownSenders = map[string]int64{}
			}
			r.UnknownSenders[string(m.SenderType)] = m.ID
		}
	}
}

// Truncated is an event whose message content was cut to fit Kafka.
type Truncated struct {
	MessageID int64
	Type      diff.EventType
	From      int // the content's original size in bytes
	Size      int // the record's size as published
}

// Dropped is an event that could not be published.
type Dropped struct {
	MessageID int64
	Type      diff.EventType
	Err       error
}
