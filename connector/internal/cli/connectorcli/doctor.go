package connectorcli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/doctor"
)

func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: partoo-connector doctor

Checks a deployment before it goes live, with the same environment as run: the configuration;
Partoo (the key, latency, listing and page order, the field types of a sample, the budget);
Kafka (reachability, version, both topics, the ACLs the connector needs, whether another live
producer holds the transactional id); the schema registry when set; webhooks. One line per
check: ✓ fine, ! worth knowing, ✗ blocks the connector, with advice. Writes nothing anywhere.
Exits 0 when nothing blocks, 1 otherwise.
`)
	}
	if rc, stop := parseFlags(fs, args, 0, stderr); stop {
		return rc
	}
	p := &checkPrinter{w: stdout}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doctor.Run(ctx, doctor.Options{Environ: os.Environ(), LiveWindow: liveWindow}, p.print)
	p.summary()
	if p.failed > 0 {
		return 1
	}
	return 0
}

// checkPrinter prints one line per check and counts them.
type checkPrinter struct {
	w                      io.Writer
	checks, failed, warned int
}

func (p *checkPrinter) print(c doctor.Check) {
	p.checks++
	switch c.Status {
	case doctor.Blocking:
		p.failed++
	case doctor.Warning:
		p.warned++
	}
	fmt.Fprintln(p.w, c)
}

func (p *checkPrinter) summary() {
	verdict := "nothing blocks the connector"
	if p.failed > 0 {
		verdict = fmt.Sprintf("%d problem(s) block the connector", p.failed)
	}
	fmt.Fprintf(p.w, "doctor: %d checks, %s, %d warning(s)\n", p.checks, verdict, p.warned)
}
