package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEQuotesTheResults: the README's freshness table is the one `make bench-freshness`
// last wrote.
func TestREADMEQuotesTheResults(t *testing.T) {
	res, err := os.ReadFile("results/freshness.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(res), "\n") {
		if strings.HasPrefix(line, "|") {
			rows++
			if !strings.Contains(string(readme), line) {
				t.Errorf("README lacks the results row %q; copy cmd/partoo-bench/results/freshness.md into it", line)
			}
		}
	}
	if rows < 10 {
		t.Fatalf("results table has %d rows", rows)
	}
	if _, err := os.Stat("results/freshness.png"); err != nil {
		t.Fatal(err)
	}
}
