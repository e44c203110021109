// Command partoo-sim serves an in-memory Partoo API (/v2) with lifelike activity, for the demo,
// docker-compose and benchmarks. See the "Partoo simulator" section of docs/development.md.
package main

import (
	"os"

	"github.com/partoo-connector/partoo-connector/connector/cli/sim"
)

func main() { os.Exit(sim.Main(os.Args[1:], os.Stderr)) }
