package connector

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics, /healthz, /readyz and /status, and POST /webhooks/partoo when wh
// has a secret.
//
//   - /healthz: 200 while the process is alive and serving.
//   - /readyz: 200 once the state is restored, while Kafka transactions commit and Kafka
//     answers within 2 s; 503 otherwise.
//   - /status: JSON, "ok" or "degraded" with the reasons, and the connector's progress; always
//     200 (an orchestrator should not restart a connector because Partoo is down).
//   - /metrics: Prometheus exposition of opt.Metrics (404 if none).
func (c *Connector) Handler(wh WebhookConfig) *http.ServeMux {
	mux := http.NewServeMux()
	if !wh.Secret.IsZero() {
		mux.Handle("POST "+WebhookPath, c.WebhookHandler(wh))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !c.ready.Load():
			http.Error(w, "not ready: restoring the state", http.StatusServiceUnavailable)
			return
		case !c.kafkaOK.Load():
			http.Error(w, "not ready: Kafka transactions are failing (see /status and the log)", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := c.pub.Ping(ctx); err != nil {
			http.Error(w, "not ready: Kafka unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c.Status())
	})
	if c.opt.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(c.opt.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return mux
}
