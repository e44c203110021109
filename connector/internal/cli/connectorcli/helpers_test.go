package connectorcli

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// clearEnv sets every variable the connector reads to "" (unset, for config) for the test.
func clearEnv(t *testing.T) {
	for _, v := range config.Vars() {
		t.Setenv(v.Name, "")
	}
}

// testLogger keeps the connector's log and prints it only if the test fails, so a failure
// seen once in CI can be read afterwards.
func testLogger(t *testing.T) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("connector log:\n%s", buf.String())
			mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)) // INFO and up: each request at DEBUG would be megabytes
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
