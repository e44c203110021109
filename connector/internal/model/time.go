package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Time is a Partoo date. It decodes every form ParseTime reads, and encodes in Partoo's form
// with microseconds. A JSON null leaves it zero.
type Time struct{ time.Time }

// PartooTimeLayout is the layout Time encodes with: Partoo's own, with microseconds.
const PartooTimeLayout = "2006-01-02 15:04:05.000000-07:00"

// UnmarshalJSON implements json.Unmarshaler with the formats ParseTime reads, plus epoch
// numbers (ParseEpoch); null leaves it zero.
func (t *Time) UnmarshalJSON(b []byte) error {
	r := bytes.TrimSpace(b)
	var p time.Time
	var err error
	switch {
	case bytes.Equal(r, []byte("null")):
		t.Time = time.Time{}
		return nil
	case len(r) == 0:
		return errors.New("missing")
	case r[0] == '"':
		p, err = ParseTime(unquote(r))
	default:
		p, err = ParseEpoch(string(r))
	}
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(PartooTimeLayout))
}

// dateLayouts are tried in order. Fractions are optional in every one (".999999999").
var dateLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00", // Partoo's form
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999-07",
}

// zoneless layouts are read as UTC.
var zonelessLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// ParseTime parses a date in Partoo's form ("2023-01-31 16:22:17.327878+00:00"), RFC 3339,
// either without a zone (UTC) or with a "+0000" or "+00" offset, to the microsecond.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Truncate(time.Microsecond), nil
		}
	}
	for _, l := range zonelessLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date we read (Partoo's \"2006-01-02 15:04:05.999999+00:00\", RFC 3339, or epoch)", truncate(s, 60))
}

// ParseEpoch reads an epoch number, telling its unit by its size: seconds (below 1e11, i.e.
// before year 5138), milliseconds (below 1e14), microseconds (below 1e17), else nanoseconds.
// Integers are read exactly; fractions of a second are kept to the microsecond. The result
// is in UTC.
func ParseEpoch(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n <= 0:
		case n >= 1e17:
			return time.UnixMicro(n / 1e3).UTC(), nil
		case n >= 1e14:
			return time.UnixMicro(n).UTC(), nil
		case n >= 1e11:
			return time.UnixMicro(n * 1e3).UTC(), nil
		default:
			return time.Unix(n, 0).UTC(), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f >= 1e19 {
		return time.Time{}, fmt.Errorf("%s is neither a date string nor an epoch number", truncate(s, 40))
	}
	var t time.Time
	switch {
	case f >= 1e17: // nanoseconds
		t = time.UnixMicro(int64(f / 1e3))
	case f >= 1e14: // microseconds
		t = time.UnixMicro(int64(f))
	case f >= 1e11: // milliseconds
		t = time.UnixMicro(int64(f * 1e3))
	default: // seconds
		t = time.UnixMicro(int64(math.Round(f * 1e6)))
	}
	return t.UTC(), nil
}

// unquote reads a JSON string (r starts with a quote).
func unquote(r []byte) string {
	if len(r) >= 2 && r[len(r)-1] == '"' && bytes.IndexByte(r, '\\') < 0 && utf8.Valid(r) {
		return string(r[1 : len(r)-1]) // no escapes: the common case
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

// truncate cuts s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
