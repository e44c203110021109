package benchcli

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEQuotesTheResults: the freshness tables of docs/benchmarks.md are the ones `make
// bench-freshness` and `make bench-realtime` last wrote.
func TestREADMEQuotesTheResults(t *testing.T) {
	readme, err := os.ReadFile("../../../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	for file, least := range map[string]int{"freshness.md": 40, "realtime.md": 4} {
		res, err := os.ReadFile("../../../../cmd/partoo-bench/results/" + file)
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, line := range strings.Split(string(res), "\n") {
			if strings.HasPrefix(line, "|") || strings.HasPrefix(line, "The p50 lags differ") {
				rows++
				if !strings.Contains(string(readme), line) {
					t.Errorf("docs/benchmarks.md lacks the line %q; copy cmd/partoo-bench/results/%s into it", line, file)
				}
			}
		}
		if rows < least {
			t.Errorf("results/%s has %d table rows, want at least %d", file, rows, least)
		}
	}
	if _, err := os.Stat("../../../../cmd/partoo-bench/results/freshness.png"); err != nil {
		t.Fatal(err)
	}
}
