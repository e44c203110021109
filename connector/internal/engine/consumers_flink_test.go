package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
)

// The Flink SQL recipes of docs/recipes.md (examples/flink/*.sql), run by PyFlink on the
// registry case: the events topic read as one table per record type, and the messages table
// topic through upsert-kafka. examples/flink/recipes.py prints every query's final rows; this
// compares them with the simulator's ground truth, timestamps to the microsecond.
func init() {
	downstreamRecipes["flink"] = runFlinkRecipes
}

// flinkOutput is what examples/flink/recipes.py prints: each query of queries.sql by name,
// its final rows. Timestamps are integers: TIMESTAMP_LTZ(6) columns in epoch microseconds,
// TIMESTAMP(3) columns in epoch milliseconds.
type flinkOutput struct {
	EventsByType []struct {
		EventType string `json:"event_type"`
		Events    int    `json:"events"`
	} `json:"events_by_type"`
	CreatedPerBusinessPartner []struct {
		BusinessID       string `json:"business_id"`
		MessagingPartner string `json:"messaging_partner"`
		Created          int    `json:"created"`
	} `json:"created_per_business_partner"`
	MessageCreated []struct {
		MessageID        int64  `json:"message_id"`
		ConversationID   int64  `json:"conversation_id"`
		BusinessID       string `json:"business_id"`
		MessagingPartner string `json:"messaging_partner"`
		ContentType      string `json:"content_type"`
		SenderType       string `json:"sender_type"`
		SenderLabel      string `json:"sender_label"`
		flinkTimes
	} `json:"message_created"`
	StatusChanged []struct {
		MessageID int64  `json:"message_id"`
		Status    string `json:"status"`
		flinkTimes
	} `json:"status_changed"`
	MessageDeleted []struct {
		MessageID int64  `json:"message_id"`
		Reason    string `json:"reason"`
		flinkTimes
	} `json:"message_deleted"`
	Messages []struct {
		ID               string `json:"id"`
		MessageID        int64  `json:"message_id"`
		ConversationID   int64  `json:"conversation_id"`
		BusinessID       string `json:"business_id"`
		MessagingPartner string `json:"messaging_partner"`
		MessageDate      *int64 `json:"message_date"`
		MessageDateMs    *int64 `json:"message_date_ms"`
		ContentType      string `json:"content_type"`
		SenderType       string `json:"sender_type"`
		SenderLabel      string `json:"sender_label"`
		Status           string `json:"status"`
		UpdatedAt        *int64 `json:"updated_at"`
		UpdatedAtMs      *int64 `json:"updated_at_ms"`
	} `json:"messages"`
	// Pitfalls are pitfalls.sql's queries: what docs/recipes.md warns against.
	Pitfalls map[string]struct {
		Rows []struct {
			MessageID  int64  `json:"message_id"`
			DetectedAt *int64 `json:"detected_at"`
		} `json:"rows"`
		Error string `json:"error"`
	} `json:"pitfalls"`
}

// flinkTimes are an event row's timestamps: each micros field through TO_TIMESTAMP_LTZ(col, 6)
// and its timestamp-millis twin as TIMESTAMP(3).
type flinkTimes struct {
	DetectedAt    *int64 `json:"detected_at"`
	DetectedAtMs  *int64 `json:"detected_at_ms"`
	MessageDate   *int64 `json:"message_date"`
	MessageDateMs *int64 `json:"message_date_ms"`
}

// msTwin says what is wrong with a micros timestamp and its millisecond twin, "" when both are
// there and ms == floor(micros/1000).
func msTwin(name string, micros, ms *int64) string {
	switch {
	case micros == nil || ms == nil:
		return fmt.Sprintf("%s is null (micros %v, ms %v)", name, ptrText(micros), ptrText(ms))
	case *ms != floorDiv(*micros, 1000):
		return fmt.Sprintf("%s_ms = %d, want floor(%d/1000) = %d", name, *ms, *micros, floorDiv(*micros, 1000))
	}
	return ""
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ptrText(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}

func runFlinkRecipes(t *testing.T, cases []*consumerCase, _ string) {
	required := kafkatest.RequireReal()
	for _, tool := range []string{"python3", "java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			if required {
				t.Fatalf("KAFKA_REQUIRE_REAL=1 but %s is missing: the Flink recipes need it", tool)
			}
			t.Skipf("%s is missing: the Flink recipes need it", tool)
		}
	}
	start := time.Now()
	out, err := exec.Command("../../../examples/flink/venv.sh").Output()
	if err != nil {
		t.Fatalf("examples/flink/venv.sh: %v", exitDetail(err))
	}
	python := strings.TrimSpace(string(out))
	out, err = exec.Command("../../../examples/flink/jars.sh").Output()
	if err != nil {
		t.Fatalf("examples/flink/jars.sh: %v", exitDetail(err))
	}
	jars := strings.TrimSpace(string(out))
	t.Logf("PyFlink and the Flink jars ready in %s", time.Since(start).Round(time.Second))

	ran := 0
	for _, c := range cases {
		if c.Registry == "" || c.Old != "" {
			continue // avro-confluent reads the registry's framing only
		}
		ran++
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, python, "../../../examples/flink/recipes.py",
			"--brokers", c.Brokers, "--registry", c.Registry, "--events-topic", c.Topic,
			"--messages-table-topic", c.MessagesTable, "--jars", jars)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("recipes.py on %s: %v\n%s", c.Topic, err, tail(stderr.String(), 40))
		}
		var got flinkOutput
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("recipes.py output %q: %v\n%s", tail(stdout.String(), 5), err, tail(stderr.String(), 20))
		}
		if problems := flinkProblems(c, &got); len(problems) > 0 {
			if len(problems) > 40 {
				problems = append(problems[:40], fmt.Sprintf("… and %d more", len(problems)-40))
			}
			t.Fatalf("the Flink SQL recipes on %s differ from the simulator's ground truth:\n  %s",
				c.Topic, strings.Join(problems, "\n  "))
		}
		t.Logf("Flink SQL read %d MessageCreated, %d StatusChanged, %d MessageDeleted and %d message rows of %s, all as the simulator holds them (%s)",
			len(got.MessageCreated), len(got.StatusChanged), len(got.MessageDeleted), len(got.Messages), c.Topic,
			time.Since(start).Round(time.Second))
	}
	if ran == 0 {
		t.Fatal("no case with a schema registry: the Flink recipes read avro-confluent")
	}
	flinkAnyRelease(t, cases, python, jars)
}

// flinkProblems compares the recipes' rows with the case's ground truth; nil when they agree.
func flinkProblems(c *consumerCase, got *flinkOutput) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	byType := map[string]int{}
	for _, r := range got.EventsByType {
		byType[r.EventType] += r.Events
	}
	if !reflect.DeepEqual(byType, c.EventsByType) {
		add("events_by_type = %v, want %v", byType, c.EventsByType)
	}
	perBP := map[string]int{}
	for _, r := range got.CreatedPerBusinessPartner {
		perBP[r.BusinessID+"|"+r.MessagingPartner] += r.Created
	}
	if !reflect.DeepEqual(perBP, c.CreatedPerBusinessPartner) {
		add("created_per_business_partner = %v, want %v", perBP, c.CreatedPerBusinessPartner)
	}

	// MessageCreated: one per published message, its date to the microsecond.
	deleted := map[string]bool{}
	for _, id := range c.Deleted {
		deleted[id] = true
	}
	if n := len(got.MessageCreated); n != c.EventsByType["MessageCreated"] {
		add("message_created has %d rows, want %d", n, c.EventsByType["MessageCreated"])
	}
	created := map[string]int64{} // message id → message_date
	for _, r := range got.MessageCreated {
		id := strconv.FormatInt(r.MessageID, 10)
		if _, dup := created[id]; dup {
			add("MessageCreated %s: twice", id)
		}
		for _, p := range []string{msTwin("detected_at", r.DetectedAt, r.DetectedAtMs), msTwin("message_date", r.MessageDate, r.MessageDateMs)} {
			if p != "" {
				add("MessageCreated %s: %s", id, p)
			}
		}
		if r.MessageDate != nil {
			created[id] = *r.MessageDate
		}
		want, ok := c.Messages[id]
		switch {
		case !ok && !deleted[id]:
			add("MessageCreated %s: a message the simulator does not have", id)
		case !ok:
			// deleted since: its current state is gone; only the count and context checks apply
		default:
			if r.MessageDate == nil || *r.MessageDate != want.DateMicros {
				add("MessageCreated %s: message_date = %s µs, want %d", id, ptrText(r.MessageDate), want.DateMicros)
			}
			if r.ConversationID != want.ConversationID || r.BusinessID != want.BusinessID || r.MessagingPartner != want.MessagingPartner ||
				r.ContentType != want.ContentType || r.SenderType != want.SenderType || r.SenderLabel != want.SenderLabel {
				add("MessageCreated %s: conversation %d, business %q, partner %q, content %q, sender %q %q; want %d, %q, %q, %q, %q %q",
					id, r.ConversationID, r.BusinessID, r.MessagingPartner, r.ContentType, r.SenderType, r.SenderLabel,
					want.ConversationID, want.BusinessID, want.MessagingPartner, want.ContentType, want.SenderType, want.SenderLabel)
			}
		}
	}
	for id := range c.Messages {
		if _, ok := created[id]; !ok {
			add("message %s: no MessageCreated row", id)
		}
	}

	for _, r := range got.StatusChanged {
		id := strconv.FormatInt(r.MessageID, 10)
		for _, p := range []string{msTwin("detected_at", r.DetectedAt, r.DetectedAtMs), msTwin("message_date", r.MessageDate, r.MessageDateMs)} {
			if p != "" {
				add("StatusChanged %s: %s", id, p)
			}
		}
		if r.MessageDate != nil && created[id] != *r.MessageDate {
			add("StatusChanged %s: message_date = %d µs, its MessageCreated says %d", id, *r.MessageDate, created[id])
		}
	}
	var deletedIDs []string
	for _, r := range got.MessageDeleted {
		id := strconv.FormatInt(r.MessageID, 10)
		deletedIDs = append(deletedIDs, id)
		for _, p := range []string{msTwin("detected_at", r.DetectedAt, r.DetectedAtMs), msTwin("message_date", r.MessageDate, r.MessageDateMs)} {
			if p != "" {
				add("MessageDeleted %s: %s", id, p)
			}
		}
		if r.MessageDate != nil && created[id] != *r.MessageDate {
			add("MessageDeleted %s: message_date = %d µs, its MessageCreated says %d", id, *r.MessageDate, created[id])
		}
		if r.Reason == "" {
			add("MessageDeleted %s: no reason", id)
		}
	}
	wantDeleted := append([]string(nil), c.Deleted...)
	sort.Strings(wantDeleted)
	sort.Strings(deletedIDs)
	if !reflect.DeepEqual(deletedIDs, wantDeleted) {
		add("MessageDeleted for %v, want %v", deletedIDs, wantDeleted)
	}

	// The messages table through upsert-kafka: exactly the current messages, no deleted one.
	seen := map[string]bool{}
	for _, r := range got.Messages {
		if seen[r.ID] {
			add("messages table: id %s twice", r.ID)
		}
		seen[r.ID] = true
		if deleted[r.ID] {
			add("messages table: deleted message %s is present", r.ID)
			continue
		}
		want, ok := c.Messages[r.ID]
		if !ok {
			add("messages table: message %s the simulator does not have", r.ID)
			continue
		}
		gotRow := messageTruth{ConversationID: r.ConversationID, BusinessID: r.BusinessID, MessagingPartner: r.MessagingPartner,
			Status: r.Status, ContentType: r.ContentType, SenderType: r.SenderType, SenderLabel: r.SenderLabel}
		if r.MessageDate != nil {
			gotRow.DateMicros = *r.MessageDate
		}
		if strconv.FormatInt(r.MessageID, 10) != r.ID || gotRow != want {
			add("messages table: row %s = %+v (message_id %d), want %+v", r.ID, gotRow, r.MessageID, want)
		}
		for _, p := range []string{msTwin("message_date", r.MessageDate, r.MessageDateMs), msTwin("updated_at", r.UpdatedAt, r.UpdatedAtMs)} {
			if p != "" {
				add("messages table: row %s: %s", r.ID, p)
			}
		}
	}
	for id := range c.Messages {
		if !seen[id] {
			add("messages table: no row for message %s", id)
		}
	}

	// The docs' warnings: TIMESTAMP(3) over a micros field shifts dates, TIMESTAMP(6) is refused.
	// Should either stop holding (a newer Flink), the docs must say so.
	detected := map[int64]int64{}
	for _, r := range got.MessageCreated {
		if r.DetectedAt != nil {
			detected[r.MessageID] = *r.DetectedAt
		}
	}
	wrong := got.Pitfalls["wrong_millis"]
	if wrong.Error != "" || len(wrong.Rows) != len(got.MessageCreated) {
		add("pitfall wrong_millis: %d rows, error %q; want a row per MessageCreated (%d), no error", len(wrong.Rows), wrong.Error, len(got.MessageCreated))
	}
	const centuryMs = 100 * 365 * 24 * 3600 * 1000
	for _, r := range wrong.Rows {
		right, ok := detected[r.MessageID]
		if r.DetectedAt == nil || !ok {
			add("pitfall wrong_millis: message %d: detected_at %s", r.MessageID, ptrText(r.DetectedAt))
			break
		}
		if *r.DetectedAt-right/1000 < centuryMs {
			add("pitfall wrong_millis: TIMESTAMP(3) over detected_at (micros) read %s for the true %s: Flink no longer reads micros as millis, update docs/recipes.md",
				time.UnixMilli(*r.DetectedAt).UTC(), time.UnixMicro(right).UTC())
			break
		}
	}
	if refused := got.Pitfalls["refused_micros"]; !strings.Contains(refused.Error, "precision") {
		add("pitfall refused_micros: TIMESTAMP(6) gave %d rows, error %q; want refused (\"precision\"): if Flink takes it now, update docs/recipes.md",
			len(refused.Rows), refused.Error)
	}
	sort.Strings(problems)
	return problems
}
