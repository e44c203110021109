package partoo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/budget"
	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// DefaultAPIURL is Partoo's production API.
const DefaultAPIURL = "https://api.partoo.co/v2"

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// APIURL is the base URL of the API, up to and including /v2. Default DefaultAPIURL.
	APIURL string
	// APIKey is sent in the x-APIKey header. Required.
	APIKey secret.Secret
	// Budget every request passes through. Default: a new budget.Budget at RequestsPerMinute.
	// Share one Budget between all clients of the same organisation.
	Budget *budget.Budget
	// RequestsPerMinute for the default Budget. Default 300.
	RequestsPerMinute int
	// BudgetReserve for the default Budget: the share of RequestsPerMinute left unused for
	// the organisation's other integrations. Default 0.
	BudgetReserve float64
	// PerPage is the page size of walks, 1..100. Default 100.
	PerPage int
	// Transport sends the requests. Share one NewTransport among every organisation's
	// clients of a process. Default: a transport of the client's own, NewTransport with the
	// default TransportConfig (not Go's default transport, which keeps 2 idle connections per
	// host). Set Transport or HTTPClient, not both.
	Transport http.RoundTripper
	// HTTPClient sends the requests instead of a client over Transport (tests, simulators).
	// Its Timeout should be 0: each attempt is bounded by RequestTimeout. Default: a client
	// over Transport with no overall timeout.
	HTTPClient *http.Client
	// RequestTimeout bounds one attempt, from sending to the end of the body. Default 30 s.
	RequestTimeout time.Duration
	// RequestAttempts bounds the attempts of one call (first try included). Default 6. A call
	// can ask for fewer (ListConversationsParams.MaxAttempts).
	RequestAttempts int
	// MaxRetryTime bounds the time one call may spend retrying. Default 5 min.
	MaxRetryTime time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff (full jitter). Defaults 500 ms
	// and 30 s.
	BackoffBase, BackoffMax time.Duration
	// MaxPages bounds one walk. Default 10,000 (a million messages at 100 per page).
	MaxPages int
	// MaxBodyBytes bounds one response body. Default 32 MiB.
	MaxBodyBytes int64
	// Clock for the budget and backoff sleeps. Default: the wall clock (clock.Real).
	Clock clock.Clock
	// Hooks hear every attempt, skipped item, 429 and budget wait (see Hook). Default: none.
	Hooks []Hook
	// Conversations receives what Partoo says of each conversation listed or fetched: the
	// context the events carry (see Conversations). Default: none (events carry no context).
	Conversations Conversations
	// Logger, at debug level, gets one line per attempt: method, path and query (never the
	// key), status, duration, bytes. Default: none.
	Logger *slog.Logger
	// UserAgent header. Default "partoo-connector".
	UserAgent string
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	var errs []error
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.APIURL, "/"))
	switch {
	case err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "":
		errs = append(errs, errors.New("partoo: the base URL must be an absolute http(s) URL"))
	case base.User != nil:
		errs = append(errs, errors.New("partoo: the base URL must not hold credentials (the key goes in APIKey)"))
	}
	if cfg.APIKey.IsZero() {
		errs = append(errs, errors.New("partoo: the API key is empty"))
	}
	if cfg.PerPage == 0 {
		cfg.PerPage = 100
	}
	if cfg.PerPage < 1 || cfg.PerPage > 100 {
		errs = append(errs, fmt.Errorf("partoo: per_page %d is outside 1..100", cfg.PerPage))
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Budget == nil {
		b, err := budget.New(budget.Config{RequestsPerMinute: cfg.RequestsPerMinute, Reserve: cfg.BudgetReserve, Clock: cfg.Clock})
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Budget = b
	}
	if cfg.Transport != nil && cfg.HTTPClient != nil {
		errs = append(errs, errors.New("partoo: set Transport or HTTPClient, not both"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		if cfg.Transport == nil {
			cfg.Transport = newTransport(TransportConfig{})
		}
		cfg.HTTPClient = &http.Client{Transport: cfg.Transport}
	}
	setDefault(&cfg.RequestTimeout, 30*time.Second)
	setDefault(&cfg.MaxRetryTime, 5*time.Minute)
	setDefault(&cfg.BackoffBase, 500*time.Millisecond)
	setDefault(&cfg.BackoffMax, 30*time.Second)
	if cfg.RequestAttempts <= 0 {
		cfg.RequestAttempts = 6
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10_000
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "partoo-connector"
	}
	return &Client{conn: &conn{cfg: cfg, base: base, server: NewServerClock(cfg.Clock)}}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}
