package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
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
	// Organizations, when set, are the receivers of several organisations (Secret is then
	// unused): a request carrying one's secret hints that organisation's engine only.
	Organizations []WebhookOrganization
}

// WebhookOrganization is one organisation's receiver among several.
type WebhookOrganization struct {
	Name   string
	Secret secret.Secret // its own; the organisation gets no webhooks when empty
	Target Hinter        // the organisation's engine
}

// Hinter is what a webhook asks of the organisation it is for (see Service).
type Hinter interface {
	Covers(conversationID int64, business string) bool
	Hint(conversationID int64) schedule.HintResult
}

// receiver is a secret and the target of the requests that carry it.
type receiver struct {
	secret []byte
	target Hinter
}

// receivers are the secrets the handler accepts: WEBHOOK_SECRET for the whole service, or
// each organisation's own.
func (cfg WebhookConfig) receivers(svc Service) []receiver {
	if len(cfg.Organizations) == 0 {
		return []receiver{{[]byte(cfg.Secret.Reveal()), svc}}
	}
	var out []receiver
	for _, o := range cfg.Organizations {
		if !o.Secret.IsZero() {
			out = append(out, receiver{[]byte(o.Secret.Reveal()), o.Target})
		}
	}
	return out
}

// enabled says whether any request can be accepted.
func (cfg WebhookConfig) enabled() bool {
	for _, o := range cfg.Organizations {
		if !o.Secret.IsZero() {
			return true
		}
	}
	return !cfg.Secret.IsZero()
}

// match is the receiver whose secret got is, comparing with every one in constant time.
func match(receivers []receiver, got []byte) Hinter {
	var found Hinter
	for _, r := range receivers {
		if len(r.secret) > 0 && subtle.ConstantTimeCompare(got, r.secret) == 1 {
			found = r.target
		}
	}
	return found
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

// WebhookHandler receives Partoo's message_created and message_updated webhooks (of the one
// organisation, or of the organisation whose secret the request carries). It only
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
	receivers := cfg.receivers(svc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			m.Webhook("busy")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		target := match(receivers, []byte(r.Header.Get(cfg.AuthHeader)))
		if target == nil {
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
		if !target.Covers(id, business) {
			m.Webhook("filtered")
			w.WriteHeader(http.StatusOK) // not ours to retry
			return
		}
		m.Webhook(string(target.Hint(id)))
		w.WriteHeader(http.StatusOK)
	})
}
