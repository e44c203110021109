package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultStartupTimeout is how long the Kafka steps of the start are retried while Kafka does
// not answer usefully (Options.StartupTimeout).
const DefaultStartupTimeout = 5 * time.Minute

// startupStep runs one Kafka step of the start (no attempt outlasts the start-up timeout) until
// it succeeds, and retries it with back-off (0.5 s doubling to 10 s) while it fails with an
// error that a slow or still-loading broker gives: no answer in time, a broken connection, a
// retriable Kafka error code such as COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR. The first
// failure is logged, then one line a minute. It returns the error once StartupTimeout has
// passed since began, a non-retriable error at once, and nil when ctx ends.
func (c *Connector) startupStep(ctx context.Context, began time.Time, what string, step func(context.Context) error) error {
	backoff := 500 * time.Millisecond
	var logged time.Time
	defer c.starting.Store(nil)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithDeadline(ctx, began.Add(c.opt.StartupTimeout))
		err := step(actx)
		cancel()
		switch {
		case err == nil:
			if attempt > 1 {
				c.log.Info("Kafka answers: start-up goes on", "step", what, "attempts", attempt,
					"waited", time.Since(began).Round(time.Second))
			}
			return nil
		case ctx.Err() != nil:
			return nil
		case !transientKafkaError(err):
			return err
		}
		waited := time.Since(began)
		if waited >= c.opt.StartupTimeout {
			return fmt.Errorf("%s: Kafka did not answer usefully within the start-up timeout of %s: %w", what, c.opt.StartupTimeout, err)
		}
		why := "waiting for Kafka: " + what + ": " + err.Error()
		c.starting.Store(&why)
		if logged.IsZero() || time.Since(logged) >= time.Minute {
			logged = time.Now()
			c.log.Warn("Kafka is not ready for the start (a broker or transaction coordinator still loading?); retrying",
				"step", what, "err", err, "attempt", attempt, "waited", waited.Round(time.Second),
				"gives_up_in", (c.opt.StartupTimeout - waited).Round(time.Second))
		}
		t := time.NewTimer(min(backoff, c.opt.StartupTimeout-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// transientKafkaError reports whether err is what a slow, starting or briefly unreachable
// broker gives, rather than a refusal that needs an operator.
func transientKafkaError(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || kerr.IsRetriable(err) ||
		errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
