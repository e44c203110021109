// Package ratelog keeps a failing connector loud without flooding its log: the first
// occurrence of a problem is logged at once, repeats are counted, and Flush (the connector
// calls it every minute) logs one line per problem that repeated, with the count.
//
// A problem is identified by a key chosen by the caller, such as "api:/messages:timeout": a
// few dozen keys at most, never one per conversation.
package ratelog

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Logger is safe for concurrent use. A nil *Logger logs nothing.
type Logger struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	level   slog.Level
	msg     string
	args    []any // of the latest occurrence
	since   time.Time
	repeats int // occurrences since the last line
}

// New returns a Logger writing to log; now is the clock (time.Now when nil).
func New(log *slog.Logger, now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{log: log, now: now, entries: map[string]*entry{}}
}

// Warn logs at warn level, rate-limited by key.
func (l *Logger) Warn(key, msg string, args ...any) { l.Log(slog.LevelWarn, key, msg, args...) }

// Error logs at error level, rate-limited by key.
func (l *Logger) Error(key, msg string, args ...any) { l.Log(slog.LevelError, key, msg, args...) }

// Log logs msg with args at once if key was not logged since the last Flush, and otherwise
// counts it for Flush's summary.
func (l *Logger) Log(level slog.Level, key, msg string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	e, seen := l.entries[key]
	if seen {
		e.repeats++
		e.args, e.msg, e.level = args, msg, level
		l.mu.Unlock()
		return
	}
	l.entries[key] = &entry{level: level, msg: msg, args: args, since: l.now()}
	l.mu.Unlock()
	l.log.Log(context.Background(), level, msg, args...)
}

// Flush logs one line per key that repeated since it was last logged ("… (42 more times since
// 10:21:07)", with the latest occurrence's attributes) and starts a new period: the next
// occurrence of any key is logged at once again.
func (l *Logger) Flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	keys := make([]string, 0, len(l.entries))
	for k, e := range l.entries {
		if e.repeats > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	lines := make([]*entry, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, l.entries[k])
	}
	l.entries = map[string]*entry{}
	l.mu.Unlock()
	for _, e := range lines {
		args := append(append([]any{}, e.args...), "repeats", e.repeats, "since", e.since.UTC().Format(time.RFC3339))
		l.log.Log(context.Background(), e.level, e.msg+" (repeated)", args...)
	}
}
