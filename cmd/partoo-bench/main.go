// Command partoo-bench measures detection lag under Partoo's 300 requests/minute budget, in
// simulated time, driving the shipped pipeline against the simulator, and writes a Markdown
// report and a PNG plot (see docs/benchmarks.md):
//
//	go run ./cmd/partoo-bench -out cmd/partoo-bench/results
package main

import (
	"os"

	"github.com/partoo-connector/partoo-connector/connector/cli/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
