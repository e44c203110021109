package connectorcli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestDemoShowsEveryEventType: the README's first command shows MessageCreated, StatusChanged
// and MessageDeleted, as valid JSON lines. It runs until all three were printed
// (--until-every-type); its 10-minute --duration is a bound for "it happened at all", not a
// measure of speed — on an idle machine it takes about 15 s (the storyline's).
func TestDemoShowsEveryEventType(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	var out, errs bytes.Buffer
	began := time.Now()
	if rc := run([]string{"demo", "--duration", "10m", "--until-every-type", "--seed", "42"}, &out, &errs); rc != 0 {
		t.Fatalf("demo exited %d: %s", rc, errs.String())
	}
	t.Logf("every event type printed after %v", time.Since(began).Round(100*time.Millisecond))
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev eventLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		body, ok := ev.Event.(map[string]any)
		if !ok || body["event_id"] != ev.Headers["ce_id"] || ev.Key == "" {
			t.Fatalf("bad event line %q", line)
		}
		seen[ev.Type]++
	}
	for _, typ := range []string{"MessageCreated", "StatusChanged", "MessageDeleted"} {
		if seen[typ] == 0 {
			t.Errorf("no %s before the demo stopped (saw %v): %s", typ, seen, errs.String())
		}
	}
}

func TestUsageAndVersion(t *testing.T) {
	var out, errs bytes.Buffer
	if rc := run(nil, &out, &errs); rc != 2 || !strings.Contains(errs.String(), "commands:") {
		t.Fatalf("no args: rc=%d %q", rc, errs.String())
	}
	// Each command is listed once: run takes the first of two entries of a name, and the
	// usage would show both.
	listed := map[string]bool{}
	for _, c := range commands() {
		if listed[c.name] {
			t.Errorf("command %s is listed twice in commands()", c.name)
		}
		listed[c.name] = true
	}
	for _, cmd := range []string{"run", "demo", "tail", "probe", "doctor", "resnapshot", "rebuild-state"} {
		out.Reset()
		errs.Reset()
		if rc := run([]string{cmd, "--help"}, &out, &errs); rc != 0 || !strings.Contains(errs.String(), "usage: partoo-connector "+cmd) {
			t.Errorf("%s --help: rc=%d %q", cmd, rc, errs.String())
		}
	}
	out.Reset()
	if rc := run([]string{"version"}, &out, &errs); rc != 0 || !strings.HasPrefix(out.String(), "partoo-connector ") ||
		!strings.Contains(out.String(), " go=go1.") || !strings.Contains(out.String(), " franz-go=") {
		t.Fatalf("version: %d %q", rc, out.String())
	}
	// No "(default "")" for unset variables, and no argument where none is expected.
	errs.Reset()
	run([]string{"run", "--help"}, &out, &errs)
	if strings.Contains(errs.String(), `(default "")`) || !strings.Contains(errs.String(), "(default 300)") {
		t.Fatalf("run --help:\n%s", errs.String())
	}
	for _, cmd := range []string{"run", "demo", "tail", "doctor"} {
		if rc := run([]string{cmd, "surplus"}, &out, &errs); rc != 2 {
			t.Errorf("%s surplus: rc=%d, want 2", cmd, rc)
		}
	}
	if rc := run([]string{"bogus"}, &out, &errs); rc != 2 {
		t.Fatalf("unknown command: rc=%d", rc)
	}
}

// JSON logs carry durations as seconds and numbers as numbers.
func TestJSONLogsUseSecondsAndNumbers(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: durationsInSeconds}))
	log.Info("x", "duration", 1500*time.Millisecond, "requests_per_minute", 294.0, "walks", 3)
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["duration"] != 1.5 || got["requests_per_minute"] != 294.0 || got["walks"] != 3.0 {
		t.Fatalf("logged %s", b.String())
	}
}

// The usage lists each command once.
func TestUsageListsEachCommandOnce(t *testing.T) {
	var b bytes.Buffer
	usage(&b)
	for _, c := range commands() {
		if strings.Count(b.String(), "\n  "+c.name+" ") != 1 {
			t.Errorf("usage shows %s %d times:\n%s", c.name, strings.Count(b.String(), "\n  "+c.name+" "), b.String())
		}
	}
}
