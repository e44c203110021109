// Package connectorcli is the partoo-connector command (cmd/partoo-connector): run, demo, tail,
// doctor, resnapshot, rebuild-state, probe, version.
package connectorcli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

// version and commit are given by cmd/partoo-connector, which has them set at build time with
// -ldflags "-X main.version=... -X main.commit=..." (deploy/Dockerfile does); otherwise they come
// from Go's build information.
var version, commit = "", ""

// Main runs the partoo-connector command with its arguments (without the program name) and
// returns the exit status.
func Main(buildVersion, buildCommit string, args []string, stdout, stderr io.Writer) int {
	version, commit = buildVersion, buildCommit
	return run(args, stdout, stderr)
}

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run the connector, configured from the environment", cmdRun},
		{"demo", "everything embedded (simulated Partoo, in-process Kafka): prints each event (text on a terminal, JSON lines otherwise)", cmdDemo},
		{"tail", "print the events topic, one event a line (read_committed)", cmdTail},
		{"resnapshot", "ask the running connector to re-emit conversations as snapshots", cmdResnapshot},
		{"rebuild-state", "rebuild a lost state topic from the events topic (connector stopped)", cmdRebuildState},
		{"doctor", "check a deployment before it goes live: configuration, Partoo, Kafka, registry", cmdDoctor},
		{"probe", "GET a URL, exit 0 on 2xx (health checks in shell-less images)", cmdProbe},
		{"version", "print the version, commit, Go and franz-go versions", func(_ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, versionLine())
			return 0
		}},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	case "--version":
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "partoo-connector: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: partoo-connector <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'partoo-connector <command> --help' for a command's flags.\n")
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is the version with the commit and the Go and franz-go versions the binary was
// built with, e.g. "partoo-connector v1.2.0 commit=3a9752f go=go1.26.0 franz-go=v1.22.3".
func versionLine() string {
	line := "partoo-connector " + buildVersion()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return line
	}
	rev, dirty := "unknown", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 7:
			rev = s.Value[:7]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if commit != "" {
		rev, dirty = commit, ""
	}
	franz := "unknown"
	for _, d := range bi.Deps {
		if d.Path == "github.com/twmb/franz-go" {
			franz = d.Version
		}
	}
	return fmt.Sprintf("%s commit=%s%s go=%s franz-go=%s", line, rev, dirty, bi.GoVersion, franz)
}

// parseFlags parses a command's flags and refuses more than maxArgs arguments. stop says the
// command ends here, with status rc: 0 after --help, 2 for a bad flag or an unexpected argument.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int, stderr io.Writer) (rc int, stop bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(stderr, "partoo-connector %s: unexpected argument %q (see --help)\n", fs.Name(), fs.Arg(maxArgs))
		return 2, true
	}
	return 0, false
}

// kafkaSettings reads the Kafka variables of the tools (tail, resnapshot, rebuild-state); on a
// wrong one it prints one line per problem and returns false (exit status 2).
func kafkaSettings(stderr io.Writer) (*config.KafkaConfig, []kgo.Opt, bool) {
	cfg, err := config.LoadKafka()
	if err != nil {
		printConfigErrors(stderr, err)
		return nil, nil, false
	}
	kopts, err := cfg.KafkaOpts()
	if err != nil {
		printConfigErrors(stderr, err)
		return nil, nil, false
	}
	return cfg, kopts, true
}
