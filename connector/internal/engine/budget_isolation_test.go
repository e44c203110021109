package engine_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
)

// isolationWindow is how long each phase of TestOneOrganizations429sNeverSlowAnother counts
// requests: about 100 of the healthy organisation's at 10 requests/s.
const isolationWindow = 10 * time.Second

// TestOneOrganizations429sNeverSlowAnother: two organisations in one process, each with its
// own simulator and a budget that binds (600 requests/minute: the walks run at the budget's
// pace, not the machine's). Once both run steadily, one organisation's API answers most
// requests 429 with a Retry-After of a few seconds, which pauses and slows that
// organisation's budget. The other's requests over an equal window stay within what it
// achieved beside a healthy neighbour: a ratio of counts, not a timing. Had the two one
// budget, each 429 would pause both, and the healthy one would fall to a small fraction.
func TestOneOrganizations429sNeverSlowAnother(t *testing.T) {
	healthy, sick := newEnv(t), newEnv(t)
	sick.cluster = healthy.cluster
	for i, e := range []*env{healthy, sick} {
		partoosim.NewGenerator(e.sim, partoosim.Activity{}, uint64(31+i)).Populate(30, 4, time.Hour)
	}
	h, s := healthy.options(), sick.options()
	h.Organization, s.Organization = "healthy", "sick"
	h.Partoo.RequestsPerMinute, s.Partoo.RequestsPerMinute = 600, 600
	svc, err := service.New(service.Config{Engines: []engine.Options{h, s}, Metrics: metrics.New(metrics.Gauges{}), Logger: h.Logger})
	if err != nil {
		t.Fatal(err)
	}
	alive := runService(t, svc)
	for _, e := range []*env{healthy, sick} { // both snapshots published: steady state
		waitExactlyOnce(t, e, nil, 2*time.Minute, alive)
	}

	before := countRequests(t, []*env{healthy, sick}, alive)
	sick.sim.SetVariant(partoosim.Variant{RetryAfterEpochRatio: 0.8})
	during := countRequests(t, []*env{healthy, sick}, alive)
	sick.sim.SetVariant(partoosim.Variant{})
	t.Logf("answered 200 over %v: healthy %d beside a healthy neighbour, %d beside one answered 429 (%d × 429; its own 200s %d, then %d)",
		isolationWindow, before[0].ok, during[0].ok, during[1].throttled, before[1].ok, during[1].ok)

	if during[1].throttled < 5 {
		t.Fatalf("the sick organisation got only %d × 429: the test shows nothing", during[1].throttled)
	}
	if during[1].ok*2 > before[1].ok {
		t.Errorf("the sick organisation was not slowed by its 429s (%d requests answered 200, %d before): the test shows nothing", during[1].ok, before[1].ok)
	}
	if before[0].ok < 40 {
		t.Fatalf("the healthy organisation made only %d requests in %v beside a healthy neighbour: too few to compare", before[0].ok, isolationWindow)
	}
	if float64(during[0].ok) < 0.6*float64(before[0].ok) {
		t.Errorf("the healthy organisation was slowed by the other's 429s: %d requests answered over %v, %d before (below 60 %%)",
			during[0].ok, isolationWindow, before[0].ok)
	}
	if during[0].throttled > 0 {
		t.Errorf("the healthy organisation got %d × 429", during[0].throttled)
	}
}

// requestCount is what one simulator answered over a window.
type requestCount struct{ ok, throttled int64 }

// countRequests counts each env's simulator's answers (200 and 429) over isolationWindow.
func countRequests(t *testing.T, envs []*env, alive func() error) []requestCount {
	t.Helper()
	read := func() []requestCount {
		out := make([]requestCount, len(envs))
		for i, e := range envs {
			for _, byStatus := range e.sim.Counters().ByEndpoint {
				out[i].ok += byStatus[http.StatusOK]
				out[i].throttled += byStatus[http.StatusTooManyRequests]
			}
		}
		return out
	}
	start := read()
	for end := time.Now().Add(isolationWindow); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if err := alive(); err != nil {
			t.Fatal(err)
		}
	}
	out := read()
	for i := range out {
		out[i].ok -= start[i].ok
		out[i].throttled -= start[i].throttled
	}
	return out
}
