package partoosim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
)

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, url, key string) httpResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("x-APIKey", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header, b}
}

func post(t *testing.T, url string, body any) httpResult {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header, out}
}

func TestContractErrors(t *testing.T) {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	base := simtest.Serve(t, sim)
	sim.CreateConversation(partoosim.ConversationSpec{})
	cases := []struct {
		name, path, key string
		status          int
		body            string
	}{
		{"no key", "/messages?conversation_id=1", "", 401, `{"error":{"authentication":"User not authenticated"}}`},
		{"wrong key", "/conversations", "nope", 401, `{"error":{"authentication":"User not authenticated"}}`},
		{"missing conversation_id", "/messages", "k", 400, ""},
		{"per_page 0", "/messages?conversation_id=1&per_page=0", "k", 400, ""},
		{"per_page 101", "/conversations?per_page=101", "k", 400, ""},
		{"garbage cursor", "/messages?conversation_id=1&cursor=zzz", "k", 400, ""},
		{"unknown conversation", "/conversations/77", "k", 404, `{"error":{"json":"Resource not found"}}`},
		{"messages of unknown conversation", "/messages?conversation_id=77", "k", 404, ""},
		{"ok", "/messages?conversation_id=1&per_page=100", "k", 200, `{"messages":[],"count":0,"next_cursor":null}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, base+tc.path, tc.key)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tc.status, r.body)
			}
			if tc.body != "" && string(bytes.TrimSpace(r.body)) != tc.body {
				t.Fatalf("body %s, want %s", r.body, tc.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: 5, Clock: clock})
	base := simtest.Serve(t, sim)
	for i := 0; i < 5; i++ {
		clock.Advance(time.Second)
		if r := get(t, base+"/conversations", "k"); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := get(t, base+"/conversations", "k")
	if r.status != 429 {
		t.Fatalf("6th request within a minute: %d, want 429", r.status)
	}
	// The first request was at +1 s, now is +5 s: a slot frees at +61 s, 56 s from now.
	if ra := r.header.Get("Retry-After"); ra != "56" {
		t.Fatalf("Retry-After = %q, want 56", ra)
	}
	clock.Advance(56 * time.Second)
	if r := get(t, base+"/conversations", "k"); r.status != 200 {
		t.Fatalf("after Retry-After: %d", r.status)
	}
	c := sim.Counters()
	if c.Throttled != 1 || c.MaxPerWindow != 5 || c.ByEndpoint["/v2/conversations"][429] != 1 {
		t.Fatalf("counters = %+v", c)
	}
}

func TestConversationOrders(t *testing.T) {
	clock := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1, Clock: clock})
	base := simtest.Serve(t, sim)
	for i := 0; i < 5; i++ {
		clock.Advance(time.Second)
		c := sim.CreateConversation(partoosim.ConversationSpec{BusinessID: int64(1 + i%2)})
		_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	}
	clock.Advance(time.Second)
	_, _ = sim.AddMessage(partoosim.MessageSpec{ConversationID: 2}) // 2 becomes the most recent

	walk := func(query string) []int64 {
		var ids []int64
		cursor := ""
		for {
			url := base + "/conversations?per_page=2" + query
			if cursor != "" {
				url += "&cursor=" + cursor
			}
			r := get(t, url, "k")
			var p partoo.ConversationPage
			if err := json.Unmarshal(r.body, &p); err != nil || r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, c := range p.Conversations {
				ids = append(ids, c.ID)
			}
			if p.NextCursor == nil {
				return ids
			}
			cursor = *p.NextCursor
		}
	}
	if got := fmt.Sprint(walk("")); got != "[2 5 4 3 1]" {
		t.Errorf("recent order = %s, want [2 5 4 3 1]", got)
	}
	if got := fmt.Sprint(walk("&business__in=1")); got != "[5 3 1]" {
		t.Errorf("business__in=1 = %s, want [5 3 1]", got)
	}
	sim.SetOrder(partoosim.OrderID)
	if got := fmt.Sprint(walk("")); got != "[1 2 3 4 5]" {
		t.Errorf("id order = %s, want [1 2 3 4 5]", got)
	}
}

func TestAdminEndpointsScriptAScenario(t *testing.T) {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	base := simtest.Serve(t, sim)
	root := base[:len(base)-len("/v2")]

	r := post(t, root+"/_sim/conversations", map[string]any{"messaging_partner": "Instagram"})
	var conv partoosim.Conversation
	if r.status != 201 || json.Unmarshal(r.body, &conv) != nil || conv.Partner != "Instagram" {
		t.Fatalf("create conversation: %d %s", r.status, r.body)
	}
	r = post(t, root+"/_sim/messages", map[string]any{"conversation_id": conv.ID, "sender_type": "User", "status": "Sending", "content": "hi"})
	var msg model.Message
	if r.status != 201 || json.Unmarshal(r.body, &msg) != nil || msg.Status != "Sending" {
		t.Fatalf("add message: %d %s", r.status, r.body)
	}
	id := strconv.FormatInt(msg.ID, 10)
	for _, st := range []string{"Failed", "Sending", "Success"} {
		if r := post(t, root+"/_sim/messages/"+id+"/status", map[string]string{"status": st}); r.status != 200 {
			t.Fatalf("status %s: %d %s", st, r.status, r.body)
		}
	}
	if r := post(t, root+"/_sim/messages/"+id+"/delete", nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := post(t, root+"/_sim/messages/999/delete", nil); r.status != 404 {
		t.Fatalf("delete unknown: %d", r.status)
	}
	// The API shows the deleted message.
	r = get(t, base+"/messages?conversation_id="+strconv.FormatInt(conv.ID, 10), "k")
	page, err := partoo.DecodeMessagePage(r.body)
	if err != nil || len(page.Messages) != 1 || !page.Messages[0].IsDeleted || page.Messages[0].Status != "Success" {
		t.Fatalf("messages after delete: %s", r.body)
	}
	if r := post(t, root+"/_sim/messages/"+id+"/vanish", nil); r.status != 200 {
		t.Fatalf("vanish: %d %s", r.status, r.body)
	}
	// Closing a conversation shows in its listing.
	cid := strconv.FormatInt(conv.ID, 10)
	if r := post(t, root+"/_sim/conversations/"+cid+"/close", nil); r.status != 204 {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	if r := post(t, root+"/_sim/conversations/999/close", nil); r.status != 404 {
		t.Fatalf("close unknown: %d", r.status)
	}
	cp, err := partoo.DecodeConversationPage(get(t, base+"/conversations", "k").body)
	if err != nil || len(cp.Conversations) != 1 || *cp.Conversations[0].Details.Status != "Closed" || !*cp.Conversations[0].Details.IsSolved {
		t.Fatalf("conversations after close: %+v %v", cp, err)
	}

	r = get(t, root+"/_sim/changes?since=0", "")
	var log struct{ Changes []partoosim.Change }
	if err := json.Unmarshal(r.body, &log); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range log.Changes {
		k := string(c.Type)
		if c.Type == partoosim.ChangeStatusChanged {
			k += ":" + string(c.PreviousStatus) + ">" + string(c.Status)
		}
		kinds = append(kinds, k)
	}
	want := "[created status_changed:Sending>Failed status_changed:Failed>Sending status_changed:Sending>Success deleted vanished]"
	if fmt.Sprint(kinds) != want {
		t.Fatalf("change log = %v\nwant %s", kinds, want)
	}
	if r := get(t, root+"/_sim/counters", ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"/v2/messages":{"200":1}`)) {
		t.Fatalf("counters: %s", r.body)
	}
	if r := post(t, root+"/_sim/reset", nil); r.status != 204 || len(sim.ConversationIDs()) != 0 || len(sim.Changes(0)) != 0 {
		t.Fatalf("reset: %d", r.status)
	}
}

func TestGeneratorIsLifelikeAndSeeded(t *testing.T) {
	run := func(seed uint64) []partoosim.Change {
		clock := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		sim := partoosim.New(partoosim.Config{Clock: clock, Seed: seed})
		gen := partoosim.NewGenerator(sim, partoosim.Activity{MessagesPerSecond: 5, DeleteRatio: 0.3, UnknownRatio: 0.05}, seed)
		gen.Populate(20, 5, 24*time.Hour)
		for i := 0; i < 3600; i++ { // one simulated hour in 1 s ticks
			clock.Advance(time.Second)
			gen.Tick()
		}
		return sim.Changes(0)
	}
	changes := run(7)
	seen := map[string]int{}
	for _, c := range changes {
		seen[string(c.Type)]++
		if c.Type == partoosim.ChangeStatusChanged {
			seen[string(c.PreviousStatus)+">"+string(c.Status)]++
		}
		if !c.SenderType.Known() {
			seen["unknown sender"]++
		}
		if !c.ContentType.Known() {
			seen["unknown content"]++
		}
		if c.Type == partoosim.ChangeDeleted && c.Partner != model.PartnerInstagram {
			t.Fatalf("deleted a %s message; only Instagram messages can be deleted", c.Partner)
		}
	}
	t.Logf("one simulated hour: %v", seen)
	for _, k := range []string{"created", "status_changed", "deleted", "Sending>Success", "Sending>Failed", "Failed>Sending", "unknown sender", "unknown content"} {
		if seen[k] == 0 {
			t.Errorf("no %q in an hour of activity", k)
		}
	}
	// ~5 messages/s for an hour.
	if n := seen["created"]; n < 15000 || n > 21000 {
		t.Errorf("%d messages created, want ≈18000", n)
	}
	again := run(7)
	if len(again) != len(changes) || again[len(again)-1] != changes[len(changes)-1] {
		t.Fatal("the same seed must give the same activity")
	}
}
