package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/httpapi"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// hinter is an organisation's engine as a webhook sees it: it records the hints it gets.
type hinter struct{ hints []int64 }

func (h *hinter) Covers(int64, string) bool { return true }
func (h *hinter) Hint(id int64) schedule.HintResult {
	h.hints = append(h.hints, id)
	return schedule.HintAccepted
}

// service is the whole process; a webhook of one organisation among several must never
// reach it (it would hint every engine).
type service struct{ hinter }

func (*service) Readiness() error           { return nil }
func (*service) Ping(context.Context) error { return nil }
func (*service) Status() status.Report      { return status.Report{} }

// With several organisations, one receiver: a request carrying an organisation's secret
// hints that organisation's engine only; an unknown secret, or none, gets 401; an
// organisation without a secret gets no webhooks.
func TestWebhookOfOneOrganizationHintsItsEngineOnly(t *testing.T) {
	svc, acme, globex, initech := &service{}, &hinter{}, &hinter{}, &hinter{}
	srv := httptest.NewServer(httpapi.Handler(svc, httpapi.Config{Webhook: httpapi.WebhookConfig{AuthHeader: "X-Auth-Token",
		Organizations: []httpapi.WebhookOrganization{{Name: "acme", Secret: secret.New("sa"), Target: acme},
			{Name: "globex", Secret: secret.New("sg"), Target: globex}, {Name: "initech", Target: initech}}}}))
	defer srv.Close()
	post := func(token string, conv string) int {
		req, _ := http.NewRequest("POST", srv.URL+httpapi.WebhookPath,
			strings.NewReader(`{"type":"message_created","payload":{"message":{"conversation_id":`+conv+`}}}`))
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		token, conv string
		want        int
	}{{"sa", "11", 200}, {"sg", "22", 200}, {"sg", "23", 200}, {"", "33", 401}, {"other", "44", 401}} {
		if got := post(c.token, c.conv); got != c.want {
			t.Errorf("token %q: %d, want %d", c.token, got, c.want)
		}
	}
	if len(acme.hints) != 1 || acme.hints[0] != 11 || len(globex.hints) != 2 || len(initech.hints) != 0 || len(svc.hints) != 0 {
		t.Fatalf("hints: acme %v, globex %v, initech %v, every engine %v", acme.hints, globex.hints, initech.hints, svc.hints)
	}
}
