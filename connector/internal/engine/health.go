package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/status"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/ratelog"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// Health thresholds: /status says degraded when one of these holds.
const (
	// DegradedNoWalk: no walk succeeded for this long while conversations are known.
	DegradedNoWalk = 5 * time.Minute
	// DegradedDiscoveryFailures: discovery failed this many times in a row.
	DegradedDiscoveryFailures = 10
	// DegradedNoRequest: every Partoo request failed for this long (from the start of the
	// first failed attempt).
	DegradedNoRequest = 90 * time.Second
)

// skipMemory bounds how many undecodable items are remembered so each is logged once.
const skipMemory = 10_000

// health watches the connector for /status, the periodic summary and the failure logs. It is
// a partoo.Hook, so it hears every API attempt and skipped item. Safe for concurrent use.
type health struct {
	clock   clock.Clock
	log     *slog.Logger
	rlog    *ratelog.Logger
	metrics *metrics.Metrics
	started time.Time

	mu            sync.Mutex
	lastWalkOK    time.Time
	lastRequestOK time.Time
	failingSince  time.Time       // first failed request since the last success (zero: none failing)
	lastError     string          // the latest request error
	loggedSkips   map[string]bool // undecodable items and other things logged once per process
	period        tally           // since the last summary
	periodStart   time.Time
	granted       int64 // budget grants at the period's start
	// grants are (time, budget grants) samples of the summaries, the last minute's and one
	// before: the request rate is measured over a whole minute, never extrapolated from a
	// shorter period (the start's burst would read as more than the budget).
	grants       []grantSample
	lastDoubt    string
	newSkips     map[string][]int64 // endpoint:reason → ids skipped for the first time this period (bounded)
	newSkipsMore map[string]int     // ids beyond the bound
}

// skipListMax bounds the ids of undecodable items listed per reason and period.
const skipListMax = 100

// flushSkips logs, once per reason, every item skipped for the first time since the last flush,
// by id (up to skipListMax each, then a count): every undecodable item is named once. Called
// with each summary and at shutdown.
func (h *health) flushSkips() {
	h.mu.Lock()
	lists, more := h.newSkips, h.newSkipsMore
	h.newSkips, h.newSkipsMore = nil, nil
	h.mu.Unlock()
	keys := make([]string, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		endpoint, reason, _ := strings.Cut(k, ":")
		args := []any{"endpoint", endpoint, "reason", reason, "ids", lists[k], "count", len(lists[k]) + more[k]}
		if more[k] > 0 {
			args = append(args, "not_listed", more[k])
		}
		h.log.Warn("Partoo items undecodable and skipped since the last summary, each named once", args...)
	}
}

// tally counts what happened over a period, for the summary line.
type tally struct {
	walks    map[string]int // by diff coverage or outcome: complete, all_pages, partial, skipped, failed
	events   map[string]int
	requests int
	errors   map[string]int // by ErrorKind
	skipped  map[string]int // by reason
	doubts   map[string]int // walks and records not taken as they came, by reason (metrics.Doubt*, truncated, refused)
}

func newTally() tally {
	return tally{walks: map[string]int{}, events: map[string]int{}, errors: map[string]int{}, skipped: map[string]int{}, doubts: map[string]int{}}
}

// doubted records a walk not believed whole, or a record cut or refused (reason), with the
// conversation it concerns, for /status and the summary line.
func (h *health) doubted(reason string, conversationID int64) {
	h.mu.Lock()
	h.period.doubts[reason]++
	h.lastDoubt = fmt.Sprintf("%s (conversation %d) at %s", reason, conversationID, h.clock.Now().UTC().Format(time.RFC3339))
	h.mu.Unlock()
}

func newHealth(clock clock.Clock, log *slog.Logger, m *metrics.Metrics) *health {
	now := clock.Now()
	return &health{clock: clock, log: log, rlog: ratelog.New(log, clock.Now), metrics: m, started: now,
		loggedSkips: map[string]bool{}, period: newTally(), periodStart: now, grants: []grantSample{{at: now}}}
}

// OnAttempt implements partoo.HookAttempt: every failed attempt is counted and logged (rate-limited
// per endpoint and kind); a decoded 2xx is a success.
func (h *health) OnAttempt(a partoo.Attempt) {
	now := h.clock.Now()
	h.mu.Lock()
	h.period.requests++
	if a.Err == nil {
		h.lastRequestOK, h.failingSince = now, time.Time{}
		h.mu.Unlock()
		return
	}
	kind := partoo.ErrorKind(a.Err)
	if kind == partoo.KindCanceled {
		h.mu.Unlock()
		return // we gave up (shutting down): not the API's failure
	}
	h.period.errors[kind]++
	h.lastError = a.Err.Error()
	if h.failingSince.IsZero() {
		h.failingSince = now.Add(-a.Duration)
	}
	h.mu.Unlock()
	if kind == partoo.KindNotFound {
		return // a conversation that is gone: the walk logs it with its id
	}
	h.rlog.Warn("api:"+a.Endpoint+":"+kind, "Partoo request failed",
		"endpoint", a.Endpoint, "error_kind", kind, "status", a.Status, "attempt", a.Number, "retrying", a.Retrying,
		"duration", a.Duration.Round(time.Millisecond), "err", a.Err.Error())
}

// OnRepaired implements partoo.HookRepaired: each message published with a repaired field is
// named once (WARN, rate-limited per reason), and counted every time (metrics).
func (h *health) OnRepaired(r partoo.RepairedItem) {
	key := "repaired:" + r.Endpoint + ":" + r.Field + ":" + r.Reason + ":" + strconv.FormatInt(r.ID, 10)
	h.mu.Lock()
	first := !h.loggedSkips[key]
	if first && len(h.loggedSkips) < skipMemory {
		h.loggedSkips[key] = true
	}
	h.mu.Unlock()
	if first {
		h.rlog.Warn("repaired:"+r.Reason+":"+strconv.FormatInt(r.ID, 10), "Partoo message published with a repaired field: bytes that are not UTF-8 were replaced by U+FFFD",
			"conversation_id", r.ConversationID, "message_id", r.ID, "field", r.Field, "reason", r.Reason)
	}
}

// OnSkipped implements partoo.HookSkipped: each undecodable item is logged once (by its id when
// readable), rate-limited per endpoint and reason, and counted every time.
func (h *health) OnSkipped(s partoo.SkippedItem) {
	h.mu.Lock()
	h.period.skipped[s.Reason]++
	key := s.Endpoint + ":" + s.Reason + ":" + strconv.FormatInt(s.ID, 10)
	first := s.ID == 0 || !h.loggedSkips[key]
	if s.ID != 0 && first && len(h.loggedSkips) < skipMemory {
		h.loggedSkips[key] = true
	}
	if s.ID != 0 && first {
		lk := s.Endpoint + ":" + s.Reason
		if h.newSkips == nil {
			h.newSkips, h.newSkipsMore = map[string][]int64{}, map[string]int{}
		}
		if len(h.newSkips[lk]) < skipListMax {
			h.newSkips[lk] = append(h.newSkips[lk], s.ID)
		} else {
			h.newSkipsMore[lk]++
		}
	}
	h.mu.Unlock()
	if !first {
		return
	}
	args := []any{"endpoint", s.Endpoint, "reason", s.Reason, "err", s.Err.Error()}
	if s.ID != 0 {
		args = append(args, "id", s.ID)
	}
	h.rlog.Warn("skip:"+s.Endpoint+":"+s.Reason, "Partoo item undecodable; skipped (never published; with its id readable it still counts as present, so no deletion is inferred for it)", args...)
}

// once logs a warning the first time key is seen in the process (up to skipMemory keys).
func (h *health) once(key, msg string, args ...any) {
	h.mu.Lock()
	seen := h.loggedSkips[key]
	if !seen && len(h.loggedSkips) < skipMemory {
		h.loggedSkips[key] = true
	}
	h.mu.Unlock()
	if !seen {
		h.log.Warn(msg, args...)
	}
}

// OnRateLimited implements partoo.HookRateLimited.
func (h *health) OnRateLimited(d time.Duration) {
	h.rlog.Warn("api:429", "Partoo answered 429: another client of the organisation is using the budget; slowing down",
		"retry_after", d.String())
}

// OnBudgetWaited implements partoo.HookBudgetWaited.
func (h *health) OnBudgetWaited(time.Duration) {}

// walked records a walk's outcome: result is a diff coverage ("complete", "all_pages",
// "partial") or "skipped" (404/403) or "failed" (the commit did not happen).
func (h *health) walked(result string, ok bool) {
	now := h.clock.Now()
	h.mu.Lock()
	h.period.walks[result]++
	if ok {
		h.lastWalkOK = now
	}
	h.mu.Unlock()
	if ok {
		h.metrics.WalkSucceeded(now)
	}
}

func (h *health) committed(types []string) {
	h.mu.Lock()
	for _, t := range types {
		h.period.events[t]++
	}
	h.mu.Unlock()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// report builds the status: degraded when no walk has succeeded for DegradedNoWalk while
// conversations are known, when discovery has failed DegradedDiscoveryFailures times in a
// row, or when every request has failed for DegradedNoRequest.
func (h *health) report(ready bool, sched schedule.Status, convs, msgs int, rate float64) status.Report {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := status.Report{Status: "ok", Ready: ready, Time: now.UTC(), Uptime: now.Sub(h.started).Round(time.Second).String(),
		LastWalk: timePtr(h.lastWalkOK), ConversationsTracked: convs, MessagesTracked: msgs, Pass: status.PassOf(sched.Pass, now, rate)}
	r.Discovery.FailuresInARow = sched.DiscoveryFailures
	r.Discovery.LastError = sched.LastDiscoveryError
	r.Discovery.LastSuccess = timePtr(sched.LastDiscovery)
	r.Discovery.ListingOrder = sched.ListingOrder
	r.Discovery.NoLastMessage = sched.ListingWithoutLastMessage
	r.API.RatePerMinute = math.Round(rate*100) / 100 // 63, not 62.99999999999999
	r.API.LastSuccess = timePtr(h.lastRequestOK)
	r.API.FailingSince = timePtr(h.failingSince)
	r.API.LastError = h.lastError
	r.API.ErrorsThisPeriod = copyCounts(h.period.errors)
	r.API.SkippedThisPeriod = copyCounts(h.period.skipped)
	r.Doubts.ThisPeriod = copyCounts(h.period.doubts)
	r.Doubts.Last = h.lastDoubt

	known := convs > 0 || sched.Pass.Total > 0
	since := h.lastWalkOK
	if since.IsZero() {
		since = h.started
	}
	if known && now.Sub(since) >= DegradedNoWalk {
		last := "never since the start"
		if !h.lastWalkOK.IsZero() {
			last = "last at " + h.lastWalkOK.UTC().Format(time.RFC3339)
		}
		r.Reasons = append(r.Reasons, fmt.Sprintf("no walk has succeeded for %s (%s) while %d conversations are known",
			now.Sub(since).Round(time.Second), last, max(convs, sched.Pass.Total)))
	}
	if sched.DiscoveryFailures >= DegradedDiscoveryFailures {
		r.Reasons = append(r.Reasons, fmt.Sprintf("discovery has failed %d times in a row: %s", sched.DiscoveryFailures, sched.LastDiscoveryError))
	}
	if !h.failingSince.IsZero() && now.Sub(h.failingSince) >= DegradedNoRequest {
		r.Reasons = append(r.Reasons, fmt.Sprintf("every Partoo request has failed for %s: %s", now.Sub(h.failingSince).Round(time.Second), h.lastError))
	}
	if len(r.Reasons) > 0 {
		r.Status = "degraded"
	}
	return r
}

func copyCounts(m map[string]int) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// grantSample is the budget's grants at a summary.
type grantSample struct {
	at      time.Time
	granted int64
}

// summarize logs the periodic INFO line (progress, walks, events, requests, budget use,
// errors, tracked conversations, status), flushes the rate-limited failure log, and starts a
// new period.
func (h *health) summarize(r status.Report, granted int64) {
	now := h.clock.Now()
	h.mu.Lock()
	p, elapsed := h.period, now.Sub(h.periodStart)
	h.period, h.periodStart, h.granted = newTally(), now, granted
	h.grants = append(h.grants, grantSample{at: now, granted: granted})
	for len(h.grants) > 2 && !h.grants[1].at.After(now.Add(-time.Minute)) {
		h.grants = h.grants[1:] // keep one sample a minute old or older
	}
	oldest := h.grants[0]
	h.mu.Unlock()
	h.rlog.Flush()
	h.flushSkips()

	args := []any{
		"status", r.Status,
		"period", elapsed.Round(time.Second),
		"walks", sum(p.walks), "walk_results", countsString(p.walks),
		"events", sum(p.events), "event_types", countsString(p.events),
		"requests", p.requests,
	}
	// The rate and the share of the budget, measured over the last minute or more; before a
	// minute has passed there is no measure of a per-minute rate, and none is shown.
	if window := now.Sub(oldest.at); window >= time.Minute {
		perMin := float64(granted-oldest.granted) / window.Minutes()
		args = append(args, "requests_per_minute", math.Round(perMin))
		if r.API.RatePerMinute > 0 {
			args = append(args, "budget_use_percent", math.Round(100*perMin/r.API.RatePerMinute))
		}
	}
	args = append(args, "budget_rate_per_minute", math.Round(r.API.RatePerMinute),
		"errors", countsString(p.errors), "items_skipped", countsString(p.skipped), "doubts", countsString(p.doubts),
		"conversations_tracked", r.ConversationsTracked, "messages_tracked", r.MessagesTracked)
	if pr := r.Pass; pr != nil && pr.Phase != schedule.PhaseIdle {
		args = append(args, "pass", pr.Phase, "pass_done", pr.Done, "pass_total", pr.Total)
		if pr.ETASeconds > 0 {
			args = append(args, "pass_eta", time.Duration(pr.ETASeconds)*time.Second)
		}
	}
	if len(r.Reasons) > 0 {
		args = append(args, "reasons", r.Reasons)
	}
	level := slog.LevelInfo
	if r.Status != "ok" {
		level = slog.LevelWarn
	}
	h.log.Log(context.Background(), level, "progress", args...)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countsString renders counts as "a=1 b=2", sorted, or "none".
func countsString(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += k + "=" + strconv.Itoa(m[k])
	}
	return s
}
