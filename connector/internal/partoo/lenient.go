package partoo

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

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// The lenient readers of JSON scalars that decoding builds on (see the rule in decode.go).

// BusinessID is a business id read leniently: from an object with an "id" (string or
// number) or from the id itself; "" when there is none. Never an error.
type BusinessID string

// UnmarshalJSON implements json.Unmarshaler.
func (x *BusinessID) UnmarshalJSON(b []byte) error {
	*x = BusinessID(parseBusinessID(b))
	return nil
}

var errMissing = errors.New("missing")

func isNull(r json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(r), []byte("null")) }

func looksLikeJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// parseID reads a positive integer id from a JSON number or a numeric string.
func parseID(r json.RawMessage) (int64, error) {
	n, err := parseInt(r)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("%d is not a positive id", n)
	}
	return n, nil
}

// parseInt reads an integer from a JSON number (integral floats included) or a numeric string.
func parseInt(r json.RawMessage) (int64, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return 0, errMissing
	}
	s := string(r)
	if r[0] == '"' {
		s = strings.TrimSpace(parseString(r))
	} else if r[0] != '-' && (r[0] < '0' || r[0] > '9') {
		return 0, fmt.Errorf("%s is not a number", truncate(r, 40))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s is not an integer", truncate(r, 40))
	}
	return int64(f), nil
}

// parseString reads any JSON value as a string: null → "", a string → itself, anything else
// → its compact JSON text.
func parseString(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return ""
	}
	if r[0] == '"' {
		if len(r) >= 2 && r[len(r)-1] == '"' && bytes.IndexByte(r, '\\') < 0 && utf8.Valid(r) {
			return string(r[1 : len(r)-1]) // no escapes: the common case
		}
		var s string
		if json.Unmarshal(r, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, r) == nil {
		return buf.String()
	}
	return string(r)
}

// parseText is parseString, reporting whether a replacement character in the result stands
// for bytes Partoo sent that were not text (never for a U+FFFD Partoo itself sent).
func parseText(r json.RawMessage) (string, bool) {
	s := parseString(r)
	if !strings.ContainsRune(s, utf8.RuneError) {
		return s, false
	}
	if !utf8.Valid(r) {
		return s, true
	}
	sent := strings.Count(string(r), "\uFFFD") + strings.Count(string(r), "\ufffd") + strings.Count(string(r), string(utf8.RuneError))
	return s, strings.Count(s, string(utf8.RuneError)) > sent
}

// parseBool reads true/false, "true"/"false" (any case), numbers (non-zero is true); anything
// else, null included, is false.
func parseBool(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	switch {
	case len(r) == 0:
		return false
	case r[0] == 't':
		return string(r) == "true"
	case r[0] == '"':
		b, err := strconv.ParseBool(strings.TrimSpace(parseString(r)))
		return err == nil && b
	case r[0] == '-' || (r[0] >= '0' && r[0] <= '9'):
		f, err := strconv.ParseFloat(string(r), 64)
		return err == nil && f != 0
	}
	return false
}

// parseBusinessID reads a conversation's business: an object with an id (string or number),
// or the id itself. It returns "" when there is none. r is valid JSON.
func parseBusinessID(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return ""
	}
	var b [bfFields][]byte
	if r[0] == '{' {
		businessFields.read(r, b[:])
	}
	return businessID(r, b[bfID])
}

// parseCursor reads next_cursor: absent, null and "" mean the last page; a number is kept as
// its text.
func parseCursor(r json.RawMessage) (*string, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return nil, nil
	}
	if r[0] == '{' || r[0] == '[' || r[0] == 't' || r[0] == 'f' {
		return nil, fmt.Errorf("next_cursor %s is neither a string nor null", truncate(r, 40))
	}
	s := parseString(r)
	if s == "" {
		return nil, nil
	}
	return &s, nil
}

func parseTimeJSON(r json.RawMessage) (time.Time, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || isNull(r) {
		return time.Time{}, errMissing
	}
	if r[0] == '"' {
		return model.ParseTime(parseString(r))
	}
	return model.ParseEpoch(string(r))
}

// ID is an id read from a JSON number or a numeric string; anything else reads as 0 (no id),
// never as an error. For bodies where one id is all the reader needs (webhooks).
type ID int64

// UnmarshalJSON implements json.Unmarshaler.
func (i *ID) UnmarshalJSON(b []byte) error {
	n, err := parseID(b)
	if err != nil {
		n = 0
	}
	*i = ID(n)
	return nil
}
