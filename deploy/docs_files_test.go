package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shownFiles are files the docs must show in full (each in a `<!-- file: PATH -->` block): the
// recipes the tests run, so that what a reader copies is what CI ran.
var shownFiles = []string{
	"examples/flink/events.sql",
	"examples/flink/messages_table.sql",
	"examples/flink/queries.sql",
	"examples/flink/pitfalls.sql",
	"examples/kafka-connect/worker.properties",
	"examples/kafka-connect/messages-postgres.properties",
	"examples/kafka-connect/plugins/partoo-transforms/src/main/java/partoo/connect/ReplaceNul.java",
	"examples/kafka-streams/src/main/java/partoo/examples/MessagesPerBusinessApp.java",
}

// TestDocBlocksEqualFiles: in README.md and docs/*.md, a line `<!-- file: PATH -->` (PATH from
// the repository's root) must be followed by a fenced code block whose text is exactly the
// file's, and every file of shownFiles is shown so somewhere.
func TestDocBlocksEqualFiles(t *testing.T) {
	pages, _ := filepath.Glob("../docs/*.md")
	marker := regexp.MustCompile("(?m)^<!-- file: (\\S+) -->\n```[a-z]*\n")
	shown := map[string]bool{}
	for _, page := range append([]string{"../README.md"}, pages...) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range marker.FindAllStringSubmatchIndex(text, -1) {
			path := text[m[2]:m[3]]
			rest := text[m[1]:]
			end := strings.Index(rest, "\n```\n")
			if end < 0 && strings.HasSuffix(rest, "\n```") {
				end = len(rest) - 4
			}
			if end < 0 {
				t.Errorf("%s: the block of %s is not closed", page, path)
				continue
			}
			want, err := os.ReadFile(filepath.Join("..", path))
			if err != nil {
				t.Errorf("%s shows %s: %v", page, path, err)
				continue
			}
			if got := rest[:end+1]; got != string(want) {
				t.Errorf("%s: the block of %s differs from the file (first difference at line %d); copy the file into the doc",
					page, path, firstDiffLine(got, string(want)))
			}
			shown[path] = true
		}
	}
	for _, path := range shownFiles {
		if !shown[path] {
			t.Errorf("no doc shows %s (want a `<!-- file: %s -->` line before a fenced block of it)", path, path)
		}
	}
}

// firstDiffLine is the 1-based line where a and b first differ.
func firstDiffLine(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return len(al) + 1
}
