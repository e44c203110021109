package secret

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestScrubberBlanksEveryForm: a password echoed plain, base64-encoded, or inside the Basic
// credentials of an Authorization header, and an API key, never survive a Scrub.
func TestScrubberBlanksEveryForm(t *testing.T) {
	var sc Scrubber
	sc.AddBasic("user", New("s3cr3t-pw"))
	sc.Add(New("partoo-key-123"), New(""), New("ab"))
	basic := base64.StdEncoding.EncodeToString([]byte("user:s3cr3t-pw"))
	in := "HTTP 401: Authorization: Basic " + basic + " (password s3cr3t-pw, b64 " + base64.StdEncoding.EncodeToString([]byte("s3cr3t-pw")) +
		", unpadded " + strings.TrimRight(basic, "=") + ") key partoo-key-123 ab"
	out := sc.Scrub(in)
	for _, leak := range []string{"s3cr3t-pw", basic, strings.TrimRight(basic, "="), base64.StdEncoding.EncodeToString([]byte("s3cr3t-pw")), "partoo-key-123"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q survived: %s", leak, out)
		}
	}
	if !strings.HasSuffix(out, " ab") || !strings.Contains(out, "HTTP 401: Authorization: Basic "+Redacted) {
		t.Errorf("scrubbed too much or too little: %s", out)
	}
	// A server that lower-cases what it echoes (found by the attack).
	if out := sc.Scrub("authorization: basic " + strings.ToLower(basic) + " " + strings.ToUpper("partoo-key-123")); strings.Contains(out, strings.ToLower(basic)) ||
		strings.Contains(out, "PARTOO-KEY-123") || !strings.HasPrefix(out, "authorization: basic "+Redacted) {
		t.Errorf("a lower-cased echo leaks: %s", out)
	}
	var none *Scrubber
	if none.Scrub("x") != "x" {
		t.Error("a nil Scrubber must scrub nothing")
	}
}
