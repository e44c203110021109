package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry/registrytest"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	schemafiles "github.com/partoo-connector/partoo-connector/schemas"
)

func schemas(t *testing.T) []events.Schema {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c.Schemas()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// Registering twice gives the same ids and no second version: restarts are free.
func TestRegisterIsIdempotent(t *testing.T) {
	url := registrytest.URL(t)
	reg, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	topic := registrytest.Topic("idem")
	first, err := reg.Register(ctx(t), topic, schemas(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 {
		t.Fatalf("registered %d schemas", len(first))
	}
	seen := map[uint32]bool{}
	for _, r := range first {
		if r.ID == 0 || seen[r.ID] {
			t.Fatalf("ids %+v", first)
		}
		seen[r.ID] = true
		if want := topic + "-partoo.messages.v1." + r.Type.String(); r.Subject != want {
			t.Fatalf("subject %q, want %q", r.Subject, want)
		}
	}
	again, err := reg.Register(ctx(t), topic, schemas(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if again[i] != first[i] {
			t.Fatalf("second registration %+v, first %+v", again[i], first[i])
		}
		versions, err := reg.Client().SubjectVersions(ctx(t), first[i].Subject)
		if err != nil || len(versions) != 1 {
			t.Fatalf("%s versions %v %v", first[i].Subject, versions, err)
		}
		// The registry serves the schema under that id.
		s, err := reg.Client().SchemaByID(ctx(t), int(first[i].ID))
		if err != nil || !strings.Contains(s.Schema, `"`+first[i].Type.String()+`"`) {
			t.Fatalf("schema %d: %v %.80s", first[i].ID, err, s.Schema)
		}
	}
}

func TestRecordStrategyNamesSubjectsByRecord(t *testing.T) {
	reg, err := registry.New(registry.Config{URL: "http://127.0.0.1:1", SubjectStrategy: registry.StrategyRecord})
	if err != nil {
		t.Fatal(err)
	}
	if s := reg.Subject("events", "partoo.messages.v1.MessageCreated"); s != "partoo.messages.v1.MessageCreated" {
		t.Fatal(s)
	}
	reg, _ = registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if s := reg.Subject("events", "partoo.messages.v1.MessageCreated"); s != "events-partoo.messages.v1.MessageCreated" {
		t.Fatal(s)
	}
	if _, err := registry.New(registry.Config{URL: "http://x", SubjectStrategy: "topic"}); err == nil {
		t.Fatal("an unknown strategy must be refused")
	}
}

// A subject whose earlier version our schema cannot read is refused as incompatible (409),
// naming the subject: the connector stops on it.
func TestIncompatibleSchemaIsRefused(t *testing.T) {
	url := registrytest.URL(t)
	reg, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	topic := registrytest.Topic("incompat")
	subject := reg.Subject(topic, "partoo.messages.v1.MessageCreated")
	old := `{"type":"record","name":"MessageCreated","namespace":"partoo.messages.v1","fields":[{"name":"legacy","type":"int"}]}`
	if _, err := reg.Client().RegisterSchema(ctx(t), subject, sr.Schema{Schema: old, Type: sr.TypeAvro}, -1, -1); err != nil {
		t.Fatal(err)
	}
	for _, r := range reg.Client().SetCompatibility(ctx(t), sr.SetCompatibility{Level: sr.CompatBackward}, subject) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	_, err = reg.Register(ctx(t), topic, schemas(t))
	var refused *registry.RefusedError
	if !errors.As(err, &refused) || !refused.Incompatible() || refused.Subject != subject {
		t.Fatalf("want an incompatible refusal of %s, got %v", subject, err)
	}
	if msg := err.Error(); !strings.Contains(msg, subject) || !strings.Contains(msg, "HTTP 409") || strings.Contains(msg, "\n") {
		t.Fatalf("message %q", msg)
	}
}

// No answer is transient (retried by the connector); a URL that is not a registry API is a
// refusal (the operator must fix it).
func TestUnreachableIsTransientAndWrongPathIsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	reg, _ := registry.New(registry.Config{URL: dead, Timeout: 2 * time.Second})
	_, err = reg.Register(ctx(t), "t", schemas(t))
	var refused *registry.RefusedError
	if err == nil || errors.As(err, &refused) || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("closed port: %v", err)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/busy/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html>\n<body>Not Found</body></html>"))
	}))
	defer srv.Close()
	reg, _ = registry.New(registry.Config{URL: srv.URL + "/busy"})
	if _, err = reg.Register(ctx(t), "t", schemas(t)); err == nil || errors.As(err, &refused) {
		t.Fatalf("503: %v", err)
	}
	reg, _ = registry.New(registry.Config{URL: srv.URL})
	_, err = reg.Register(ctx(t), "t", schemas(t))
	if !errors.As(err, &refused) || refused.Status != 404 || strings.Contains(err.Error(), "\n") {
		t.Fatalf("404: %v", err)
	}
}

// Basic auth reaches the registry; the password never appears in an error.
func TestBasicAuthAndNoSecretInErrors(t *testing.T) {
	var auths atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "key" && p == "s3cr3t-value" {
			auths.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
	}))
	defer srv.Close()
	reg, _ := registry.New(registry.Config{URL: srv.URL, Username: "key", Password: secret.New("s3cr3t-value")})
	_, err := reg.Register(ctx(t), "t", schemas(t))
	var refused *registry.RefusedError
	if !errors.As(err, &refused) || refused.Status != 401 || auths.Load() != 1 {
		t.Fatalf("err %v, authenticated requests %d", err, auths.Load())
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("the password leaked: %v", err)
	}
}

// A registry that echoes the request's Authorization header (or the password) in its error
// never puts the password, plain or base64, into our errors.
func TestEchoedCredentialsAreScrubbed(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusInternalServerError} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, pw, _ := r.BasicAuth()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error_code":%d,"message":"bad request with header Authorization: %s (password %s)"}`, status, r.Header.Get("Authorization"), pw)
		}))
		reg, _ := registry.New(registry.Config{URL: srv.URL, Username: "key", Password: secret.New("s3cr3t-value")})
		_, err := reg.Register(ctx(t), "t", schemas(t))
		srv.Close()
		if err == nil {
			t.Fatal("no error")
		}
		b64 := base64.StdEncoding.EncodeToString([]byte("key:s3cr3t-value"))
		if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, b64) || strings.Contains(msg, strings.TrimRight(b64, "=")) || !strings.Contains(msg, secret.Redacted) {
			t.Fatalf("HTTP %d: the password leaked or was not shown as redacted: %v", status, err)
		}
	}
}

// The event schemas of this release evolve the first revision's (schemas/history) as a
// schema registry's BACKWARD rule demands: on subjects holding revision 1 with that rule,
// the registry accepts them as new versions. The control: a field added without a default is
// refused on the same subjects, so the rule is enforced there.
func TestEvolvedSchemasAreBackwardCompatible(t *testing.T) {
	url := registrytest.URL(t)
	reg, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	topic := registrytest.Topic("evolve")
	current := schemas(t)
	oldIDs := map[string]int{}
	for _, s := range current {
		typ := strings.TrimPrefix(s.FullName, "partoo.messages.v1.")
		old, err := fs.ReadFile(schemafiles.History, "history/"+typ+".1.avsc")
		if err != nil {
			t.Fatal(err)
		}
		subject := reg.Subject(topic, s.FullName)
		id, err := reg.Client().RegisterSchema(ctx(t), subject, sr.Schema{Schema: string(old), Type: sr.TypeAvro}, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		oldIDs[subject] = id
		for _, r := range reg.Client().SetCompatibility(ctx(t), sr.SetCompatibility{Level: sr.CompatBackward}, subject) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	regs, err := reg.Register(ctx(t), topic, current)
	if err != nil {
		t.Fatalf("the registry refused this release's schemas over revision 1 under BACKWARD: %v", err)
	}
	for _, r := range regs {
		if int(r.ID) == oldIDs[r.Subject] {
			t.Fatalf("%s: the registry gave revision 1's id %d: the schema did not change", r.Subject, r.ID)
		}
	}
	// The control: a new field without a default breaks BACKWARD.
	s := current[0]
	bad := strings.Replace(s.Text, `"fields": [`, `"fields": [{"name": "no_default", "type": "string"},`, 1)
	if bad == s.Text {
		t.Fatal("could not build the control schema")
	}
	_, err = reg.Register(ctx(t), topic, []events.Schema{{Type: s.Type, FullName: s.FullName, Text: bad}})
	var refused *registry.RefusedError
	if !errors.As(err, &refused) || !refused.Incompatible() {
		t.Fatalf("a field without a default must be refused under BACKWARD, got %v", err)
	}
}
