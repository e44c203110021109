package engine_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim/simtest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// TestCopiedDeploymentCannotReadAnothersState is issue 22's incident: the deployment of
// organisation A is copied unchanged for organisation B but for B's API key and simulator,
// whose conversation ids overlap A's — so B runs on A's topics, state topic and transactional
// id. B must refuse to start (exit 1, one line naming the state topic, partition and offset),
// publishing nothing: no false MessageDeleted(Vanished) for A's messages. A then restarts and
// carries on exactly once.
func TestCopiedDeploymentCannotReadAnothersState(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.cluster)
	b.sim = partoosim.New(partoosim.Config{APIKey: "key-of-b", RequestsPerMinute: -1})
	b.url = simtest.Serve(t, b.sim)
	for i, e := range []*env{a, b} {
		partoosim.NewGenerator(e.sim, partoosim.Activity{DeleteRatio: 0.3}, uint64(7+i)).Populate(10, 6, time.Hour)
	}
	overlap := 0
	for _, id := range a.sim.ConversationIDs() {
		if _, ok := b.sim.Conversation(id); ok {
			overlap++
		}
	}
	if overlap == 0 {
		t.Fatal("the two simulators share no conversation id: B would have nothing to declare vanished")
	}

	startA := a.processStarter(t)
	pa := startProc(t, startA)
	waitExactlyOnce(t, a, nil, 90*time.Second, pa.alive)
	pa.stop(t)
	events := a.readEvents(t)
	states := a.readState(t)

	// The copy: A's environment, B's key and API (here: B's simulator).
	pb := startProc(t, a.processStarter(t, "PARTOO_API_URL="+b.url, "PARTOO_API_KEY=key-of-b"))
	pb.waitExit(t, 90*time.Second)
	var exit *exec.ExitError
	if !errors.As(pb.err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("B exited with %v, want exit status 1", pb.err)
	}
	var lines []string
	for _, l := range strings.Split(pb.logs.String(), "\n") {
		if strings.Contains(l, "holds the state of another API key") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one line saying the state is another key's; log:\n%s", tail(pb.logs.String(), 8))
	}
	for _, want := range []string{"state topic " + a.topics.State, "partition ", "offset ", "KAFKA_STATE_TOPIC", "STATE_OWNER_CHECK=adopt"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the line does not say %q: %s", want, lines[0])
		}
	}
	if strings.Contains(pb.logs.String(), "key-of-b") {
		t.Error("the log holds B's key")
	}
	after := a.readEvents(t)
	if len(after) != len(events) || count(after, "MessageDeleted") != count(events, "MessageDeleted") {
		t.Fatalf("B published: %d events before, %d after (MessageDeleted %d → %d)", len(events), len(after),
			count(events, "MessageDeleted"), count(after, "MessageDeleted"))
	}
	if got := a.readState(t); len(got) != len(states) {
		t.Fatalf("B wrote state records: %d before, %d after", len(states), len(got))
	}

	// A restarts (it fences whatever B left) and goes on exactly once.
	pa = startProc(t, startA)
	changeSome(t, a.sim)
	waitExactlyOnce(t, a, nil, 90*time.Second, pa.alive)
	pa.stop(t)
	if n := len(a.readEvents(t)); n < len(events)+2 {
		t.Fatalf("A restarted published %d events, want at least the 2 changes", n-len(events))
	}
}

// TestStateOfAnEarlierReleaseIsKept: state records without the owner header (every release
// before it) are this connector's: restored as before — a restart re-emits nothing — and
// rewritten once under its owner, after which another key's connector is refused.
func TestStateOfAnEarlierReleaseIsKept(t *testing.T) {
	e := newEnv(t)
	populate(e, 8)
	r := e.start(e.options())
	waitExactlyOnce(t, e, nil, 60*time.Second, r.alive)
	r.stop(t)
	e.stripOwners(t)
	before := e.readEvents(t)

	r = e.start(e.options())
	r.waitWalks(t, 24)
	r.stop(t)
	if after := e.readEvents(t); len(after) != len(before) {
		t.Fatalf("the header-less state was not taken as this connector's: %d events, then %d", len(before), len(after))
	}
	latest := map[string]*kgo.Record{}
	for _, rec := range e.readState(t) {
		latest[string(rec.Key)] = rec
	}
	for k, rec := range latest {
		if o, ok := state.RecordOwner(rec); rec.Value != nil && (!ok || o != state.NewOwner("k", 0)) {
			t.Fatalf("conversation %s: the latest state record names %v (%v): not rewritten under this key", k, o, ok)
		}
	}
	var foreign *state.ForeignStateError
	other := partoosim.New(partoosim.Config{APIKey: "key-of-b", RequestsPerMinute: -1})
	populate(&env{sim: other}, 8) // the same conversation ids
	if err := e.runOnce(t, e.withKey("key-of-b", simtest.Serve(t, other))); !errors.As(err, &foreign) {
		t.Fatalf("another key's connector on this state, after the rewrite: %v", err)
	}
}

// TestKeyRotation: after this organisation's API key is rotated, the connector with the new
// key refuses the state written under the old one by default; one start with
// StateOwnerCheck=adopt takes it over (no event re-emitted) and rewrites it, after which the
// default check passes and the connector goes on exactly once.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	populate(e, 8)
	r := e.start(e.options())
	waitExactlyOnce(t, e, nil, 60*time.Second, r.alive)
	r.stop(t)
	before := e.readEvents(t)

	// Partoo now accepts the new key for the same organisation.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("x-APIKey") == "rotated" {
			req.Header.Set("x-APIKey", "k")
		}
		e.sim.Handler().ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	rotated := e.withKey("rotated", srv.URL+"/v2")
	var foreign *state.ForeignStateError
	if err := e.runOnce(t, rotated); !errors.As(err, &foreign) {
		t.Fatalf("the new key without STATE_OWNER_CHECK=adopt: %v", err)
	}
	adopt := rotated
	adopt.StateOwnerCheck = engine.StateOwnerAdopt
	r = e.start(adopt)
	r.waitWalks(t, 24)
	r.stop(t)
	if after := e.readEvents(t); len(after) != len(before) {
		t.Fatalf("the adopted state was not taken over as it was: %d events, then %d", len(before), len(after))
	}
	r = e.start(rotated)
	changeSome(t, e.sim)
	waitExactlyOnce(t, e, nil, 60*time.Second, r.alive)
	r.stop(t)
	if n := len(e.readEvents(t)); n < len(before)+2 {
		t.Fatalf("after the rotation: %d new events, want at least the 2 changes", n-len(before))
	}
	if err := e.runOnce(t, e.options()); !errors.As(err, &foreign) {
		t.Fatalf("the old key after the rotation: %v", err)
	}
}

// withKey is the env's options with another API key and API URL.
func (e *env) withKey(key, url string) engine.Options {
	opt := e.options()
	opt.Partoo.APIKey, opt.Partoo.APIURL = secret.New(key), url
	return opt
}

// runOnce runs a connector that must stop by itself within a minute, and returns its error.
func (e *env) runOnce(t *testing.T, opt engine.Options) error {
	t.Helper()
	c, err := engine.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the connector did not stop by itself within a minute")
	}
	return err
}

// readState reads the state topic's committed records.
func (e *env) readState(t *testing.T) []*kgo.Record {
	t.Helper()
	recs, err := e.cluster.ReadCommitted(contextWithTimeout(t, time.Minute), t, e.topics.State)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// stripOwners makes the state topic look written by a release before the owner header: the
// latest record of each conversation again, in its partition, without headers.
func (e *env) stripOwners(t *testing.T) {
	t.Helper()
	latest := map[string]*kgo.Record{}
	for _, rec := range e.readState(t) {
		latest[string(rec.Key)] = rec
	}
	cl := e.cluster.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for _, r := range latest {
		recs = append(recs, &kgo.Record{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value})
	}
	if err := cl.ProduceSync(contextWithTimeout(t, time.Minute), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// changeSome adds a message to the first conversation and deletes the first message of the
// second: two events to publish.
func changeSome(t *testing.T, sim *partoosim.Sim) {
	t.Helper()
	ids := sim.ConversationIDs()
	if _, err := sim.AddMessage(partoosim.MessageSpec{ConversationID: ids[0], SenderType: model.SenderConsumer,
		ContentType: model.ContentText, Status: model.StatusSuccess, Content: "after", Date: sim.Clock().Now()}); err != nil {
		t.Fatal(err)
	}
	if err := sim.DeleteMessage(sim.Messages(ids[1])[0].ID); err != nil {
		t.Fatal(err)
	}
}
