package service_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

func org(name, txn, stateTopic string) engine.Options {
	return engine.Options{Organization: name, TransactionalID: txn,
		Partoo: partoo.Config{APIKey: secret.New("k")}, Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")},
		Topics: state.Topics{Events: "events", State: stateTopic}}
}

// Engines that would write over each other are refused, every problem named at once.
func TestOrganizationsThatWouldCollideAreRefused(t *testing.T) {
	for name, c := range map[string]struct {
		engines []engine.Options
		want    []string
	}{
		"none":                {nil, []string{"no organisation"}},
		"unnamed among many":  {[]engine.Options{org("", "t1", "s1"), org("b", "t2", "s2")}, []string{"needs a name"}},
		"listed twice":        {[]engine.Options{org("a", "t1", "s1"), org("a", "t2", "s2")}, []string{`"a" is listed twice`}},
		"shared txn id":       {[]engine.Options{org("a", "t", "s1"), org("b", "t", "s2")}, []string{`share the transactional id "t"`}},
		"shared state topic":  {[]engine.Options{org("a", "t1", "s"), org("b", "t2", "s")}, []string{`share the state topic "s"`}},
		"both shared at once": {[]engine.Options{org("a", "t", "s"), org("b", "t", "s")}, []string{"transactional id", "state topic"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := service.New(service.Config{Engines: c.engines})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// One organisation without a name is today's single-organisation run: accepted, and its
// errors are the engine's own (no organisation prefix).
func TestOneOrganizationIsTheEngine(t *testing.T) {
	s, err := service.New(service.Config{Engines: []engine.Options{org("", "t", "s")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Engines()[0].Close()
	if err := s.Readiness(); err == nil || strings.Contains(err.Error(), "organization") {
		t.Fatalf("readiness before Run: %v", err)
	}
	bad := org("", "t", "s")
	bad.Scheduler = "bogus"
	if _, err := service.New(service.Config{Engines: []engine.Options{bad}}); err == nil || strings.Contains(err.Error(), "organization") {
		t.Fatalf("a bad option: %v", err)
	}
	bad.Organization = "acme"
	if _, err := service.New(service.Config{Engines: []engine.Options{bad}}); err == nil || !strings.Contains(err.Error(), "organization acme") {
		t.Fatalf("a bad option of a named organisation: %v", err)
	}
}
