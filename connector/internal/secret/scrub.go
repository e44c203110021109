package secret

import (
	"encoding/base64"
	"io"
	"strings"
)

// Scrubber blanks known secret values out of text that came from elsewhere — an error body a
// server echoed, a message of a library — in every form they travel in: plain, base64 (with
// and without padding) and inside HTTP Basic credentials. Every command that prints such text
// (run's logs, doctor's report, /status) passes it through the one Scrubber of its
// configuration. The zero Scrubber scrubs nothing.
type Scrubber struct {
	forms []string // longest first, so a value inside another's encoding never splits it
}

// minScrubbed is the shortest value scrubbed: shorter ones would blank ordinary text.
const minScrubbed = 3

// Add registers secrets s (empty and very short ones are ignored).
func (sc *Scrubber) Add(s ...Secret) {
	for _, v := range s {
		sc.addValue(v.Reveal())
	}
}

// AddBasic registers the HTTP Basic credentials of user and password, and the password.
func (sc *Scrubber) AddBasic(user string, password Secret) {
	if pw := password.Reveal(); pw != "" {
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
		sc.addForm(basic)
		sc.addForm(strings.TrimRight(basic, "="))
		sc.addValue(pw)
	}
}

func (sc *Scrubber) addValue(v string) {
	if len(v) < minScrubbed {
		return
	}
	enc := base64.StdEncoding.EncodeToString([]byte(v))
	sc.addForm(v)
	sc.addForm(enc)
	sc.addForm(strings.TrimRight(enc, "="))
	sc.addForm(base64.URLEncoding.EncodeToString([]byte(v)))
}

func (sc *Scrubber) addForm(f string) {
	if len(f) < minScrubbed {
		return
	}
	for _, have := range sc.forms {
		if have == f {
			return
		}
	}
	i := len(sc.forms)
	for i > 0 && len(sc.forms[i-1]) < len(f) {
		i--
	}
	sc.forms = append(sc.forms[:i], append([]string{f}, sc.forms[i:]...)...)
}

// Scrub returns s with every registered form replaced by Redacted. Letters match whatever
// their case: a server that lower-cases the headers it echoes must not leak a base64 form
// (each four characters of it have but 16 case variants).
func (sc *Scrubber) Scrub(s string) string {
	if sc == nil {
		return s
	}
	for _, f := range sc.forms {
		s = replaceFold(s, f)
	}
	return s
}

// replaceFold replaces every occurrence of f in s, ASCII letters compared without case.
func replaceFold(s, f string) string {
	low, lf := asciiLower(s), asciiLower(f)
	if !strings.Contains(low, lf) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(low, lf)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(Redacted)
		s, low = s[i+len(f):], low[i+len(f):]
	}
}

// asciiLower lower-cases the ASCII letters of s only, so that byte offsets stay the same.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Writer returns w with every write scrubbed first. A log handler writes one record per call,
// so no value is split across writes.
func (sc *Scrubber) Writer(w io.Writer) io.Writer {
	if sc == nil || len(sc.forms) == 0 {
		return w
	}
	return scrubWriter{w: w, sc: sc}
}

type scrubWriter struct {
	w  io.Writer
	sc *Scrubber
}

func (s scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, s.sc.Scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
