package partoo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// A Retry-After is read as Partoo documents it (seconds), as an HTTP date, or as the epoch
// timestamp some servers send; whatever it says, no pause exceeds MaxRetryAfter.
func TestRetryAfterIsReadAndCapped(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"60", time.Minute},
		{"2.5", 2500 * time.Millisecond},
		{fmt.Sprint(now.Unix() + 30), 30 * time.Second},          // epoch seconds
		{fmt.Sprint(now.UnixMilli() + 45_000), 45 * time.Second}, // epoch milliseconds
		{fmt.Sprint(now.Unix() + 600), partoo.MaxRetryAfter},     // 10 minutes: capped
		{"1800", partoo.MaxRetryAfter},                           // half an hour of seconds: capped
		{fmt.Sprint(now.Unix() + 7200), 0},                       // two hours: not believed, our backoff
		{"1795967426000", 0},                                     // ms epoch a week ahead: not believed
		{"86400", 0},                                             // a day of seconds: not believed
		{"999999999", 0},                                         // garbage
		{"Wed, 21 Oct 2099 07:28:00 GMT", 0},                     // an HTTP date decades ahead
		{fmt.Sprint(now.Unix() - 100), 0},                        // a time already past
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", tc.header)
			w.Header().Set("Date", now.Format(http.TimeFormat)) // the server's clock is the test's
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		clk := clock.NewManual(now)
		cl := newClient(t, srv.URL, func(cfg *partoo.Config) { cfg.Clock, cfg.RequestAttempts = clk, 1 })
		_, err := cl.ListMessages(context.Background(), 1, 0, "")
		srv.Close()
		var ae *partoo.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
			t.Fatalf("%q: err %v", tc.header, err)
		}
		got := ae.RetryAfter
		if tc.want == 0 {
			if got <= 0 || got > time.Second { // no usable value: a short backoff
				t.Errorf("Retry-After %q: pause %v, want a short backoff", tc.header, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("Retry-After %q: pause %v, want %v", tc.header, got, tc.want)
		}
		if until := cl.Budget().PausedUntil(); until.Sub(now) > partoo.MaxRetryAfter {
			t.Errorf("Retry-After %q paused the budget until %v", tc.header, until)
		}
	}
}

// Epoch dates are read in every unit, told apart by size; a date outside 2000 .. now + 1 day
// (a wrong unit, a placeholder) is skipped as bad_date, never published.
func TestDatesAreReadInEveryUnitAndJudged(t *testing.T) {
	want := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	dates := []string{
		`"2024-05-01 10:00:00.123456+00:00"`,
		fmt.Sprint(want.UnixNano()),           // nanoseconds
		fmt.Sprint(want.UnixMicro()),          // microseconds
		fmt.Sprintf("%d.123456", want.Unix()), // seconds with a fraction
	}
	bad := []string{
		`"0001-01-01 00:00:00+00:00"`, `"1999-12-31 23:59:59+00:00"`, "5", // 1970
		fmt.Sprint(now.Add(48 * time.Hour).Unix()), `"2126-01-01T00:00:00Z"`, "1e300", "-7",
	}
	body := `{"messages": [`
	for i, d := range append(append([]string{}, dates...), bad...) {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"id": %d, "conversation_id": 9, "date": %s, "sender_type": "User", "status": "Success"}`, i+1, d)
	}
	body += `], "count": 11, "next_cursor": null}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Date", now.Format(http.TimeFormat)) // the server's clock is the test's
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	cl := newClient(t, srv.URL, func(cfg *partoo.Config) { cfg.Clock = clock.NewManual(now) })
	p, err := cl.ListMessages(context.Background(), 9, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != len(dates) {
		t.Fatalf("kept %d messages, want %d: %+v", len(p.Messages), len(dates), p.Messages)
	}
	for i, m := range p.Messages {
		got := m.Date.Time
		if i == 0 || i == 2 {
			if !got.Equal(want) {
				t.Errorf("date %s read as %v, want %v", dates[i], got, want)
			}
		} else if d := got.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("date %s read as %v, want %v", dates[i], got, want)
		}
	}
	if len(p.Skipped) != len(bad) {
		t.Fatalf("skipped %d, want %d: %+v", len(p.Skipped), len(bad), p.Skipped)
	}
	for _, s := range p.Skipped {
		if s.Reason != partoo.SkipBadDate || s.ID == 0 {
			t.Errorf("skipped %+v, want bad_date with its id", s)
		}
	}
}
