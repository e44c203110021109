package engine

import (
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// watching is since when the engine has watched its scope, on Partoo's clock: the rule of
// the snapshot flag (diff.Watch). It is kept in the state records themselves (each
// conversation's record carries the watch it was first written with), so a restart finds it
// with the state: the scope's watch is the earliest its records carry, unless another scope
// was watched since (diff.RestoredWatch). When there is none — a first start, a scope widened
// or narrowed (PARTOO_BUSINESS_IDS, PARTOO_CONVERSATION_IDS), a state topic lost or rebuilt,
// the first start after upgrading from a release without it — the engine starts watching
// when its state is restored: the watch is the latest instant Partoo's clock can have read
// then (partoo.ServerClock.LatestAt), so whatever is dated up to it is a snapshot. That bound
// tightens as answers come in (from about a second after one answer to about a round trip),
// so it is read again at every walk for its first minute (watchSettles), then fixed.
type watching struct {
	mu     sync.Mutex
	scope  watchFrom
	rewalk map[int64]watchFrom // conversations whose state was dropped (corrupt): re-snapshotted
}

// watchFrom is a watch restored from the state (since), or begun at a local instant (local).
type watchFrom struct {
	since, local time.Time
	scope        string
}

// watchSettles is how long after its local instant a watch begun now is read again from
// Partoo's clock as the estimate tightens; then it is fixed, so that a later doubt about the
// clock (an answer that contradicts it, drift) never moves it.
const watchSettles = time.Minute

// resolve returns w on Partoo's clock; with mu held. A watch begun at a local instant is fixed
// once it has settled.
func (c *Engine) resolve(w *watchFrom) diff.Watch {
	if w.since.IsZero() && !w.local.IsZero() {
		since := c.client.Server().LatestAt(w.local).UTC().Truncate(time.Microsecond)
		if c.opt.Clock.Now().Sub(w.local) >= watchSettles {
			w.since = since
		}
		return diff.Watch{Since: since, Scope: w.scope}
	}
	return diff.Watch{Since: w.since, Scope: w.scope}
}

// watchFor returns the watch of a conversation whose state records none.
func (c *Engine) watchFor(id int64) diff.Watch {
	c.watching.mu.Lock()
	defer c.watching.mu.Unlock()
	if w, ok := c.watching.rewalk[id]; ok {
		res := c.resolve(&w)
		c.watching.rewalk[id] = w
		return res
	}
	return c.resolve(&c.watching.scope)
}

// WatchingSince returns since when the engine has watched its scope, on Partoo's clock (zero
// before the state is restored): a message dated after it is published with snapshot=false.
func (c *Engine) WatchingSince() time.Time {
	c.watching.mu.Lock()
	defer c.watching.mu.Unlock()
	return c.resolve(&c.watching.scope).Since
}

// clockStatus tells /status what the engine believes of Partoo's clock, and its watch start.
func (c *Engine) clockStatus(r *status.Report) {
	if off, bound, known := c.client.Server().Offset(); known {
		o, b := off.Seconds(), bound.Seconds()
		r.API.ClockOffset, r.API.ClockError = &o, &b
	}
	if w := c.WatchingSince(); !w.IsZero() {
		r.WatchingSince = &w
	}
}

// startWatching settles the scope's watch once the state is restored: the one the restored
// records carry, else now. A re-read of the state during the run keeps the watch it has;
// restart (the state topic was lost and recreated) starts a new one. dropped are the
// conversations whose records were dropped as corrupt: their messages are re-emitted as
// snapshots, so they are watched from now.
func (c *Engine) startWatching(idx *state.Index, restart bool, dropped []int64) {
	scope := diff.ScopeTag(c.opt.BusinessIDs, c.opt.ConversationIDs)
	now := watchFrom{local: c.opt.Clock.Now(), scope: scope}
	c.watching.mu.Lock()
	for _, id := range dropped {
		if c.watching.rewalk == nil {
			c.watching.rewalk = map[int64]watchFrom{}
		}
		c.watching.rewalk[id] = now
	}
	if (!c.watching.scope.since.IsZero() || !c.watching.scope.local.IsZero()) && !restart {
		c.watching.mu.Unlock()
		return
	}
	w, how := now, "from now (no state records it for this scope)"
	if since, ok := diff.RestoredWatch(idx.Watches(), scope); ok && !restart {
		w, how = watchFrom{since: since, scope: scope}, "as the state records it"
	}
	c.watching.scope = w
	since := c.resolve(&c.watching.scope).Since
	c.watching.mu.Unlock()
	off, bound, known := c.client.Server().Offset()
	c.log.Info("watching for live messages: those dated later are published with snapshot=false", "since", since.Format(time.RFC3339Nano),
		"how", how, "scope", scope, "partoo_clock_offset", off.Round(time.Millisecond).String(),
		"offset_error_bound", bound.Round(time.Millisecond).String(), "partoo_clock_known", known)
}
