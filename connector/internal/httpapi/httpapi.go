// Package httpapi is the connector's HTTP surface: /healthz, /readyz, /status, /metrics and
// the receiver of Partoo's webhooks (POST /webhooks/partoo). It knows the service only
// through the Service interface.
package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// Service is what the endpoints ask of the connector.
type Service interface {
	// Readiness says why the service is not ready, nil when it is.
	Readiness() error
	// Ping checks that Kafka answers.
	Ping(ctx context.Context) error
	// Status is the body of /status (encoded as JSON).
	Status() status.Report
	// Covers reports whether the configuration covers a conversation a webhook named, with
	// its business id ("" when the webhook carried none).
	Covers(conversationID int64, business string) bool
	// Hint asks for a walk of the conversation as soon as possible.
	Hint(conversationID int64) schedule.HintResult
}

// Config configures the Handler.
type Config struct {
	Webhook WebhookConfig
	Metrics *metrics.Metrics // /metrics and webhook counts; nil: no /metrics
}

// Handler serves:
//
//   - GET /healthz: 200 while the process is alive and serving.
//   - GET /readyz: 200 while the service is ready (its state restored, its Kafka transactions
//     committing) and Kafka answers within 2 s; 503 saying why otherwise.
//   - GET /status: JSON, "ok" or "degraded" with the reasons, and the progress; always 200 (an
//     orchestrator should not restart a connector because Partoo is down).
//   - GET /metrics: the Prometheus exposition of cfg.Metrics.
//   - POST /webhooks/partoo: Partoo's webhooks, when cfg.Webhook has a secret (or an
//     organisation has one).
func Handler(svc Service, cfg Config) *http.ServeMux {
	mux := http.NewServeMux()
	if cfg.Webhook.enabled() {
		mux.Handle("POST "+WebhookPath, WebhookHandler(svc, cfg.Webhook, cfg.Metrics))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Readiness(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := svc.Ping(ctx); err != nil {
			http.Error(w, "not ready: Kafka unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(svc.Status())
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return mux
}
