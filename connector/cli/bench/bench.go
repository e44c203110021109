// Package bench is the public entry point of the partoo-bench command (detection lag in
// simulated time, the real-time cross-check, organisations per replica), so that
// cmd/partoo-bench stays a three-line program while its code lives under connector/internal.
package bench

import (
	"io"

	"github.com/partoo-connector/partoo-connector/connector/internal/cli/benchcli"
)

// Main runs partoo-bench with its arguments (without the program name) and returns the exit
// status: 0 success, 1 failure, 2 bad usage.
func Main(args []string, stdout, stderr io.Writer) int { return benchcli.Main(args, stdout, stderr) }
