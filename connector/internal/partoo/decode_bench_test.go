package partoo_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

func messagePageBody(b *testing.B, n int) []byte {
	b.Helper()
	page := partoo.MessagePage{Count: n}
	uid := "user-7"
	base := time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC)
	for i := 0; i < n; i++ {
		m := model.Message{
			ID: int64(1000 + i), ConversationID: 42, Date: model.Time{Time: base.Add(time.Duration(i) * time.Second)},
			ContentType: model.ContentText, SenderType: model.SenderConsumer, SenderLabel: "Ann Example",
			Status: model.StatusSuccess, Content: "Hello, is the shop open on Sunday morning?",
		}
		if i%3 == 0 {
			m.SenderType, m.UserID = model.SenderUser, &uid
		}
		page.Messages = append(page.Messages, m)
	}
	next := "bTo0MjoxMDk5"
	page.NextCursor = &next
	body, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkDecodeMessagePage measures decoding of GET /messages pages (messages/s, allocs).
func BenchmarkDecodeMessagePage(b *testing.B) {
	for _, n := range []int{1, 30, 100} {
		body := messagePageBody(b, n)
		b.Run(fmt.Sprintf("per_page=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := partoo.DecodeMessagePage(body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDecodePages decodes each page of testdata/pages (realistic listings of 100
// conversations and message pages of about 20 and 100 messages, from the simulator), as the
// client decodes an API answer.
func BenchmarkDecodePages(b *testing.B) {
	for _, pg := range loadPages(b) {
		b.Run(strings.TrimSuffix(pg.name, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pg.body)))
			for b.Loop() {
				if err := pg.decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type testPage struct {
	name string
	body []byte
}

// decode decodes the page with the endpoint its name says.
func (p testPage) decode() error {
	var err error
	if strings.Contains(p.name, "conversations") {
		_, err = partoo.DecodeConversationPage(p.body)
	} else {
		_, err = partoo.DecodeMessagePage(p.body)
	}
	return err
}

func loadPages(tb testing.TB) []testPage {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(pagesDir, "*.json"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no pages in %s: %v", pagesDir, err)
	}
	var pages []testPage
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		pages = append(pages, testPage{name: filepath.Base(n), body: b})
	}
	return pages
}
