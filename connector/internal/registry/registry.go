// Package registry registers the event schemas with a Confluent-compatible schema registry
// (Confluent Schema Registry, Confluent Cloud, Apicurio's ccompat API, Redpanda, Karapace)
// through franz-go's pkg/sr, and names their subjects.
//
// Registration happens once, at start: Register returns the registry's id of every event
// schema, which the events codec then writes into each record (no registry call per record).
// Errors come in two kinds. A *RefusedError is the registry's considered answer (an
// incompatible or invalid schema, rejected credentials, a URL that is not a registry): trying
// again will not help, so the connector stops. Anything else (no answer, a timeout, a 5xx) is
// transient: the connector retries with backoff and is not ready meanwhile.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/partoo-connector/partoo-connector/connector/internal/diff"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// Subject name strategies: how a schema's subject is named.
const (
	// StrategyTopicRecord names the subject <topic>-<record full name> (Confluent's
	// TopicRecordNameStrategy): one topic carries three record types, each evolving on its own.
	StrategyTopicRecord = "topic-record"
	// StrategyRecord names the subject <record full name> (RecordNameStrategy): one subject per
	// record type, shared by every topic that carries it.
	StrategyRecord = "record"
)

// Config says where the registry is and how to reach it.
type Config struct {
	// URL is the registry's base URL, e.g. http://registry:8081 or, for Apicurio,
	// http://apicurio:8080/apis/ccompat/v7. Required.
	URL string
	// Username and Password are sent as HTTP basic auth when Username is set (Confluent
	// Cloud: the API key and secret).
	Username string
	Password secret.Secret
	// TLS configures https (e.g. a private CA) [the system's roots].
	TLS *tls.Config
	// SubjectStrategy is StrategyTopicRecord [default] or StrategyRecord.
	SubjectStrategy string
	// Timeout bounds each request [10 s].
	Timeout time.Duration
}

// Registry is a registry client that knows the subject strategy.
type Registry struct {
	cl       *sr.Client
	url      string
	strategy string
	scrubber secret.Scrubber // the password in every form a registry may echo it: plain, and in Basic auth
}

// New checks cfg and builds the client. It touches no network.
func New(cfg Config) (*Registry, error) {
	if cfg.URL == "" {
		return nil, errors.New("registry: a URL is required")
	}
	switch cfg.SubjectStrategy {
	case "":
		cfg.SubjectStrategy = StrategyTopicRecord
	case StrategyTopicRecord, StrategyRecord:
	default:
		return nil, fmt.Errorf("registry: subject strategy %q is not %s or %s", cfg.SubjectStrategy, StrategyTopicRecord, StrategyRecord)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
	}
	opts := []sr.ClientOpt{
		sr.URLs(cfg.URL),
		sr.HTTPClient(&http.Client{Transport: tr, Timeout: cfg.Timeout}),
		sr.UserAgent("partoo-connector"),
	}
	if cfg.Username != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password.Reveal()))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{cl: cl, url: strings.TrimRight(cfg.URL, "/"), strategy: cfg.SubjectStrategy}
	r.scrubber.AddBasic(cfg.Username, cfg.Password)
	return r, nil
}

// URL is the registry's base URL (it never holds credentials: they go in Config).
func (r *Registry) URL() string { return r.url }

// Client is the underlying pkg/sr client.
func (r *Registry) Client() *sr.Client { return r.cl }

// Subject names the subject of a record type written to topic.
func (r *Registry) Subject(topic, recordFullName string) string {
	if r.strategy == StrategyRecord {
		return recordFullName
	}
	return topic + "-" + recordFullName
}

// Registered is one schema's registration.
type Registered struct {
	Type    diff.EventType
	Subject string
	ID      uint32
}

// Register registers each schema under its subject for topic and returns the ids, in the
// order given. Registering a schema the subject already has returns its existing id without a
// new version, so a restart registers nothing new. The error is a *RefusedError when the
// registry refused a schema, another error when it could not be asked.
func (r *Registry) Register(ctx context.Context, topic string, schemas []events.Schema) ([]Registered, error) {
	out := make([]Registered, 0, len(schemas))
	for _, s := range schemas {
		subject := r.Subject(topic, s.FullName)
		id, err := r.cl.RegisterSchema(ctx, subject, sr.Schema{Schema: s.Text, Type: sr.TypeAvro}, -1, -1)
		if err != nil {
			return nil, r.classify(subject, err)
		}
		if id <= 0 || int64(id) > int64(^uint32(0)>>1) {
			return nil, &RefusedError{Subject: subject, Message: fmt.Sprintf("the registry answered schema id %d, which does not fit the wire format", id)}
		}
		out = append(out, Registered{Type: s.Type, Subject: subject, ID: uint32(id)})
	}
	return out, nil
}

// RefusedError is the registry's refusal of a schema: retrying will not change it.
type RefusedError struct {
	Subject string
	Status  int    // HTTP status (409: incompatible, 422: invalid, 401/403: credentials, 404: not a registry URL)
	Code    int    // the registry's error_code, when it gave one
	Message string // the registry's message, on one line
}

func (e *RefusedError) Error() string {
	what := "refused the schema"
	switch {
	case e.Status == http.StatusConflict:
		what = "refused the schema as incompatible"
	case e.Status == http.StatusUnprocessableEntity:
		what = "refused the schema as invalid"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		what = "rejected the credentials (SCHEMA_REGISTRY_USERNAME/PASSWORD)"
	case e.Status == http.StatusNotFound:
		what = "has no such API (is the URL a Confluent-compatible registry, e.g. Apicurio's /apis/ccompat/v7?)"
	}
	if e.Status == 0 {
		return fmt.Sprintf("schema registry %s for subject %q: %s", what, e.Subject, e.Message)
	}
	return fmt.Sprintf("schema registry %s for subject %q (HTTP %d, error code %d): %s", what, e.Subject, e.Status, e.Code, e.Message)
}

// Incompatible reports whether the registry refused the schema as incompatible with the
// subject's earlier versions.
func (e *RefusedError) Incompatible() bool { return e.Status == http.StatusConflict }

// maxMessage bounds the registry's message in errors and logs.
const maxMessage = 300

func (r *Registry) classify(subject string, err error) error {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		// pkg/sr wraps net/http's *url.Error, which repeats the URL: keep the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("schema registry %s does not answer (subject %q): %w", r.url, subject, err)
	}
	switch {
	case re.StatusCode >= 500, re.StatusCode == http.StatusRequestTimeout, re.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("schema registry %s answered HTTP %d for subject %q: %s", r.url, re.StatusCode, subject, oneLine(r.scrub(re.Error())))
	}
	return &RefusedError{Subject: subject, Status: re.StatusCode, Code: re.ErrorCode, Message: oneLine(r.scrub(re.Error()))}
}

// scrub blanks the password out of a registry's message, plain or base64 (a registry that
// echoes the Authorization header would otherwise put it in our logs).
func (r *Registry) scrub(s string) string { return r.scrubber.Scrub(s) }

// oneLine folds a message onto one bounded line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return s
}
