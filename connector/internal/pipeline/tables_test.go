package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/clock"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/pipeline"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

// tablesWorld is a world whose step adds the table topics' records, with the conversations
// store listening to the client (as the engine wires it).
func tablesWorld(t *testing.T, sim *partoosim.Sim, url string) (*world, *tables.Conversations, *tables.Codec) {
	t.Helper()
	convs := tables.NewConversations(77, true, nil)
	cl, err := partoo.New(partoo.Config{APIURL: url, APIKey: secret.New("k"), RequestsPerMinute: 600_000,
		Conversations: convs})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := tables.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{sim: sim, idx: state.NewIndex(), com: &memCommitter{}, sched: &recScheduler{outcomes: map[int64][]schedule.Outcome{}}, hooks: &recHooks{}}
	w.step, err = pipeline.New(pipeline.Config{Partoo: cl, Index: func() *state.Index { return w.idx }, Committer: w.com,
		Scheduler: w.sched, Hooks: []pipeline.Hook{w.hooks}, Clock: clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		Context: convs.Context, Organization: 77,
		Tables: &pipeline.Tables{Codec: codec, MessagesTopic: "m", ConversationsTopic: "c", Conversations: convs, Organization: 77}})
	if err != nil {
		t.Fatal(err)
	}
	return w, convs, codec
}

// A conversation no listing has described (known from a webhook, say) is fetched before its
// first events, which carry its business and channel; the conversation's row follows in the
// same transaction. A message deleted later gets a tombstone, the others rows.
func TestContextIsFetchedBeforeTheFirstEvent(t *testing.T) {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	w, convs, codec := tablesWorld(t, sim, simtest.Serve(t, sim))
	c := sim.CreateConversation(partoosim.ConversationSpec{Partner: "Instagram", BusinessID: 4})
	a, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, Content: "a"})
	b, _ := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID, Content: "b"})
	if _, ok := convs.Context(c.ID); ok {
		t.Fatal("no listing yet: the context must be unknown")
	}
	if err := w.step.Walk(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if len(w.com.calls) != 1 {
		t.Fatalf("%d transactions, want 1", len(w.com.calls))
	}
	got := map[string][]publish.Record{}
	for _, ch := range w.com.calls[0] {
		for _, r := range ch.Records {
			got[r.Topic] = append(got[r.Topic], r)
		}
	}
	if len(got["m"]) != 2 || len(got["c"]) != 1 {
		t.Fatalf("records %v, want 2 message rows and 1 conversation row", got)
	}
	for _, r := range got["m"] {
		_, row, err := codec.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if row["business_id"] != "4" || row["messaging_partner"] != "Instagram" || row["organization_id"].(map[string]any)["long"] != int64(77) {
			t.Fatalf("row %v lacks its context", row)
		}
	}
	for _, r := range w.hooks.reports[0].Events {
		if r.Context.BusinessID != "4" || r.Context.Partner != "Instagram" || !r.Context.Known {
			t.Fatalf("event %s carries context %+v", r.Type, r.Context)
		}
	}

	// A deletion: a tombstone for b, nothing for a.
	if err := sim.DeleteMessage(b.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.step.Walk(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	last := w.com.calls[len(w.com.calls)-1]
	var recs []publish.Record
	for _, ch := range last {
		recs = append(recs, ch.Records...)
	}
	if len(recs) != 1 || string(recs[0].Key) != itoa(b.ID) || recs[0].Value != nil || recs[0].Topic != "m" {
		t.Fatalf("after the deletion: records %+v, want one tombstone for message %d (not %d)", recs, b.ID, a.ID)
	}
}

// When the conversation cannot be described (GET /conversations/{id} fails), nothing is
// published: the walk fails and is done again later.
func TestNoEventWithoutContext(t *testing.T) {
	sim := partoosim.New(partoosim.Config{APIKey: "k", RequestsPerMinute: -1})
	c := sim.CreateConversation(partoosim.ConversationSpec{})
	if _, err := sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID}); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(simtest.Serve(t, sim))
	if err != nil {
		t.Fatal(err)
	}
	host := *target
	host.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(&host)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/conversations/") {
			http.Error(rw, `{"error": {"authorization": "Operation not allowed"}}`, http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w, _, _ := tablesWorld(t, sim, srv.URL+target.Path)
	if err := w.step.Walk(context.Background(), c.ID); err != nil {
		t.Fatal(err)
	}
	if len(w.com.calls) != 0 {
		t.Fatalf("published %v without the conversation's context", w.com.calls)
	}
	r := w.hooks.reports[0]
	if r.OK || r.Result != pipeline.ResultFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "GET /conversations/") {
		t.Fatalf("report %+v, want a failed walk naming the request", r)
	}
	if o := w.sched.outcomes[c.ID]; len(o) != 1 || !o[0].Failed {
		t.Fatalf("scheduler told %+v, want one failed walk", o)
	}
}

func itoa(n int64) string { return string(tables.Key(n)) }
