// Package connector is the public entry point of the partoo-connector command, so that
// cmd/partoo-connector stays a three-line program while its code lives under
// connector/internal (not importable by other modules). It links the connector's commands
// only: the demo's simulator, not the benchmarks (the house test checks it).
package connector

import (
	"io"

	"github.com/partoo-connector/partoo-connector/connector/internal/cli/connectorcli"
)

// Main runs partoo-connector with its arguments (without the program name) and returns the
// exit status: 0 success, 1 failure, 2 bad usage or configuration (one line naming the
// variable or flag). version and commit name the build ("" reads them from Go's build
// information).
func Main(version, commit string, args []string, stdout, stderr io.Writer) int {
	return connectorcli.Main(version, commit, args, stdout, stderr)
}
