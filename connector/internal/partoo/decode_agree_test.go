package partoo

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// agreeCases are bodies where decoding with encoding/json had quirks the scanner must match:
// keys matched case-insensitively (with Unicode folding) or escaped, duplicate keys (the last
// wins, except that a null last_message, user_id or custom_channel keeps the earlier value),
// an item array of the wrong type under the other page's key, odd whitespace, invalid JSON.
var agreeCases = []string{
	`{"messages": [{"ID": 1, "Date": "2023-01-31 16:22:17.327878+00:00", "CONTENT": "a"}], "COUNT": 1, "Next_Cursor": "c"}`,
	`{"messages": [{"id": 1, "id": 2, "date": 5, "date": "2023-01-31T16:22:17Z", "user_id": "u", "user_id": null, "custom_channel": {"a": 1}, "custom_channel": null}]}`,
	`{"messages": [{"\u0069d": 3, "d\u0061te": 1675182137, "\u212a": 1, "\u017ftatus": "Success", "content": "\ud800x", "content_type": "T\u00e9xt"}]}`,
	`{"messages": [{"id": 4, "date": 1675182137, "content": "\ufffd ok"}], "conversations": "oops"}`,
	`{"messages": "no", "messages": [], "count": null}`,
	`{"messages": [], "messages": null}`,
	`{"Messages": null}`,
	` {  "messages" :[ {"id" :5 , "date": 1675182137 , "status" : [1, {"a": "}"}] } ,7, null, "x", {"id": "6", "date": "bad"}], "count" : "2" , "next_cursor": 12 } `,
	`{"messages": [{"id": 7, "date": 1675182137, "is_deleted": "TRUE", "sender_label": {"a": [1, 2]}, "conversation_id": "x"}]}`,
	`{"messages": [{"id": 8, "date": 1675182137}], "next_cursor": {"a": 1}}`,
	`{"messages": [{"id": 9, "date": 1675182137,}]}`,
	`{"messages": [{"id": 10, "date": 1675182137}]`,
	"{\"messages\": [{\"id\": 11, \"date\": 1675182137, \"content\": \"caf\xe9\", \"k\xe9y\": 1}]}",
	`{"conversations": [{"id": 1, "last_message": {"id": 2, "date": 1675182137}, "last_message": null, "business": {"ID": "b", "name": null, "Name": "N", "city": 3}, "status": "Closed", "STATUS": {"v": [1]}}]}`,
	`{"conversations": [{"id": 1, "business": "b7", "status": "Open", "is_solved": 1, "is_expired": "false", "created_at": "2023-01-31 16:22:17+00", "first_message_date": "never", "consumer_name": 12}, {"id": 2, "business": null, "last_message": {"id": "x"}}, {"id": 3, "last_message": 4}]}`,
	`{"conversations": [{"id": 1, "business": {"id": {"x": 1}}, "status": "op\u0065n", "assigned_user_id": [1]}], "messages": 3}`,
	`{"id": 5, "messaging_partner": "Whatsapp", "business": {"id": 12}}`,
	`{"id": 5`, `[]`, `"x"`, `{}`, `{"conversations": [[[[{"id": 1}]]]]}`,
}

// TestDecodersAgree decodes every page of testdata (the realistic pages, the fuzz corpora)
// and agreeCases with the scanner and with the encoding/json decoder it replaced, and
// requires the same pages, skips, repairs and errors.
func TestDecodersAgree(t *testing.T) {
	inputs := map[string][]byte{}
	for i, c := range agreeCases {
		inputs[fmt.Sprintf("case %d", i)] = []byte(c)
	}
	pages, _ := filepath.Glob("testdata/pages/*.json")
	corpus, _ := filepath.Glob("testdata/fuzz/*/*")
	if len(pages) == 0 || len(corpus) == 0 {
		t.Fatal("no testdata pages or fuzz corpus")
	}
	for _, name := range append(pages, corpus...) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "testdata/fuzz/") {
			b = corpusBytes(t, name, b)
		}
		inputs[name] = b
	}
	for name, b := range inputs {
		if msg := decodersDisagree(b); msg != "" {
			t.Errorf("%s: %s\nbody: %.300q", name, msg, b)
		}
	}
}

// FuzzDecodersAgree: on any input, the scanner and the encoding/json decoder agree.
func FuzzDecodersAgree(f *testing.F) {
	for _, c := range agreeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if msg := decodersDisagree(b); msg != "" {
			t.Fatal(msg)
		}
	})
}

// corpusBytes reads the []byte of a "go test fuzz v1" corpus file.
func corpusBytes(t *testing.T, name string, file []byte) []byte {
	t.Helper()
	_, lit, ok := bytes.Cut(file, []byte("[]byte("))
	if !ok {
		t.Fatalf("%s: not a []byte corpus entry", name)
	}
	s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(lit)), ")")))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

// decodersDisagree decodes b as a message page (walking no conversation, and conversation
// 42), a conversation page and one conversation with both decoders; it says how they differ,
// or returns "".
func decodersDisagree(b []byte) string {
	for _, conv := range []int64{0, 42} {
		var got, want MessagePage
		gerr, werr := decodeMessagePage(b, conv, &got), refDecodeMessagePage(b, conv, &want)
		if d := differ(got, gerr, want, werr); d != "" {
			return fmt.Sprintf("message page (conversation %d): %s", conv, d)
		}
	}
	var got, want ConversationPage
	gerr, werr := decodeConversationPage(b, &got), refDecodeConversationPage(b, &want)
	if d := differ(got, gerr, want, werr); d != "" {
		return "conversation page: " + d
	}
	gc, gskip := decodeConversationBody(b)
	var wc, wskip = refDecodeConversation(b)
	if d := differ(gc, skipErr(gskip), wc, skipErr(wskip)); d != "" {
		return "one conversation: " + d
	}
	if gskip != nil && wskip != nil && fmt.Sprint(*gskip) != fmt.Sprint(*wskip) {
		return fmt.Sprintf("one conversation: skip %+v, want %+v", *gskip, *wskip)
	}
	return ""
}

func skipErr(s *SkippedItem) error {
	if s == nil {
		return nil
	}
	return s
}

// differ compares two decoded values (their skips by text) and errors.
func differ(got any, gerr error, want any, werr error) string {
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		return fmt.Sprintf("error %v, want %v", gerr, werr)
	}
	if !reflect.DeepEqual(got, want) && fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		return fmt.Sprintf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if !reflect.DeepEqual(stripErrs(got), stripErrs(want)) {
		return fmt.Sprintf("decoded\n%+v\nwant\n%+v", got, want)
	}
	return ""
}

// stripErrs replaces the errors of a page's skips by their text, for DeepEqual.
func stripErrs(v any) any {
	strip := func(s []SkippedItem) []SkippedItem {
		out := append([]SkippedItem(nil), s...)
		for i := range out {
			if out[i].Err != nil {
				out[i].Err = fmt.Errorf("%s", out[i].Err.Error())
			}
		}
		return out
	}
	switch p := v.(type) {
	case MessagePage:
		p.Skipped = strip(p.Skipped)
		return p
	case ConversationPage:
		p.Skipped = strip(p.Skipped)
		return p
	}
	return v
}
