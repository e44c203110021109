// Package simtest serves a partoosim simulator to tests. Only tests import it, so the
// simulator itself (a product, in the demo and partoo-sim) stays free of test code.
package simtest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// Serve starts sim on a loopback port for the test's duration and returns its /v2 base URL.
func Serve(t testing.TB, sim *partoosim.Sim) string {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/v2"
}

// Transport serves requests with h in process (no sockets), on the caller's goroutine: with a
// clock.Event, a request then runs entirely inside its participant.
func Transport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
