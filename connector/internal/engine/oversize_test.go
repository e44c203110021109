package engine_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// TestRecordRefusedByKafka: the events topic's max.message.bytes is lowered while the
// connector runs, so Kafka refuses (MESSAGE_TOO_LARGE) the next large event. The other
// conversation's change in flight is published at once; the refused conversation learns the
// new limit and its message is published cut to fit and flagged — nothing lost, nothing
// wedged.
func TestRecordRefusedByKafka(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := e.sim.CreateConversation(partoosim.ConversationSpec{})
	small := e.sim.CreateConversation(partoosim.ConversationSpec{})
	for _, c := range []int64{big.ID, small.ID} {
		if _, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: c, SenderType: "Consumer", Content: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.start(e.options())
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") == 2 })

	const limit = 4096
	ctx := kafkatest.Context(t, 30_000_000_000)
	resp, err := e.cluster.Admin(t).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("4096")}}, e.topics.Events)
	if err == nil {
		_, err = resp.On(e.topics.Events, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	// 30,000 bytes of random CJK: zstd cannot squeeze it under the limit.
	rnd := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 30_000 {
		b.WriteRune(rune(0x4E00 + rnd.IntN(0x5000)))
	}
	content := b.String()
	m, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: big.ID, SenderType: "Consumer", Content: content})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: small.ID, SenderType: "Consumer", Content: "still here"})
	if err != nil {
		t.Fatal(err)
	}
	evs := e.waitEvents(t, "both new messages", func(evs []event) bool {
		found := 0
		for _, ev := range evs {
			if ev.Type == "MessageCreated" && (ev.msgID() == m.ID || ev.msgID() == s.ID) {
				found++
			}
		}
		return found == 2
	})
	for _, ev := range evs {
		if ev.Type != "MessageCreated" || ev.msgID() != m.ID {
			continue
		}
		msg := ev.Body["message"].(map[string]any)
		got := msg["content"].(string)
		if msg["content_truncated_from"] != int64(len(content)) || len(got) >= limit || !strings.HasPrefix(content, got) {
			t.Fatalf("the large message: %d bytes of content, content_truncated_from %v", len(got), msg["content_truncated_from"])
		}
		t.Logf("published with %d of %d bytes of content after Kafka refused it whole", len(got), len(content))
	}
	checkExactlyOnce(t, e, e.readEvents(t), e.sim.Changes(0))
	r.stop(t)
}
