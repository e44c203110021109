package engine_test

import (
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatest"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry/registrytest"
)

// With a schema registry every event value is byte 0, a registered schema id and the Avro
// body: decoded here with the schema the registry serves for that id (not with ours), the
// subjects follow TopicRecordNameStrategy, and a restart registers nothing new.
func TestSchemaRegistryWireFormat(t *testing.T) {
	regURL := registrytest.URL(t)
	e := newEnv(t)
	populate(e, 6)
	want := e.publishable()
	opt := e.options()
	opt.SchemaRegistry = registry.Config{URL: regURL}
	r := e.start(opt)
	e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	report := r.c.Status()
	if report.SchemaRegistry == nil || len(report.SchemaRegistry.Subjects) != 5 { // three event types, two tables
		t.Fatalf("status reports the registry as %+v", report.SchemaRegistry)
	}
	r.stop(t)

	srcl, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	codecs := map[uint32]*goavro.Codec{}
	cl := e.cluster.Client(t, kgo.ConsumeTopics(e.topics.Events), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx := kafkatest.Context(t, time.Minute)
	seen := 0
	for seen < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("fetch after %d records: %v", seen, err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			seen++
			h := map[string]string{}
			for _, x := range rec.Headers {
				h[x.Key] = string(x.Value)
			}
			if len(rec.Value) < 6 || rec.Value[0] != 0 {
				t.Fatalf("offset %d: value does not start with the magic byte 0: % x", rec.Offset, rec.Value[:min(6, len(rec.Value))])
			}
			id := binary.BigEndian.Uint32(rec.Value[1:5])
			if h["schema_id"] != strconv.FormatUint(uint64(id), 10) {
				t.Fatalf("offset %d: schema_id header %q, wire id %d", rec.Offset, h["schema_id"], id)
			}
			subject := e.topics.Events + "-partoo.messages.v1." + h["event_type"]
			if report.SchemaRegistry.Subjects[subject] != id {
				t.Fatalf("offset %d: id %d, but %s is %d", rec.Offset, id, subject, report.SchemaRegistry.Subjects[subject])
			}
			codec := codecs[id]
			if codec == nil {
				s, err := srcl.SchemaByID(ctx, int(id))
				if err != nil {
					t.Fatalf("schema %d: %v", id, err)
				}
				if codec, err = goavro.NewCodec(s.Schema); err != nil {
					t.Fatalf("schema %d: %v", id, err)
				}
				codecs[id] = codec
			}
			native, rest, err := codec.NativeFromBinary(rec.Value[5:])
			if err != nil || len(rest) != 0 {
				t.Fatalf("offset %d: decode with the registry's schema %d: %v (%d bytes left)", rec.Offset, id, err, len(rest))
			}
			if m := native.(map[string]any); m["event_id"] != h["ce_id"] {
				t.Fatalf("offset %d: event_id %v, ce_id %s", rec.Offset, m["event_id"], h["ce_id"])
			}
		})
	}
	for subject := range report.SchemaRegistry.Subjects {
		latest, err := srcl.SchemaByVersion(ctx, subject, -1)
		if err != nil || uint32(latest.ID) != report.SchemaRegistry.Subjects[subject] {
			t.Fatalf("%s latest %+v %v", subject, latest, err)
		}
	}

	// A restart finds the same ids and adds no version.
	r = e.start(opt)
	deadline := time.Now().Add(time.Minute)
	for r.c.Readiness() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after a restart: %v", r.c.Readiness())
		}
		time.Sleep(50 * time.Millisecond)
	}
	again := r.c.Status().SchemaRegistry.Subjects
	for subject, id := range report.SchemaRegistry.Subjects {
		versions, err := srcl.SubjectVersions(ctx, subject)
		if again[subject] != id || err != nil || len(versions) != 1 {
			t.Fatalf("%s after restart: id %d (was %d), versions %v %v", subject, again[subject], id, versions, err)
		}
	}
}

// A subject that already holds a schema ours is incompatible with stops the connector, naming
// the subject, before any topic is created.
func TestIncompatibleSchemaStopsTheConnector(t *testing.T) {
	regURL := registrytest.URL(t)
	e := newEnv(t)
	populate(e, 1)
	srcl, err := sr.NewClient(sr.URLs(regURL))
	if err != nil {
		t.Fatal(err)
	}
	subject := e.topics.Events + "-partoo.messages.v1.StatusChanged"
	old := `{"type":"record","name":"StatusChanged","namespace":"partoo.messages.v1","fields":[{"name":"legacy","type":"string"}]}`
	if _, err := srcl.RegisterSchema(kafkaCtx(t), subject, sr.Schema{Schema: old, Type: sr.TypeAvro}, -1, -1); err != nil {
		t.Fatal(err)
	}
	for _, res := range srcl.SetCompatibility(kafkaCtx(t), sr.SetCompatibility{Level: sr.CompatBackward}, subject) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	opt := e.options()
	opt.SchemaRegistry = registry.Config{URL: regURL}
	c, err := engine.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(kafkaCtx(t))
	var refused *registry.RefusedError
	if !errors.As(err, &refused) || !refused.Incompatible() || !strings.Contains(err.Error(), subject) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Run = %v, want one line refusing %s as incompatible", err, subject)
	}
	md, err := e.cluster.Admin(t).ListTopics(kafkaCtx(t), e.topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	if td, ok := md[e.topics.Events]; ok && td.Err == nil {
		t.Error("the events topic was created although the schemas were refused")
	}
}

// A registry that does not answer at start is waited for, not ready meanwhile, and the
// connector goes on once it answers.
func TestRegistryDownAtStartIsWaitedFor(t *testing.T) {
	regURL := registrytest.URL(t)
	target, err := url.Parse(regURL)
	if err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	var refusedRequests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			refusedRequests.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()

	e := newEnv(t)
	populate(e, 2)
	want := e.publishable()
	opt := e.options()
	opt.SchemaRegistry = registry.Config{URL: srv.URL + target.Path}
	r := e.start(opt)
	deadline := time.Now().Add(time.Minute)
	for refusedRequests.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the connector asked the registry %d times in a minute", refusedRequests.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.c.Readiness() == nil || !strings.Contains(r.c.Readiness().Error(), "schema registry") {
		t.Fatalf("while the registry is down: ready=%v (%v)", r.c.Readiness() == nil, r.c.Readiness())
	}
	// Nothing is written before the schemas are registered: the topics do not even exist.
	md, err := e.cluster.Admin(t).ListTopics(kafkaCtx(t), e.topics.Events)
	if err != nil {
		t.Fatal(err)
	}
	if td, ok := md[e.topics.Events]; ok && td.Err == nil {
		t.Fatal("the events topic exists before the schemas were registered")
	}
	up.Store(true)
	evs := e.waitEvents(t, "the snapshot", func(evs []event) bool { return count(evs, "MessageCreated") >= want })
	for _, ev := range evs {
		if ev.Headers["schema_id"] == "" {
			t.Fatalf("event without schema_id: %v", ev.Headers)
		}
	}
	if r.c.Readiness() != nil {
		t.Fatalf("not ready once the registry answers: %v", r.c.Readiness())
	}
}
