package diff

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Watch is since when the connector has watched a conversation, on Partoo's clock: the rule
// of the snapshot flag. A message the diff sees for the first time is a snapshot
// (MessageCreated.snapshot=true) when its date is not after Since — it existed before the
// connector started watching, or is too close to that instant to tell — and live otherwise,
// whether its conversation is new or known.
//
// A conversation's state keeps the Watch it was first written with (raw key "w", value
// "<Since in µs>/<Scope>"): a restart finds the scope's watch in the records
// (RestoredWatch), and a conversation recorded under another scope keeps its own. Releases
// that do not know it decode it as one more raw string and drop it when they rewrite the
// record.
type Watch struct {
	Since time.Time // Partoo's clock; zero: unknown (the conversation's first complete walk decides)
	Scope string    // the scope (ScopeTag) the watch was started for
}

const watchKey = "w"

// IsZero reports whether the watch is unknown.
func (w Watch) IsZero() bool { return w.Since.IsZero() }

func (w Watch) encode() string {
	return strconv.FormatInt(w.Since.UnixMicro(), 10) + "/" + w.Scope
}

// Watch returns the watch recorded in the state, if any.
func (s *State) Watch() (Watch, bool) {
	v, ok := s.Raw[watchKey]
	if !ok {
		return Watch{}, false
	}
	us, scope, _ := strings.Cut(v, "/")
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n <= 0 {
		return Watch{}, false
	}
	return Watch{Since: time.UnixMicro(n).UTC(), Scope: scope}, true
}

// snapshotAt applies the rule to a message dated date: not after the watch's start (or, with
// no watch known, in a conversation never completely walked) is a snapshot.
func (w Watch) snapshotAt(date time.Time, snapshotDone bool) bool {
	if w.IsZero() {
		return !snapshotDone
	}
	return !date.After(w.Since)
}

// ScopeTag names what a connector watches: "*" for a whole organisation, else a short hash of
// the business ids and conversation ids it is limited to (in any order). Widening or
// narrowing either list changes it.
func ScopeTag(businessIDs []string, conversationIDs []int64) string {
	if len(businessIDs) == 0 && len(conversationIDs) == 0 {
		return "*"
	}
	b := slices.Clone(businessIDs)
	slices.Sort(b)
	c := slices.Clone(conversationIDs)
	slices.Sort(c)
	h := sha256.New()
	for _, id := range slices.Compact(b) {
		h.Write([]byte("b:" + id + "\n"))
	}
	for _, id := range slices.Compact(c) {
		h.Write([]byte("c:" + strconv.FormatInt(id, 10) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// RestoredWatch returns since when the scope has been watched without a break, from the
// watches recorded in the restored states: the earliest of the scope's, provided no other
// scope's began after it (the connector then watched something else since, and the scope's
// conversations outside that other scope were not watched). false: the scope was never
// watched, or not continuously — the caller starts watching it now.
func RestoredWatch(recorded []Watch, scope string) (time.Time, bool) {
	var since, otherLatest time.Time
	for _, w := range recorded {
		switch {
		case w.IsZero():
		case w.Scope == scope:
			if since.IsZero() || w.Since.Before(since) {
				since = w.Since
			}
		case w.Since.After(otherLatest):
			otherLatest = w.Since
		}
	}
	if since.IsZero() || otherLatest.After(since) {
		return time.Time{}, false
	}
	return since, true
}
