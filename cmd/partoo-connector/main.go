// Command partoo-connector streams Partoo conversations into Kafka. Its code is in
// connector/internal/cli/connectorcli; run it with no arguments for its commands.
package main

import (
	"os"

	"github.com/partoo-connector/partoo-connector/connector/cli"
)

// version and commit are set at build time with -ldflags "-X main.version=... -X main.commit=..."
// (deploy/Dockerfile does); otherwise they come from Go's build information.
var version, commit = "", ""

func main() { os.Exit(cli.Connector(version, commit, os.Args[1:], os.Stdout, os.Stderr)) }
