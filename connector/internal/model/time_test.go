package model_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

func TestParseTimeToTheMicrosecond(t *testing.T) {
	want := time.Date(2023, 1, 31, 16, 22, 17, 327878000, time.UTC)
	for _, s := range []string{
		"2023-01-31 16:22:17.327878+00:00",
		"2023-01-31T16:22:17.327878Z",
		"2023-01-31T16:22:17.327878+00:00",
		"2023-01-31 18:22:17.327878+02:00",
	} {
		got, err := model.ParseTime(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !got.Equal(want) {
			t.Errorf("%q = %v, want %v", s, got, want)
		}
	}
	// Other forms a Partoo-like API plausibly sends, all the same instant.
	for _, s := range []string{
		"2023-01-31 16:22:17.327878Z",
		"2023-01-31T16:22:17.327878+0000",
		"2023-01-31 16:22:17.327878+00",
		"2023-01-31 16:22:17.327878",
		" 2023-01-31T16:22:17.327878 ",
	} {
		got, err := model.ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2023-01-31", "31/01/2023 16:22"} {
		if _, err := model.ParseTime(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
	// Round trip in Partoo's form keeps every microsecond.
	b, _ := json.Marshal(model.Time{Time: want})
	if string(b) != `"2023-01-31 16:22:17.327878+00:00"` {
		t.Fatalf("marshal = %s", b)
	}
}
