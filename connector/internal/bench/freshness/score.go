package freshness

import (
	"sort"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Score is how the detections of a run compare with the ground truth.
type Score struct {
	Lags      map[diff.EventType][]time.Duration // per detected change, sorted
	Changes   int                                // ground-truth changes in the window
	Detected  int
	Coalesced int // superseded before any walk could see them (unobservable by polling)
	Missed    int // neither detected nor coalesced: must be 0
}

// Detection is an event as committed: its type, the status it carries (the message's, for a
// MessageCreated), and when its transaction committed.
type Detection struct {
	Type   diff.EventType
	Status model.Status
	At     time.Time
}

// NewScore matches the simulator's ground-truth changes in [from, to) (of messages with a
// documented sender_type) with the detections, by message id: a change is detected by the
// first event of its type (and status) committed after it, before the message's next status
// change. onDetected, if set, hears each detected change and its lag.
func NewScore(changes []partoosim.Change, detections map[int64][]Detection, from, to time.Time,
	onDetected func(partoosim.Change, time.Duration)) Score {
	sc := Score{Lags: map[diff.EventType][]time.Duration{}}
	// Per message, the times of its status changes, to tell coalesced ones.
	statusTimes := map[int64][]time.Time{}
	for _, c := range changes {
		if c.Type == partoosim.ChangeStatusChanged {
			statusTimes[c.MessageID] = append(statusTimes[c.MessageID], c.Time)
		}
	}
	for _, c := range changes {
		if c.Time.Before(from) || !c.Time.Before(to) || !c.SenderType.Known() || c.Type == partoosim.ChangeVanished {
			continue
		}
		sc.Changes++
		var typ diff.EventType
		switch c.Type {
		case partoosim.ChangeCreated:
			typ = diff.MessageCreated
		case partoosim.ChangeStatusChanged:
			typ = diff.StatusChanged
		case partoosim.ChangeDeleted:
			typ = diff.MessageDeleted
		}
		// The change is superseded at the message's next status change (if any).
		var superseded time.Time
		if typ == diff.StatusChanged {
			for _, t := range statusTimes[c.MessageID] {
				if t.After(c.Time) {
					superseded = t
					break
				}
			}
		}
		found := false
		for _, d := range detections[c.MessageID] {
			if d.Type != typ || d.At.Before(c.Time) {
				continue
			}
			if typ == diff.StatusChanged && (d.Status != c.Status || (!superseded.IsZero() && !d.At.Before(superseded))) {
				continue
			}
			sc.Lags[typ] = append(sc.Lags[typ], d.At.Sub(c.Time))
			if onDetected != nil {
				onDetected(c, d.At.Sub(c.Time))
			}
			found = true
			break
		}
		ds := detections[c.MessageID]
		switch {
		case found:
			sc.Detected++
		case typ == diff.StatusChanged && !superseded.IsZero():
			sc.Coalesced++
		case typ == diff.StatusChanged && firstSeenAfter(ds, c.Time):
			sc.Coalesced++ // the message was first seen already in this status
		case typ == diff.StatusChanged && seenBefore(ds, c.Time) == c.Status:
			sc.Coalesced++ // it came back to the status last seen (A → B → A between two walks)
		default:
			sc.Missed++
		}
	}
	for _, l := range sc.Lags {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return sc
}

// Percentile returns the p-th percentile (0..1) of a type's lags, or of all with t == 0.
func (sc Score) Percentile(t diff.EventType, p float64) time.Duration {
	var xs []time.Duration
	if t == 0 {
		for _, l := range sc.Lags {
			xs = append(xs, l...)
		}
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	} else {
		xs = sc.Lags[t]
	}
	return Percentile(xs, p)
}

// Percentile returns the p-th percentile (0..1) of sorted durations, or -1 if there are none.
func Percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return -1
	}
	return xs[int(p*float64(len(xs)-1))]
}

// seenBefore returns the message's last observed status before t.
func seenBefore(ds []Detection, t time.Time) model.Status {
	var st model.Status
	for _, d := range ds {
		if d.At.Before(t) && d.Type != diff.MessageDeleted {
			st = d.Status
		}
	}
	return st
}

// firstSeenAfter: the message's MessageCreated was emitted after t.
func firstSeenAfter(ds []Detection, t time.Time) bool {
	for _, d := range ds {
		if d.Type == diff.MessageCreated {
			return !d.At.Before(t)
		}
	}
	return false
}
