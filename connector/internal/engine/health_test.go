package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/status"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// TestStatusSaysDegradedAndWhy: each degraded condition shows with its reason, and the
// periodic summary carries the counts and the pass's progress.
func TestStatusSaysDegradedAndWhy(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	h := newHealth(clock, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	sched := schedule.Status{Pass: schedule.Pass{Phase: schedule.PhaseSnapshot, Number: 1, Started: clock.Now(), Total: 1000}}

	if r := h.report(true, sched, 0, 0, 270); r.Status != "ok" {
		t.Fatalf("at start: %+v", r)
	}
	// Walks succeed for a while, requests too.
	h.OnAttempt(partoo.Attempt{Endpoint: partoo.EndpointMessages, Status: 200})
	h.walked("complete", true)
	clock.Advance(4 * time.Minute)
	h.walked("complete", true)
	sched.Pass.Done = 400
	if r := h.report(true, sched, 400, 8000, 270); r.Status != "ok" || r.Pass.ETASeconds < 350 || r.Pass.ETASeconds > 370 {
		t.Fatalf("progress: %+v %+v", r, r.Pass) // 400 in 4 min: 600 left take 6 min
	}
	// Then every request times out.
	timeout := &partoo.DecodeError{Endpoint: partoo.EndpointMessages, Status: 200, NonJSON: true, Reason: "the body is not JSON", Snippet: "<html>"}
	for i := 0; i < 30; i++ {
		clock.Advance(5 * time.Second)
		h.OnAttempt(partoo.Attempt{Endpoint: partoo.EndpointMessages, Status: 200, Err: timeout, Retrying: true, Duration: 5 * time.Second})
	}
	r := h.report(true, sched, 400, 8000, 270)
	if r.Status != "degraded" || len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0], "every Partoo request has failed for 2m30s") {
		t.Fatalf("after 150 s of failures: %+v", r.Reasons)
	}
	clock.Advance(3 * time.Minute)
	sched.DiscoveryFailures, sched.LastDiscoveryError = 12, "partoo: GET /conversations: 502 Bad Gateway"
	r = h.report(true, sched, 400, 8000, 270)
	if len(r.Reasons) != 3 || !strings.Contains(r.Reasons[0], "no walk has succeeded for 5m30s") ||
		!strings.Contains(r.Reasons[1], "discovery has failed 12 times in a row") {
		t.Fatalf("reasons = %q", r.Reasons)
	}
	// The failures were logged once (rate-limited), and the summary says what happened.
	if n := strings.Count(logs.String(), "Partoo request failed"); n != 1 {
		t.Fatalf("%d failure lines before the summary, want 1:\n%s", n, logs.String())
	}
	logs.Reset()
	h.summarize(r, 123)
	out := logs.String()
	for _, want := range []string{"Partoo request failed (repeated)", "repeats=29", "level=WARN msg=progress", "status=degraded",
		`errors="non_json=30"`, "walks=2", "requests=31", "pass=snapshot", "pass_done=400", "pass_total=1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Recovery.
	h.OnAttempt(partoo.Attempt{Endpoint: partoo.EndpointMessages, Status: 200})
	h.walked("complete", true)
	sched.DiscoveryFailures = 0
	if r := h.report(true, sched, 400, 8000, 270); r.Status != "ok" {
		t.Fatalf("after recovery: %+v", r.Reasons)
	}
}

// TestUndecodableItemsAreLoggedOncePerID: the same bad message seen by every walk is logged
// once, named by its id; every occurrence is counted.
func TestUndecodableItemsAreLoggedOncePerID(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	h := newHealth(clock, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	bad := partoo.SkippedItem{Endpoint: partoo.EndpointMessages, ID: 77, Reason: partoo.SkipBadDate, Err: errors.New(`"31/01" is not a date`)}
	for i := 0; i < 5; i++ {
		h.OnSkipped(bad)
		h.rlog.Flush() // a minute passes each time
	}
	if n := strings.Count(logs.String(), "id=77"); n != 1 {
		t.Fatalf("message 77 logged %d times:\n%s", n, logs.String())
	}
	if h.period.skipped[partoo.SkipBadDate] != 5 {
		t.Fatalf("counted %d", h.period.skipped[partoo.SkipBadDate])
	}
}

// TestEveryUndecodableItemIsNamedOnce: of 8 items skipped within a minute, the rate-limited
// log names only the first, but the next summary (or the shutdown) names all 8, once each.
func TestEveryUndecodableItemIsNamedOnce(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	h := newHealth(clock, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	for round := 0; round < 2; round++ { // the second walk meets the same items again
		for id := int64(101); id <= 108; id++ {
			h.OnSkipped(partoo.SkippedItem{Endpoint: partoo.EndpointMessages, ID: id, Reason: partoo.SkipBadDate, Err: errors.New("bad")})
		}
	}
	h.flushSkips()
	out := logs.String()
	if !strings.Contains(out, "ids=\"[101 102 103 104 105 106 107 108]\"") || !strings.Contains(out, "count=8") {
		t.Fatalf("the flush does not name the 8 items:\n%s", out)
	}
	logs.Reset()
	h.flushSkips()
	h.OnSkipped(partoo.SkippedItem{Endpoint: partoo.EndpointMessages, ID: 103, Reason: partoo.SkipBadDate, Err: errors.New("bad")})
	h.flushSkips()
	if logs.Len() != 0 {
		t.Fatalf("named again:\n%s", logs.String())
	}
}

// TestETADoesNotStartAbsurd: in a pass's first minute (or first 20 conversations) the ETA is
// what the budget allows, one request a conversation; then the pass's own rate.
func TestETADoesNotStartAbsurd(t *testing.T) {
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	p := schedule.Pass{Phase: schedule.PhaseSnapshot, Number: 1, Started: start, Done: 2, Total: 1000}
	// 2 done in 30 s (the listing was read first): the pass's rate would say 4 hours.
	if r := status.PassOf(p, start.Add(30*time.Second), 270); r.ETASeconds < 215 || r.ETASeconds > 225 {
		t.Fatalf("early ETA %v s, want 998 ÷ 4.5/s ≈ 222 s", r.ETASeconds)
	}
	p.Done = 500
	if r := status.PassOf(p, start.Add(2*time.Minute), 270); r.ETASeconds < 115 || r.ETASeconds > 125 {
		t.Fatalf("later ETA %v s, want the pass's own rate: 500 left at 500/120 s = 120 s", r.ETASeconds)
	}
}

// TestBudgetUseIsMeasuredNotExtrapolated: the start's burst let 25 requests through in the
// first 10 s; extrapolated to a minute that read as 150 requests/minute, 110 % of a 136/minute
// budget that was never exceeded (issue 28). The summary shows a rate only once a minute has
// been measured, and then the minute's.
func TestBudgetUseIsMeasuredNotExtrapolated(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	h := newHealth(clock, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	report := status.Report{Status: "ok"}
	report.API.RatePerMinute = 136
	clock.Advance(10 * time.Second)
	h.summarize(report, 25)
	if out := logs.String(); strings.Contains(out, "budget_use_percent") || strings.Contains(out, "requests_per_minute") {
		t.Fatalf("a rate extrapolated from 10 s:\n%s", out)
	}
	granted := int64(25)
	for range 5 { // the budget's pace afterwards: 136/min, about 23 per 10 s
		clock.Advance(10 * time.Second)
		granted += 23
		logs.Reset()
		h.summarize(report, granted)
	}
	out := logs.String() // the first minute: 25 + 5 × 23 = 140
	if !strings.Contains(out, "requests_per_minute=140") || !strings.Contains(out, "budget_use_percent=103") {
		t.Fatalf("after a minute, want the minute's measured rate:\n%s", out)
	}
	clock.Advance(10 * time.Second)
	granted += 23
	logs.Reset()
	h.summarize(report, granted)
	if out := logs.String(); !strings.Contains(out, "requests_per_minute=138") { // the last minute: 6 × 23
		t.Fatalf("want the last minute's rate, the burst left behind:\n%s", out)
	}
}
