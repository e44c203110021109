package partoo_test

import (
	"encoding/json"
	"fmt"
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
