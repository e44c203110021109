package partoo

import (
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// A reader of JSON text that encoding/json has already validated (json.Valid): it walks an
// object's members or an array's elements and hands out each value's raw text, a subslice of
// the input, without decoding what the connector does not use. Decoding a page this way reads
// the body twice (validation, then one walk) where decoding into structs read it once per
// level of nesting; keys are matched to field names exactly as encoding/json matches them
// (case-insensitively, with its folding), so the decoded values are those encoding/json gave.

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at b[i] (a quote).
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// members iterates over the members of a valid JSON object.
type members struct {
	b []byte
	i int
}

// newMembers starts at obj, a valid JSON object (leading whitespace allowed).
func newMembers(obj []byte) members { return members{b: obj, i: skipSpace(obj, 0) + 1} }

// next returns the next member's key (its JSON text, quotes included) and value (its JSON
// text); ok is false after the last member.
func (m *members) next() (key, val []byte, ok bool) {
	b, i := m.b, skipSpace(m.b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	end := stringEnd(b, i)
	key = b[i:end]
	i = skipSpace(b, skipSpace(b, end)+1) // past the colon
	end = valueEnd(b, i)
	m.i = end
	return key, b[i:end], true
}

// elements iterates over the elements of a valid JSON array.
type elements struct {
	b []byte
	i int
}

func newElements(arr []byte) elements { return elements{b: arr, i: skipSpace(arr, 0) + 1} }

// next returns the next element's JSON text; ok is false after the last one.
func (e *elements) next() (val []byte, ok bool) {
	b, i := e.b, skipSpace(e.b, e.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		return nil, false
	}
	end := valueEnd(b, i)
	e.i = end
	return b[i:end], true
}

// fieldSet names the fields one JSON object is read for, in the folded form encoding/json
// compares keys in (ASCII upper case for our names), and which of them ignore a null (a field
// whose decoder kept its earlier value on null).
type fieldSet struct {
	folded   []string
	keepNull uint64 // bit i: a null for field i is ignored
}

// read stores into out[i] the value of the last member whose key matches field i, as
// encoding/json's last-wins decoding of a struct would see it. obj is a valid JSON object.
func (fs fieldSet) read(obj []byte, out [][]byte) {
	for m := newMembers(obj); ; {
		key, val, ok := m.next()
		if !ok {
			return
		}
		if i := fs.index(key); i >= 0 && (fs.keepNull&(1<<i) == 0 || !isNullValue(val)) {
			out[i] = val
		}
	}
}

// index returns the field a key (JSON text, quotes included) fills, or -1.
func (fs fieldSet) index(key []byte) int {
	var buf [64]byte
	f := foldKey(buf[:0], key)
	for i, name := range fs.folded {
		if string(f) == name {
			return i
		}
	}
	return -1
}

// isNullValue reports whether a value (no surrounding whitespace) is null.
func isNullValue(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// foldKey appends to dst the key (JSON text, quotes included) unquoted and folded as
// encoding/json folds keys to match them to field names (its foldName).
func foldKey(dst, key []byte) []byte {
	k := key[1 : len(key)-1]
	for _, c := range k {
		if c == '\\' {
			var s string
			if json.Unmarshal(key, &s) != nil {
				return dst
			}
			k = []byte(s)
			break
		}
	}
	for i := 0; i < len(k); {
		if c := k[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(k[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// foldRune returns the smallest rune of r's case-folding orbit, as encoding/json does.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
