package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
)

var update = flag.Bool("update", false, "rewrite the configuration table of docs/configuration.md")

// TestREADMEConfigTableInSync: docs/configuration.md's table is generated from Config's tags. Run
// `go test ./connector/internal/config -run READMEConfig -update` after changing Config.
func TestREADMEConfigTableInSync(t *testing.T) {
	var rows []string
	for _, v := range config.Vars() {
		def := v.Default
		if def != "" {
			def = "`" + def + "`"
		}
		rows = append(rows, "| `"+v.Name+"` | "+def+" | "+v.Desc+" |")
	}
	want := strings.Join(rows, "\n")
	path := filepath.Join("..", "..", "..", "docs", "configuration.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const head = "| variable | default | meaning |\n|---|---|---|\n"
	i := strings.Index(readme, head)
	if i < 0 {
		t.Fatal("docs/configuration.md has no configuration table")
	}
	start := i + len(head)
	end := strings.Index(readme[start:], "\n\n")
	if end < 0 {
		t.Fatal("configuration table not terminated")
	}
	got := readme[start : start+end]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:start]+want+readme[start+end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("docs/configuration.md configuration table is stale; run: go test ./connector/internal/config -run READMEConfig -update\n got:\n%s\nwant:\n%s", got, want)
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	base := map[string]string{"PARTOO_API_KEY": "s3cret-key", "KAFKA_BROKERS": "127.0.0.1:9092"}
	cases := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"PARTOO_API_KEY": ""}, "PARTOO_API_KEY: required"},
		{map[string]string{"KAFKA_BROKERS": ""}, "KAFKA_BROKERS: required"},
		{map[string]string{"PARTOO_REQUESTS_PER_MINUTE": "lots"}, "PARTOO_REQUESTS_PER_MINUTE: cannot parse as an integer"},
		{map[string]string{"PARTOO_PER_PAGE": "101"}, "PARTOO_PER_PAGE: must be between 1 and 100"},
		{map[string]string{"PARTOO_API_URL": "api.partoo.co"}, "PARTOO_API_URL: must be an absolute http(s) URL"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM:"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "plain", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD: required"},
		{map[string]string{"KAFKA_TLS_ENABLED": "maybe"}, "KAFKA_TLS_ENABLED: cannot parse as a boolean"},
		{map[string]string{"PARTOO_CONVERSATION_IDS": "1,x"}, "PARTOO_CONVERSATION_IDS: cannot parse as a comma-separated list of integers"},
		{map[string]string{"PARTOO_API_KEY_FILE": "/nonexistent/key"}, "PARTOO_API_KEY_FILE: set together with PARTOO_API_KEY"},
		{map[string]string{"PARTOO_API_KEY": "", "PARTOO_API_KEY_FILE": "/nonexistent/key"}, "PARTOO_API_KEY_FILE: cannot read the file: no such file or directory"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL: must be debug"},
		{map[string]string{"SCHEMA_REGISTRY_URL": "registry:8081"}, "SCHEMA_REGISTRY_URL: must be an http:// or https:// URL"},
		{map[string]string{"SCHEMA_REGISTRY_URL": "https://key:s3cret-pw@registry"}, "SCHEMA_REGISTRY_URL: must not hold credentials"},
		{map[string]string{"SCHEMA_REGISTRY_URL": "http://registry:8081", "SCHEMA_REGISTRY_USERNAME": "key"}, "SCHEMA_REGISTRY_PASSWORD: SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together"},
		{map[string]string{"SCHEMA_REGISTRY_PASSWORD": "s3cret-pw", "SCHEMA_REGISTRY_USERNAME": "key"}, "SCHEMA_REGISTRY_URL: required when"},
		{map[string]string{"SCHEMA_REGISTRY_URL": "http://registry:8081", "SCHEMA_REGISTRY_CA_FILE": "/ca.pem"}, "SCHEMA_REGISTRY_CA_FILE: set but SCHEMA_REGISTRY_URL is not https"},
		{map[string]string{"SCHEMA_REGISTRY_SUBJECT_STRATEGY": "topic"}, "SCHEMA_REGISTRY_SUBJECT_STRATEGY: must be topic-record or record"},
		{map[string]string{"PARTOO_API_URL": "https://user:s3cret-pw@api.partoo.co/v2"}, "PARTOO_API_URL: must not hold credentials"},
		{map[string]string{"PARTOO_API_URL": "https://api.partoo.co/v2?x=1"}, "PARTOO_API_URL: must not have a query"},
		{map[string]string{"HTTP_ADDR": "8080"}, `HTTP_ADDR: "8080" is not host:port`},
		{map[string]string{"HTTP_ADDR": ":http"}, `HTTP_ADDR: ":http": the port must be a number`},
		{map[string]string{"KAFKA_BROKERS": "PLAINTEXT://kafka:9092"}, `KAFKA_BROKERS: "PLAINTEXT://kafka:9092" has a scheme`},
		{map[string]string{"KAFKA_BROKERS": "kafka"}, `KAFKA_BROKERS: "kafka": "kafka" is not host:port`},
		{map[string]string{"KAFKA_BROKERS": ":9092"}, `KAFKA_BROKERS: ":9092": ":9092" has no host`},
		{map[string]string{"KAFKA_BROKERS": "user:s3cret-pw@kafka:9092"}, `KAFKA_BROKERS: "…@kafka:9092" holds credentials`},
		{map[string]string{"KAFKA_MESSAGES_TABLE_TOPIC": "partoo.messages.events"}, `KAFKA_MESSAGES_TABLE_TOPIC: "partoo.messages.events" is the topic of KAFKA_EVENTS_TOPIC too`},
		{map[string]string{"KAFKA_CONVERSATIONS_TABLE_TOPIC": "partoo.messages.table"}, `KAFKA_CONVERSATIONS_TABLE_TOPIC: "partoo.messages.table" is the topic of KAFKA_MESSAGES_TABLE_TOPIC too`},
		{map[string]string{"KAFKA_CONVERSATIONS_TABLE_PARTITIONS": "0"}, "KAFKA_CONVERSATIONS_TABLE_PARTITIONS: must be at least 1"},
		{map[string]string{"KAFKA_MESSAGES_TABLE_CONFIGS": "retention.ms"}, "KAFKA_MESSAGES_TABLE_CONFIGS: cannot parse as key:value pairs, comma-separated"},
		{map[string]string{"KAFKA_CONVERSATIONS_TABLE_CONFIGS": "cleanup.policy:delete"}, "KAFKA_CONVERSATIONS_TABLE_CONFIGS: cleanup.policy:delete: a table topic is always compact"},
		{map[string]string{"PARTOO_ORG_ID": "-3"}, "PARTOO_ORG_ID: must be a positive organisation id"},
		{map[string]string{"PARTOO_ORG_ID": "acme"}, "PARTOO_ORG_ID: cannot parse as an integer"},
		// NaN is in no range (found by the attack: it turned the budget off).
		{map[string]string{"PARTOO_BUDGET_RESERVE": "NaN"}, "PARTOO_BUDGET_RESERVE: must be between 0 and 0.9"},
		{map[string]string{"SCHEDULER_RECONCILE_SHARE": "NaN"}, "SCHEDULER_RECONCILE_SHARE: must be above 0 and at most 1"},
		{map[string]string{"PARTOO_BUSINESS_IDS": ","}, "PARTOO_BUSINESS_IDS: lists no business id"},
	}
	for _, tc := range cases {
		clearConfigEnv(t)
		for k, v := range base {
			t.Setenv(k, v)
		}
		for k, v := range tc.set {
			t.Setenv(k, v)
		}
		_, err := config.Load()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want prefix %q", tc.set, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("error must be one line without secrets: %q", err)
		}
	}
	// The key from a file, whitespace trimmed.
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clearConfigEnv(t)
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("PARTOO_API_KEY_FILE", f)
	t.Setenv("PARTOO_CONVERSATION_IDS", "3,4")
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaTransactionalID != "partoo-connector-partoo.messages.state" {
		t.Fatalf("default transactional id %q", c.KafkaTransactionalID)
	}
	if rc, err := c.Registry(); err != nil || rc.URL != "" || rc.SubjectStrategy != "topic-record" {
		t.Fatalf("registry %+v %v", rc, err)
	}
	if tp := c.Topics(); tp.MessagesTable.Name != "partoo.messages.table" || tp.ConversationsTable.Name != "partoo.conversations.table" ||
		c.KafkaConversationsTableConsumerContact || c.PartooOrgID != 0 {
		t.Fatalf("table defaults %+v (consumer contact %v, org %d)", tp, c.KafkaConversationsTableConsumerContact, c.PartooOrgID)
	}
	if c.PartooAPIKey.Reveal() != "from-file" || len(c.PartooConversationIDs) != 2 || c.KafkaEventsTopic != "partoo.messages.events" || c.PartooRequestsPerMinute != 300 {
		t.Fatalf("config %+v", c)
	}
}

// A registry CA file that cannot be read is named when the registry settings are built.
func TestRegistryCAFile(t *testing.T) {
	clearConfigEnv(t)
	t.Setenv("PARTOO_API_KEY", "k")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("SCHEMA_REGISTRY_URL", "https://registry.example:8081/apis/ccompat/v7")
	t.Setenv("SCHEMA_REGISTRY_USERNAME", "key")
	t.Setenv("SCHEMA_REGISTRY_PASSWORD", "s3cret-pw")
	t.Setenv("SCHEMA_REGISTRY_CA_FILE", filepath.Join(t.TempDir(), "missing.pem"))
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Registry()
	if err == nil || !strings.HasPrefix(err.Error(), "SCHEMA_REGISTRY_CA_FILE: cannot read the file") {
		t.Fatalf("err = %v", err)
	}
	t.Setenv("SCHEMA_REGISTRY_CA_FILE", "")
	c, err = config.Load()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Registry()
	if err != nil || rc.Username != "key" || rc.Password.Reveal() != "s3cret-pw" || rc.TLS != nil {
		t.Fatalf("registry %+v %v", rc, err)
	}
}

func clearConfigEnv(t *testing.T) {
	for _, v := range config.Vars() {
		t.Setenv(v.Name, "")
		os.Unsetenv(v.Name)
	}
}

// TestEveryWrongVariableAtOnce: Load reports each wrong variable on its own line, in
// declaration order, and leaves the environment as it found it (an empty variable takes its
// default without being unset).
func TestEveryWrongVariableAtOnce(t *testing.T) {
	clearConfigEnv(t)
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:9092")
	t.Setenv("PARTOO_REQUESTS_PER_MINUTE", "lots")
	t.Setenv("PARTOO_PER_PAGE", "0")
	t.Setenv("LOG_FORMAT", "xml")
	t.Setenv("SCHEDULER_DISCOVERY_INTERVAL", "") // empty: the default, and still set afterwards
	_, err := config.Load()
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"PARTOO_API_KEY: required", "PARTOO_REQUESTS_PER_MINUTE: cannot parse as an integer",
		"PARTOO_PER_PAGE: must be between 1 and 100", "LOG_FORMAT: must be json or text"}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want %q", i, errs[i], w)
		}
	}
	if v, ok := os.LookupEnv("SCHEDULER_DISCOVERY_INTERVAL"); !ok || v != "" {
		t.Fatal("Load changed the environment")
	}
}
