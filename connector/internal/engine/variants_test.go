package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// variantCase is one shape of a Partoo-like API, and what the connector must do against it.
type variantCase struct {
	name    string
	variant partoosim.Variant
	order   partoosim.Order
	env     []string // extra settings of the connector
	// expect says which messages must be published (nil: known sender_type, decodable date).
	expect func(sim *partoosim.Sim, conv int64, m model.Message) bool
	silent bool // nothing can be published (the API never answers)
	// loud are lines the connector must log within 2 minutes; metrics are series (a name and
	// label fragments) that must count above 0; degraded: /status must say so.
	loud     []string
	metrics  [][]string
	degraded bool
	// vanish: after the activity, two messages disappear from the API for real; their
	// MessageDeleted(Vanished) must come, glitches or not, and no other deletion.
	vanish bool
	// doubt: /status must name the latest doubted walk or cut record (doubts.last) starting so.
	doubt string
}

// TestVariantsOfTheAPI runs the real binary against every variation of the simulator on the
// real broker, with live activity. Where the API is usable it must publish every decodable
// change exactly once (checked against the simulator's ground truth, read_committed); where it
// is not, it must say so within 2 minutes in the log, a metric and /status.
func TestVariantsOfTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the connector binary against 15 API variants")
	}
	t.Parallel()
	hex := func(n int64) string { return fmt.Sprintf("5409c35a97bbc544d8e2%04x", n) }
	cases := []variantCase{
		{name: "hang", variant: partoosim.Variant{HangRatio: 1}, silent: true, degraded: true,
			loud:    []string{"Partoo request failed", "error_kind=timeout", "no answer within 30s"},
			metrics: [][]string{{"partoo_connector_api_errors_total", `kind="timeout"`}}},
		{name: "classic", loud: []string{"first snapshot started", "first snapshot complete"}},
		{name: "string-ids", variant: partoosim.Variant{StringIDs: true}},
		{name: "hex-business-ids filtered", variant: partoosim.Variant{HexBusinessIDs: true},
			env: []string{"PARTOO_BUSINESS_IDS=" + hex(1) + ", " + hex(2)},
			expect: func(sim *partoosim.Sim, conv int64, m model.Message) bool {
				c, _ := sim.Conversation(conv)
				return m.SenderType.Known() && (c.BusinessID == 1 || c.BusinessID == 2)
			}},
		{name: "extra-fields", variant: partoosim.Variant{ExtraFields: true}},
		{name: "missing-optional", variant: partoosim.Variant{MissingOptional: true}},
		{name: "custom-channel-object", variant: partoosim.Variant{CustomChannelObject: true}},
		{name: "null-last-message", variant: partoosim.Variant{NullLastMessage: true},
			loud: []string{"the conversation listing carries no last_message"}},
		{name: "no-final-cursor", variant: partoosim.Variant{NoFinalCursor: true}},
		{name: "newest-first", variant: partoosim.Variant{NewestFirst: true}},
		{name: "id-order", order: partoosim.OrderID},
		{name: "realistic", variant: mustProfile(t, "realistic")},
		{name: "bad-dates", variant: partoosim.Variant{BadDateRatio: 0.15},
			loud:    []string{"Partoo item undecodable; skipped", "reason=bad_date"},
			metrics: [][]string{{"partoo_connector_api_items_skipped_total", `endpoint="/messages"`, `reason="bad_date"`}}},
		// Everyday glitches (issue 18): nothing untrue is published, everything true is.
		{name: "empty-glitch", variant: partoosim.Variant{EmptyGlitchRatio: 0.15, GlitchFor: 3 * time.Second}, vanish: true, doubt: "count_short",
			loud:    []string{"walk received fewer messages than Partoo's count"},
			metrics: [][]string{{"partoo_connector_walks_doubted_total", `reason="count_short"`}}},
		{name: "null-messages", variant: partoosim.Variant{NullMessagesRatio: 0.15, GlitchFor: 3 * time.Second}, vanish: true,
			loud:    []string{`is null, not an array`, "backend timeout"},
			metrics: [][]string{{"partoo_connector_api_errors_total", `kind="decode"`}}},
		{name: "count-short", variant: partoosim.Variant{ShortPageRatio: 0.3}, vanish: true, doubt: "count_short",
			loud:    []string{"walk received fewer messages than Partoo's count"},
			metrics: [][]string{{"partoo_connector_walks_doubted_total", `reason="count_short"`}}},
		{name: "cursor-ignored", variant: partoosim.Variant{CursorIgnoredRatio: 0.3}, vanish: true, doubt: "no_progress",
			loud:    []string{"pagination makes no progress", "none new to this walk"},
			metrics: [][]string{{"partoo_connector_walks_doubted_total", `reason="no_progress"`}}},
		{name: "big-message", variant: partoosim.Variant{BigContentRatio: 0.05}, vanish: true, doubt: "record_truncated",
			loud:    []string{"published with its content cut to fit"},
			metrics: [][]string{{"partoo_connector_records_truncated_total", `what="content"`}}},
		{name: "ns-dates", variant: partoosim.Variant{NanosecondDateRatio: 0.3}, vanish: true},
		{name: "far-dates", variant: partoosim.Variant{FarDateRatio: 0.1},
			loud:    []string{"Partoo item undecodable; skipped", "reason=bad_date", "is outside 2000-01-01"},
			metrics: [][]string{{"partoo_connector_api_items_skipped_total", `endpoint="/messages"`, `reason="bad_date"`}}},
		{name: "retry-after-epoch", variant: partoosim.Variant{RetryAfterEpochRatio: 0.05}, vanish: true},
		{name: "glitchy", variant: mustProfile(t, "glitchy"), vanish: true},
		{name: "html-errors", variant: partoosim.Variant{HTMLErrorRatio: 0.15, HTMLOKRatio: 0.1},
			loud: []string{"Partoo request failed", "error_kind=non_json", "<!DOCTYPE html>"},
			metrics: [][]string{{"partoo_connector_api_errors_total", `kind="non_json"`},
				{"partoo_connector_api_errors_total", `kind="5xx"`},
				{"partoo_connector_api_requests_total", `result="error"`, `status="200"`}}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runVariant(t, tc, uint64(100+i))
		})
	}
}

func mustProfile(t *testing.T, name string) partoosim.Variant {
	v, _, err := partoosim.ParseProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runVariant(t *testing.T, tc variantCase, seed uint64) {
	e := newEnv(t)
	if tc.vanish {
		// Every conversation suffers glitches, a few each: enough to be tested, few enough
		// that the back-off of failing walks (10 s, 20 s, ...) fits the test's minutes.
		tc.variant.GlitchesPerConversation = 3
	}
	e.sim.SetVariant(tc.variant)
	if tc.order != "" {
		e.sim.SetOrder(tc.order)
	}
	gen := partoosim.NewGenerator(e.sim, partoosim.Activity{
		MessagesPerSecond: 5, NewConversationShare: 0.1, DeleteRatio: 0.4, FailureRatio: 0.3,
		StatusDelayMin: 100 * time.Millisecond, StatusDelayMax: 1500 * time.Millisecond,
		RetryDelayMax: 3 * time.Second, DeleteDelayMax: 3 * time.Second, UnknownRatio: 0.05,
	}, seed)
	gen.Populate(10, 5, time.Hour)

	addr := kafkatest.FreeAddr(t)
	extra := append([]string{"HTTP_ADDR=" + addr, "LOG_LEVEL=info", "LOG_SUMMARY_INTERVAL=5s"}, tc.env...)
	began := time.Now()
	p := startProc(t, e.processStarter(t, extra...))

	ctx, stopGen := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	go func() { defer close(genDone); _ = gen.Run(ctx, 20*time.Millisecond) }()
	time.Sleep(4 * time.Second)
	stopGen()
	<-genDone

	if tc.vanish {
		vanishTwo(t, e)
	}
	if !tc.silent {
		expect := func(conv int64, m model.Message) bool {
			if tc.expect != nil {
				return tc.expect(e.sim, conv, m) && !e.sim.Undecodable(m.ID)
			}
			return m.SenderType.Known() && !e.sim.Undecodable(m.ID)
		}
		waitExactlyOnce(t, e, expect, 90*time.Second, p.alive)
		if tc.variant.BadDateRatio > 0 {
			requireGoodAfterBad(t, e)
		}
		if tc.vanish {
			// The glitches go on (each lasting 3 s for its conversation, over the 2 s the
			// connector waits to confirm a deletion): more walks must not publish anything untrue.
			time.Sleep(8 * time.Second)
			waitExactlyOnce(t, e, expect, 30*time.Second, p.alive)
		}
		if cut := requireTrueContent(t, e); tc.variant.BigContentRatio > 0 && cut == 0 {
			t.Fatal("no big message was published: the scenario is not exercised")
		}
	}
	for _, want := range tc.loud {
		p.waitLog(t, want, began, 2*time.Minute)
	}
	// The classic API at a healthy start: what the log says of the snapshot is true (it used
	// to say the first pass "ended short" at every start, walks merely still in flight).
	if logs := p.logs.String(); tc.name == "classic" && (strings.Contains(logs, "snapshot still incomplete") || strings.Contains(logs, "ended short")) {
		t.Fatalf("a healthy start logged an incomplete snapshot:\n%s", tail(p.logs.String(), 10))
	}
	for _, series := range tc.metrics {
		waitMetric(t, addr, series, time.Minute)
	}
	if tc.degraded {
		waitDegraded(t, addr, began, 2*time.Minute)
	}
	if tc.doubt != "" {
		_, body := httpGet(t, "http://"+addr+"/status")
		var st status.Report
		if err := json.Unmarshal([]byte(body), &st); err != nil || !strings.HasPrefix(st.Doubts.Last, tc.doubt+" (conversation ") {
			t.Fatalf("/status does not name the doubt %q: %s", tc.doubt, body)
		}
		t.Logf("/status: doubts.last = %q", st.Doubts.Last)
	}
	p.stop(t)
}

// vanishTwo makes two published-worthy messages disappear from the API, as a deletion Partoo
// does not flag would.
func vanishTwo(t *testing.T, e *env) {
	t.Helper()
	n := 0
	for _, cid := range e.sim.ConversationIDs() {
		for _, m := range e.sim.Messages(cid) {
			if n < 2 && m.SenderType.Known() && !m.IsDeleted && !e.sim.Undecodable(m.ID) && !e.sim.Big(m.ID) {
				if err := e.sim.VanishMessage(m.ID); err != nil {
					t.Fatal(err)
				}
				n++
				break // one per conversation
			}
		}
	}
	if n < 2 {
		t.Fatal("no two messages to vanish")
	}
}

// requireTrueContent checks what each MessageCreated says of its message against Partoo's:
// the date (whatever unit it was served in), and the content — whole, or cut to fit Kafka
// and flagged with its original size.
func requireTrueContent(t *testing.T, e *env) (cut int) {
	t.Helper()
	truth := map[int64]model.Message{}
	for _, cid := range e.sim.ConversationIDs() {
		for _, m := range e.sim.Messages(cid) {
			truth[m.ID] = m
		}
	}
	for _, ev := range e.readEvents(t) {
		if ev.Type != "MessageCreated" {
			continue
		}
		m, ok := truth[ev.msgID()]
		if !ok {
			continue // vanished since
		}
		msg := ev.Body["message"].(map[string]any)
		if got, want := msg["date"], m.Date.UTC().Format("2006-01-02T15:04:05.000000Z07:00"); got != want {
			t.Fatalf("message %d published with date %v, Partoo says %s", m.ID, got, want)
		}
		content, _ := msg["content"].(string)
		if m.IsDeleted {
			continue // deleted since: Partoo may have blanked its content
		}
		if !e.sim.Big(m.ID) {
			if content != m.Content || msg["content_truncated_from"] != nil {
				t.Fatalf("message %d: content %q (truncated_from %v), Partoo says %q", m.ID, content, msg["content_truncated_from"], m.Content)
			}
			continue
		}
		from, _ := msg["content_truncated_from"].(int64)
		if from < 1_000_000 || int(from) <= len(content) || !strings.HasPrefix(content, m.Content) {
			t.Fatalf("big message %d: %d bytes published, truncated_from %v", m.ID, len(content), msg["content_truncated_from"])
		}
		cut++
	}
	if cut > 0 {
		t.Logf("%d big messages published cut to fit and flagged", cut)
	}
	return cut
}

// requireGoodAfterBad checks the scenario that used to block a conversation for good: an
// undecodable message followed by a good one in the same conversation (whose publication
// waitExactlyOnce has just checked).
func requireGoodAfterBad(t *testing.T, e *env) {
	t.Helper()
	for _, cid := range e.sim.ConversationIDs() {
		bad := false
		for _, m := range e.sim.Messages(cid) {
			if e.sim.Undecodable(m.ID) {
				bad = true
			} else if bad && m.SenderType.Known() {
				return
			}
		}
	}
	t.Fatal("no conversation has a good message after an undecodable one: the scenario is not exercised")
}

// waitMetric waits until a series of /metrics whose line holds every fragment is above 0.
func waitMetric(t *testing.T, addr string, fragments []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if v := metricValue(t, addr, fragments); v > 0 {
			t.Logf("%s = %v", strings.Join(fragments, ","), v)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no series %v above 0 in /metrics", fragments)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func metricValue(t *testing.T, addr string, fragments []string) float64 {
	code, body := httpGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		return 0
	}
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, fragments[0]+"{") {
			continue
		}
		ok := true
		for _, f := range fragments[1:] {
			ok = ok && strings.Contains(line, f)
		}
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			total += v
		}
	}
	return total
}

func waitDegraded(t *testing.T, addr string, began time.Time, within time.Duration) {
	t.Helper()
	for {
		_, body := httpGet(t, "http://"+addr+"/status")
		var st status.Report
		if json.Unmarshal([]byte(body), &st) == nil && st.Status == "degraded" {
			t.Logf("/status degraded %v after the start: %q", time.Since(began).Round(time.Second), st.Reasons)
			return
		}
		if time.Since(began) > within {
			t.Fatalf("/status not degraded within %v: %s", within, body)
		}
		time.Sleep(time.Second)
	}
}
