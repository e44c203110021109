package partoo_test

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

var writePages = flag.Bool("write-pages", false, "rewrite testdata/pages from the simulator")

// pagesDir holds realistic API pages (from the simulator): the benchmarks decode them, and
// TestNewDecoderMatchesReference decodes each with both decoders.
const pagesDir = "testdata/pages"

// TestWritePages rewrites testdata/pages when run with -write-pages: for each profile, a
// listing of 100 conversations and message pages of about 20 and 100 messages, each also in
// the form Python's json.dumps gives by default (every non-ASCII character \u-escaped).
func TestWritePages(t *testing.T) {
	if !*writePages {
		t.Skip("run with -write-pages to rewrite testdata/pages")
	}
	for _, profile := range []string{"classic", "realistic"} {
		v, order, err := partoosim.ParseProfile(profile)
		if err != nil {
			t.Fatal(err)
		}
		clk := clock.NewManual(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
		sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1, Variant: v, Order: order, Clock: clk, Seed: 7})
		gen := partoosim.NewGenerator(sim, partoosim.Activity{UnknownRatio: 0.02}, 7)
		gen.Populate(130, 60, 30*24*time.Hour)
		ids := sim.ConversationIDs()
		bodies := map[string]string{"conversations-100": "/v2/conversations?per_page=100"}
		var small, big int64
		for _, id := range ids {
			n := len(sim.Messages(id))
			if small == 0 && n >= 18 && n <= 25 {
				small = id
			}
			if big == 0 && n >= 100 {
				big = id
			}
		}
		bodies["messages-20"] = fmt.Sprintf("/v2/messages?conversation_id=%d&per_page=100", small)
		bodies["messages-100"] = fmt.Sprintf("/v2/messages?conversation_id=%d&per_page=100", big)
		for name, path := range bodies {
			body := simGet(t, sim, path)
			writePage(t, profile+"-"+name+".json", body)
			writePage(t, profile+"-"+name+"-ascii.json", asciiEscape(body))
		}
	}
}

func simGet(t *testing.T, sim *partoosim.Sim, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://sim"+path, nil)
	req.Header.Set("x-APIKey", "k")
	resp, err := sim.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
	}
	return b
}

func writePage(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(pagesDir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// asciiEscape \u-escapes every non-ASCII character of a JSON text (they only occur in
// strings), as Python's json.dumps does by default.
func asciiEscape(b []byte) []byte {
	var sb strings.Builder
	for _, r := range string(b) {
		if r < 0x80 {
			sb.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&sb, `\u%04x\u%04x`, r1, r2)
			continue
		}
		fmt.Fprintf(&sb, `\u%04x`, r)
	}
	return []byte(sb.String())
}
