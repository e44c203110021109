// Package sim is the public entry point of the partoo-sim command, the in-memory Partoo API,
// so that cmd/partoo-sim stays a three-line program while its code lives under
// connector/internal. It links the simulator only.
package sim

import (
	"io"

	"github.com/partoo-connector/partoo-connector/connector/internal/cli/simcli"
)

// Main runs partoo-sim with its arguments (without the program name) and returns the exit
// status: 0 success, 1 failure, 2 bad usage.
func Main(args []string, stderr io.Writer) int { return simcli.Main(args, stderr) }
