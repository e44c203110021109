package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

// WebhookPath is where Partoo's webhooks are received.
const WebhookPath = "/webhooks/partoo"

// WebhookConfig configures the webhook receiver.
type WebhookConfig struct {
	AuthHeader   string        // the custom header Partoo sends, e.g. X-Auth-Token (WEBHOOK_AUTH_HEADER)
	Secret       secret.Secret // its expected value; the receiver is off when empty (WEBHOOK_SECRET)
	MaxBodyBytes int64         // body limit [1 MiB] (WEBHOOK_MAX_BODY_BYTES)
	// MaxConcurrent caps the webhooks handled at once; more get 503 (Partoo retries 5xx) [32].
	MaxConcurrent int
}

// webhookBody is the part of Partoo's webhook the receiver reads.
type webhookBody struct {
	Type    string `json:"type"`
	Payload struct {
		Message *struct {
			ConversationID partoo.ID `json:"conversation_id"`
		} `json:"message"`
		Conversation *struct {
			ID       partoo.ID         `json:"id"`
			Business partoo.BusinessID `json:"business"`
		} `json:"conversation"`
	} `json:"payload"`
}

// WebhookHandler receives Partoo's message_created and message_updated webhooks. It only
// schedules an immediate walk of the conversation: the API stays the source of truth, so a
// forged or repeated webhook can never create a false or duplicate event. It answers 401
// without the right header value (compared in constant time), 413 past MaxBodyBytes, 400 for
// malformed JSON or no conversation id, 503 beyond MaxConcurrent, and 200 otherwise — fast,
// before any walk. A webhook for a conversation outside PARTOO_BUSINESS_IDS is ignored
// ("filtered"); hints are bounded by the scheduler (duplicate, dropped, gone), which also
// checks with Partoo the business of a conversation it does not know before walking it
// ("checking", then "outside" for one of another business).
func WebhookHandler(svc Service, cfg WebhookConfig, m *metrics.Metrics) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 32
	}
	slots := make(chan struct{}, cfg.MaxConcurrent)
	secret := []byte(cfg.Secret.Reveal())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			m.Webhook("busy")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		got := []byte(r.Header.Get(cfg.AuthHeader))
		if len(secret) == 0 || subtle.ConstantTimeCompare(got, secret) != 1 {
			m.Webhook("unauthorized")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var body webhookBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes))
		if err := dec.Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				m.Webhook("too_large")
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			m.Webhook("malformed")
			http.Error(w, "malformed JSON", http.StatusBadRequest)
			return
		}
		if body.Type != "message_created" && body.Type != "message_updated" {
			m.Webhook("ignored")
			w.WriteHeader(http.StatusOK) // not ours to retry
			return
		}
		var id int64
		var business string
		switch {
		case body.Payload.Conversation != nil && body.Payload.Conversation.ID > 0:
			id, business = int64(body.Payload.Conversation.ID), string(body.Payload.Conversation.Business)
		case body.Payload.Message != nil && body.Payload.Message.ConversationID > 0:
			id = int64(body.Payload.Message.ConversationID)
		default:
			m.Webhook("malformed")
			http.Error(w, "no conversation id", http.StatusBadRequest)
			return
		}
		// Only conversations the configuration covers (PARTOO_BUSINESS_IDS).
		if !svc.Covers(id, business) {
			m.Webhook("filtered")
			w.WriteHeader(http.StatusOK) // not ours to retry
			return
		}
		m.Webhook(string(svc.Hint(id)))
		w.WriteHeader(http.StatusOK)
	})
}
