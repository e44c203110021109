package tables_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

// TestConversationRowStatusIsNeverJSONText lists the simulator's conversations (one closed)
// through the client, in the classic shape and in the extra-fields profile (status sent as an
// object), and encodes and decodes their rows: status is Open or Closed, or Unknown with the
// raw value in status_raw; never JSON text.
func TestConversationRowStatusIsNeverJSONText(t *testing.T) {
	for _, profile := range []string{"classic", "extra-fields", "realistic"} {
		t.Run(profile, func(t *testing.T) {
			v, _, err := partoosim.ParseProfile(profile)
			if err != nil {
				t.Fatal(err)
			}
			sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1, Variant: v})
			for range 4 {
				sim.CreateConversation(partoosim.ConversationSpec{})
			}
			url := simtest.Serve(t, sim)
			ids := sim.ConversationIDs()
			if err := sim.CloseConversation(ids[0]); err != nil {
				t.Fatal(err)
			}
			cl, err := partoo.New(partoo.Config{APIURL: url, APIKey: secret.New("k"), RequestsPerMinute: 600_000})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			page, err := cl.ListConversations(ctx, partoo.ListConversationsParams{PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			codec, err := tables.NewCodec()
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Conversations) != len(ids) {
				t.Fatalf("listed %d conversations, want %d", len(page.Conversations), len(ids))
			}
			for _, c := range page.Conversations {
				b, err := codec.ConversationRow(c, 0, false, model.Time{Time: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				_, row, err := codec.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				status, raw := unionString(row["status"]), unionString(row["status_raw"])
				want := "Open"
				if c.ID == ids[0] {
					want = "Closed"
				}
				switch {
				case v.ExtraFields:
					// Partoo sent an object: not the documented type.
					if status != "Unknown" || !strings.HasPrefix(raw, `{"value":`) {
						t.Errorf("conversation %d: status %q, status_raw %q; want Unknown and the object's JSON text", c.ID, status, raw)
					}
				case status != want || raw != "":
					t.Errorf("conversation %d: status %q, status_raw %q; want %q and none", c.ID, status, raw, want)
				}
				if strings.ContainsAny(status, "{[\"") {
					t.Errorf("conversation %d: status %q is JSON text", c.ID, status)
				}
			}
		})
	}
}

// unionString reads a decoded ["null","string"] field; "" for null.
func unionString(v any) string {
	switch x := v.(type) {
	case map[string]any:
		s, _ := x["string"].(string)
		return s
	case string:
		return x
	}
	return ""
}
