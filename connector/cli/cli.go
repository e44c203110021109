// Package cli is the public entry point of the module's three commands, so that
// cmd/partoo-connector, cmd/partoo-sim and cmd/partoo-bench stay three-line programs while the
// code they run lives under connector/internal (not importable by other modules).
//
// Each function takes the command's arguments without the program name and returns the exit
// status: 0 success, 1 failure, 2 bad usage or configuration (one line naming the variable or
// flag).
package cli

import (
	"io"

	"github.com/partoo-connector/partoo-connector/connector/internal/cli/benchcli"
	"github.com/partoo-connector/partoo-connector/connector/internal/cli/connectorcli"
	"github.com/partoo-connector/partoo-connector/connector/internal/cli/simcli"
)

// Connector runs partoo-connector. version and commit name the build ("" reads them from Go's
// build information).
func Connector(version, commit string, args []string, stdout, stderr io.Writer) int {
	return connectorcli.Main(version, commit, args, stdout, stderr)
}

// Simulator runs partoo-sim, the in-memory Partoo API.
func Simulator(args []string, stderr io.Writer) int { return simcli.Main(args, stderr) }

// Bench runs partoo-bench, the detection-lag benchmark.
func Bench(args []string, stdout, stderr io.Writer) int { return benchcli.Main(args, stdout, stderr) }
