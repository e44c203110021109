package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// validate checks every setting and returns one error per wrong variable.
func (c *Config) validate() Errors {
	var errs Errors
	errs = append(errs, c.validateRegistry()...)
	if c.PartooOrganizationsFile != "" {
		errs = append(errs, c.refuseOneOrganizationVars()...)
	}
	errs = append(errs, c.validatePartoo()...)
	errs = append(errs, c.KafkaConfig.validate()...)
	errs = append(errs, c.validateService()...)
	return errs
}

// validatePartoo checks the PARTOO_* settings of the API client and the walks, and reads the
// key from PARTOO_API_KEY_FILE.
func (c *Config) validatePartoo() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	switch {
	case c.PartooOrganizationsFile != "":
		errs = append(errs, c.loadOrganizations()...) // the keys are the organisations'
		errs = append(errs, c.splitSharedKeys()...)
	case c.PartooAPIKeyFile != "":
		if !c.PartooAPIKey.IsZero() {
			bad("PARTOO_API_KEY_FILE", "set together with PARTOO_API_KEY; set only one")
		} else if b, err := os.ReadFile(c.PartooAPIKeyFile); err != nil {
			bad("PARTOO_API_KEY_FILE", "cannot read the file: "+describeFileErr(err))
		} else if key := strings.TrimSpace(string(b)); key == "" {
			bad("PARTOO_API_KEY_FILE", "the file is empty")
		} else {
			c.PartooAPIKey = secret.New(key)
		}
	case c.PartooAPIKey.IsZero():
		bad("PARTOO_API_KEY", "required (or PARTOO_API_KEY_FILE, or PARTOO_ORGANIZATIONS_FILE for several organisations)")
	}
	switch u, err := url.Parse(c.PartooAPIURL); {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("PARTOO_API_URL", "must be an absolute http(s) URL, e.g. https://api.partoo.co/v2")
	case u.User != nil:
		bad("PARTOO_API_URL", "must not hold credentials (they would be logged): the key goes in PARTOO_API_KEY")
	case u.RawQuery != "" || u.Fragment != "":
		bad("PARTOO_API_URL", "must not have a query or fragment")
	}
	if c.PartooRequestsPerMinute < 1 {
		bad("PARTOO_REQUESTS_PER_MINUTE", "must be at least 1")
	}
	errs = append(errs, c.validateSharedKeyCap()...)
	// !(in range), not (out of range): NaN is in no range and must be refused too.
	if !(c.PartooBudgetReserve >= 0 && c.PartooBudgetReserve <= 0.9) {
		bad("PARTOO_BUDGET_RESERVE", "must be between 0 and 0.9 (a share of the rate)")
	}
	if c.PartooStartupTimeout < time.Second {
		bad("PARTOO_STARTUP_TIMEOUT", "must be at least 1s")
	}
	if c.PartooRequestTimeout < 100*time.Millisecond {
		bad("PARTOO_REQUEST_TIMEOUT", "must be at least 100ms")
	}
	if c.PartooRequestAttempts < 1 || c.PartooRequestAttempts > 20 {
		bad("PARTOO_REQUEST_ATTEMPTS", "must be between 1 and 20")
	}
	if c.PartooMaxInFlight < 1 || c.PartooMaxInFlight > 256 {
		bad("PARTOO_MAX_IN_FLIGHT", "must be between 1 and 256")
	}
	if c.PartooPerPage < 1 || c.PartooPerPage > 100 {
		bad("PARTOO_PER_PAGE", "must be between 1 and 100")
	}
	if c.PartooOrgID < 0 {
		bad("PARTOO_ORG_ID", "must be a positive organisation id (or unset)")
	}
	ids := c.PartooBusinessIDs[:0]
	for _, id := range c.PartooBusinessIDs {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(c.PartooBusinessIDs) > 0 && len(ids) == 0 {
		// "," or " ": a filter meant, none given; watching the whole organisation instead
		// would publish businesses nobody asked for.
		bad("PARTOO_BUSINESS_IDS", "lists no business id (unset it to watch the whole organisation)")
	}
	c.PartooBusinessIDs = ids
	return errs
}

// validateService checks the settings of the change detection, the scheduler, the HTTP
// server, the webhooks and the logs.
func (c *Config) validateService() Errors {
	var errs Errors
	bad := func(name, problem string) { errs = append(errs, &Error{Var: name, Problem: problem}) }
	if err := checkHostPort(c.HTTPAddr, true); err != nil {
		bad("HTTP_ADDR", err.Error()+", e.g. :8080 or 127.0.0.1:8080")
	}
	if c.StateOnCorrupt != "fail" && c.StateOnCorrupt != "rewalk" {
		bad("STATE_ON_CORRUPT", "must be fail or rewalk")
	}
	if c.StateOwnerCheck != "fail" && c.StateOwnerCheck != "adopt" {
		bad("STATE_OWNER_CHECK", "must be fail or adopt")
	}
	if c.PartooOrganizationsReload < 0 || c.PartooOrganizationsReload > 0 && c.PartooOrganizationsReload < time.Second {
		bad("PARTOO_ORGANIZATIONS_RELOAD_INTERVAL", "must be 0 (never) or at least 1s, e.g. 10s")
	}
	if c.VanishAfterWalks < 1 {
		bad("VANISH_AFTER_WALKS", "must be at least 1")
	}
	if c.PartooVanishConfirmAfter < 0 {
		bad("PARTOO_VANISH_CONFIRM_AFTER", "must not be negative")
	}
	if c.Scheduler != "smart" && c.Scheduler != "sweep" {
		bad("SCHEDULER", "must be smart or sweep")
	}
	if c.SchedulerDiscoveryInterval < 100*time.Millisecond {
		bad("SCHEDULER_DISCOVERY_INTERVAL", "must be at least 100ms")
	}
	if c.SchedulerSendingMaxBackoff < time.Second {
		bad("SCHEDULER_SENDING_MAX_BACKOFF", "must be at least 1s")
	}
	for _, d := range c.SchedulerInstagramChecks {
		if d <= 0 {
			bad("SCHEDULER_INSTAGRAM_CHECKS", "durations must be positive")
			break
		}
	}
	if !(c.SchedulerReconcileShare > 0 && c.SchedulerReconcileShare <= 1) { // NaN too
		bad("SCHEDULER_RECONCILE_SHARE", "must be above 0 and at most 1")
	}
	if c.SchedulerReconcilePeriod < 0 {
		bad("SCHEDULER_RECONCILE_PERIOD", "must not be negative")
	}
	if !c.WebhookSecret.IsZero() && !strings.HasPrefix(strings.ToLower(c.WebhookAuthHeader), "x-") {
		bad("WEBHOOK_AUTH_HEADER", "must start with X- (Partoo's custom headers do)")
	}
	if c.WebhookMaxBodyBytes < 1024 {
		bad("WEBHOOK_MAX_BODY_BYTES", "must be at least 1024")
	}
	if _, err := c.SlogLevel(); err != nil {
		bad("LOG_LEVEL", err.Error())
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "must be json or text")
	}
	if c.LogSummaryInterval < 0 || (c.LogSummaryInterval > 0 && c.LogSummaryInterval < time.Second) {
		bad("LOG_SUMMARY_INTERVAL", "must be 0 (never) or at least 1s")
	}
	return errs
}

// SlogLevel parses LOG_LEVEL.
func (c *Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}

// checkHostPort checks a host:port address; emptyHost allows ":8080" (every interface).
func checkHostPort(addr string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host == "" && !emptyHost {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", addr)
	}
	return nil
}

func describeFileErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
