// Command partoo-connector streams Partoo conversations into Kafka. Its code is in
// connector/internal/cli/connectorcli, reached through connector/cli/connector; run it with no
// arguments for its commands.
package main

import (
	"os"

	"github.com/partoo-connector/partoo-connector/connector/cli/connector"
)

// version and commit are set at build time with -ldflags "-X main.version=... -X main.commit=..."
// (deploy/Dockerfile does); otherwise they come from Go's build information.
var version, commit = "", ""

func main() { os.Exit(connector.Main(version, commit, os.Args[1:], os.Stdout, os.Stderr)) }
