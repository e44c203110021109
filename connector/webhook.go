package connector

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/partoo-connector/partoo-connector/connector/partoo"
)

// WebhookPath is where Partoo's webhooks are received.
const WebhookPath = "/webhooks/partoo"

// WebhookConfig configures the webhook receiver.
type WebhookConfig struct {
	Header   string        // the custom header Partoo sends, e.g. X-Auth-Token
	Secret   partoo.Secret // its expected value; the receiver is off when empty
	MaxBytes int64         // body limit [1 MiB]
}

// webhookBody is the part of Partoo's webhook the receiver reads.
type webhookBody struct {
	Type    string `json:"type"`
	Payload struct {
		Message *struct {
			ConversationID partoo.ID `json:"conversation_id"`
		} `json:"message"`
		Conversation *struct {
			ID partoo.ID `json:"id"`
		} `json:"conversation"`
	} `json:"payload"`
}

// WebhookHandler receives Partoo's message_created and message_updated webhooks. It only
// schedules an immediate walk of the conversation: the API stays the source of truth, so a
// forged or repeated webhook can never create a false or duplicate event. It answers 401
// without the right header value (compared in constant time), 413 past MaxBytes, 400 for
// malformed JSON or no conversation id, and 200 otherwise — fast, before any walk.
func (c *Connector) WebhookHandler(cfg WebhookConfig) http.Handler {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 20
	}
	secret := []byte(cfg.Secret.Reveal())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get(cfg.Header))
		if len(secret) == 0 || subtle.ConstantTimeCompare(got, secret) != 1 {
			c.opt.Metrics.Webhook("unauthorized")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var body webhookBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, cfg.MaxBytes))
		if err := dec.Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.opt.Metrics.Webhook("too_large")
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			c.opt.Metrics.Webhook("malformed")
			http.Error(w, "malformed JSON", http.StatusBadRequest)
			return
		}
		if body.Type != "message_created" && body.Type != "message_updated" {
			c.opt.Metrics.Webhook("ignored")
			w.WriteHeader(http.StatusOK) // not ours to retry
			return
		}
		var id int64
		switch {
		case body.Payload.Conversation != nil && body.Payload.Conversation.ID > 0:
			id = int64(body.Payload.Conversation.ID)
		case body.Payload.Message != nil && body.Payload.Message.ConversationID > 0:
			id = int64(body.Payload.Message.ConversationID)
		default:
			c.opt.Metrics.Webhook("malformed")
			http.Error(w, "no conversation id", http.StatusBadRequest)
			return
		}
		if !c.Hint(id) {
			c.opt.Metrics.Webhook("ignored")
			w.WriteHeader(http.StatusOK)
			return
		}
		c.opt.Metrics.Webhook("accepted")
		w.WriteHeader(http.StatusOK)
	})
}
