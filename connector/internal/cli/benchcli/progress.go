package benchcli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
)

// progress says on stderr when each job starts and ends, and appends each finished job's row
// to <out>/freshness-progress.txt as it ends: a run cut short keeps what it measured.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	file   string
	total  int
	nStart int
	nDone  int
}

func newProgress(out string, total int, w io.Writer) *progress {
	p := &progress{w: w, total: total}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err == nil {
			p.file = filepath.Join(out, "freshness-progress.txt")
			_ = os.WriteFile(p.file, nil, 0o644)
		}
	}
	return p
}

func (p *progress) started(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nStart++
	fmt.Fprintf(p.w, "partoo-bench: [%d/%d] %s started\n", p.nStart, p.total, name)
}

func (p *progress) done(name string, took time.Duration, r freshness.Result, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nDone++
	line := fmt.Sprintf("%s: failed: %v", name, err)
	if err == nil {
		line = fmt.Sprintf("%s: budget used %.1f %%, p50 lag %s, p99 lag %s, 429s %d (%v of wall time)", name,
			100*r.Utilisation, fmtLag(r.Percentile(0, .5)), fmtLag(r.Percentile(0, .99)), r.Throttled, took.Round(time.Second))
	}
	fmt.Fprintf(p.w, "partoo-bench: [%d/%d done] %s\n", p.nDone, p.total, line)
	if p.file != "" {
		if f, err := os.OpenFile(p.file, os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}
