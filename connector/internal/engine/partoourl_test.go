package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
)

// A PARTOO_API_URL that is not Partoo's API (here: without /v2) stops Run at once, naming the
// variable, before any topic is created; an unreachable host is retried for the start-up
// timeout, then stops it the same way.
func TestWrongPartooURLStopsTheStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, url string
		within    time.Duration
		want      string
	}{
		{"without /v2", strings.TrimSuffix(e.url, "/v2"), 10 * time.Second, "is not Partoo's API"},
		{"unreachable host", "http://127.0.0.1:1/v2", 30 * time.Second, "Partoo cannot be reached (gave up after 2 attempts, start-up timeout 3s)"},
	}
	for _, tc := range cases {
		opt := e.options()
		opt.Partoo.APIURL = tc.url
		opt.PartooStartupTimeout = 3 * time.Second
		c, err := engine.New(opt)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), tc.within)
		start := time.Now()
		err = c.Run(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || !strings.Contains(err.Error(), "PARTOO_API_URL") || !strings.Contains(err.Error(), tc.want) || timedOut {
			t.Fatalf("%s: Run = %v after %v, want an error naming PARTOO_API_URL (%q) within %v", tc.name, err, time.Since(start).Round(time.Millisecond), tc.want, tc.within)
		}
		t.Logf("%s: stopped after %v: %v", tc.name, time.Since(start).Round(time.Millisecond), err)
	}
	topics, err := e.cluster.Admin(t).ListTopics(context.Background(), e.topics.Events, e.topics.State)
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range topics {
		if td.Err == nil {
			t.Fatalf("topic %s was created although the start failed", td.Topic)
		}
	}
}
