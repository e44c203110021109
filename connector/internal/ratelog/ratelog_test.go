package ratelog_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/ratelog"
)

func TestFirstAtOnceThenCounted(t *testing.T) {
	var buf bytes.Buffer
	l := ratelog.New(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	for i := 0; i < 5; i++ {
		l.Warn("api:timeout", "request failed", "attempt", i)
	}
	l.Warn("api:5xx", "server error")
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines before Flush, want 2 (one per key):\n%s", got, buf.String())
	}
	buf.Reset()
	l.Flush()
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `msg="request failed (repeated)"`) ||
		!strings.Contains(out, "repeats=4") || !strings.Contains(out, "attempt=4") {
		t.Fatalf("flush:\n%s", out)
	}
	buf.Reset()
	l.Warn("api:timeout", "request failed", "attempt", 9)
	if !strings.Contains(buf.String(), "attempt=9") {
		t.Fatal("after a flush the next occurrence is logged at once")
	}
	var nilLogger *ratelog.Logger
	nilLogger.Warn("k", "m")
	nilLogger.Flush()
}
