package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
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
func (c *Engine) startupStep(ctx context.Context, began time.Time, what string, step func(context.Context) error) error {
	backoff := 500 * time.Millisecond
	var logged time.Time
	defer c.waiting("")
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
		c.waiting(why)
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

// checkAPI spends one request on the cheapest page there is before anything touches Kafka, so
// that a wrong key or a wrong PARTOO_API_URL stops the connector before it creates topics:
// 401/403 (the key), 404 or a body that is not JSON (the URL is not Partoo's API) stop it at
// once. A host that cannot be reached (unknown, refusing, TLS failing) is retried, 1 s doubling
// to 15 s, for PartooStartupTimeout, then stops it naming PARTOO_API_URL. Partoo reached but
// failing (no answer in time, 5xx, 429, an odd JSON body) is not a reason to stop: the failure
// is logged, and the walks will keep trying (and keep saying so, up to /status degraded).
func (c *Engine) checkAPI(ctx context.Context) error {
	clk := c.opt.Clock
	deadline := clk.Now().Add(c.opt.PartooStartupTimeout)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.client.ListConversations(cctx, partoo.ListConversationsParams{PerPage: 1, BusinessIDs: c.opt.BusinessIDs, MaxAttempts: 1})
		cancel()
		kind := partoo.ErrorKind(err)
		switch {
		case err == nil:
			c.log.Info("Partoo API key accepted")
			return nil
		case ctx.Err() != nil:
			return nil
		case partoo.IsAuth(err):
			return fmt.Errorf("Partoo API key check: %w", err)
		case kind == partoo.KindNotFound || kind == partoo.KindNonJSON || kind == partoo.KindOtherStatus:
			return fmt.Errorf("PARTOO_API_URL %s is not Partoo's API (give the base URL up to and including /v2, e.g. %s): GET /conversations: %w",
				c.client.BaseURL(), partoo.DefaultAPIURL, err)
		case kind == partoo.KindConnection:
			if !clk.Now().Add(backoff).Before(deadline) {
				return fmt.Errorf("PARTOO_API_URL %s: Partoo cannot be reached (gave up after %d attempts, start-up timeout %s): %w",
					c.client.BaseURL(), attempt, c.opt.PartooStartupTimeout, err)
			}
			why := fmt.Sprintf("waiting for Partoo's API to answer (PARTOO_API_URL %s)", c.client.BaseURL())
			c.waiting(why)
			c.log.Warn("Partoo's API does not answer; retrying before going on (check PARTOO_API_URL and the network)",
				"partoo_api_url", c.client.BaseURL(), "attempt", attempt, "retry_in", backoff,
				"gives_up_in", deadline.Sub(clk.Now()).Round(time.Second), "err", err)
			if clock.Sleep(ctx, clk, backoff) != nil {
				return nil
			}
			backoff = min(2*backoff, 15*time.Second)
		default:
			c.log.Warn("could not check the Partoo API key (Partoo did not answer usefully); going on", "err", err)
			return nil
		}
	}
}

// registerSchemas registers the event schemas (and the table topics' row schemas) with the
// schema registry, if one is configured, and switches the codecs to the Confluent wire format
// with their ids. A registry that
// does not answer is retried with backoff (1 s doubling to 30 s) while Readiness says why; a
// refusal (incompatible, invalid, credentials, not a registry) is returned. It returns nil when
// ctx ends first.
func (c *Engine) registerSchemas(ctx context.Context) error {
	if c.registry == nil {
		return nil
	}
	why := "registering the event schemas with the schema registry"
	c.waiting(why)
	defer c.waiting("")
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		regs, err := c.registry.Register(ctx, c.opt.Topics.Events, c.events.Schemas())
		var tableIDs [2]uint32 // message row, conversation row
		for i, tt := range []struct {
			topic  string
			schema events.Schema
		}{{c.opt.Topics.MessagesTable.Name, c.tables.MessageSchema()}, {c.opt.Topics.ConversationsTable.Name, c.tables.ConversationSchema()}} {
			if err != nil || tt.topic == "" {
				continue
			}
			var more []registry.Registered
			if more, err = c.registry.Register(ctx, tt.topic, []events.Schema{tt.schema}); err == nil {
				tableIDs[i] = more[0].ID
				regs = append(regs, more...)
			}
		}
		if err == nil {
			ids := make(map[diff.EventType]uint32, len(regs))
			subjects := make(map[string]uint32, len(regs))
			args := []any{"registry", c.registry.URL()}
			for _, r := range regs {
				if r.Type != 0 {
					ids[r.Type] = r.ID
				}
				subjects[r.Subject] = r.ID
				args = append(args, r.Subject, r.ID)
			}
			if err := c.events.UseSchemaIDs(ids); err != nil {
				return err
			}
			c.tables.UseSchemaIDs(tableIDs[0], tableIDs[1])
			c.subjects.Store(&subjects)
			c.opt.Metrics.SchemaRegistration("registered")
			c.log.Info("event and table schemas registered; values use the Confluent wire format", args...)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		var refused *registry.RefusedError
		if errors.As(err, &refused) {
			c.opt.Metrics.SchemaRegistration("refused")
			return err
		}
		c.opt.Metrics.SchemaRegistration("unavailable")
		why := "waiting for the schema registry: " + err.Error()
		c.waiting(why)
		c.health.rlog.Error("registry:unavailable", "the schema registry does not answer; retrying (not ready meanwhile)",
			"err", err, "attempt", attempt, "retry_in", backoff)
		if clock.Sleep(ctx, c.opt.Clock, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// waiting says what the start waits for ("": nothing any more); only while starting.
func (c *Engine) waiting(why string) { c.on(event{kind: evWaiting, why: why}) }
