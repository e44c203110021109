package connectorcli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// cmdProbe GETs a URL and exits 0 on 2xx: a health check for images without a shell or curl
// (docker-compose healthchecks).
func cmdProbe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "request timeout")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector probe [--timeout D] URL\n\nGETs URL and exits 0 on a 2xx answer, 1 otherwise (a health check for shell-less images).\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	resp, err := (&http.Client{Timeout: *timeout}).Get(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "probe: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "probe: %s\n", resp.Status)
		return 1
	}
	return 0
}
