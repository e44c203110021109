package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/events"
	"github.com/partoo-connector/partoo-connector/connector/internal/registry"
	"github.com/partoo-connector/partoo-connector/connector/internal/tables"
)

// checkRegistry checks, when a schema registry is set, that it accepts the credentials and
// that each of our schemas is compatible with its subject.
func checkRegistry(ctx context.Context, cfg *config.Config, rcfg registry.Config, r reporter) {
	if rcfg.URL == "" {
		r.pass("schema registry", "not set: event values are Avro single-object encoded")
		return
	}
	reg, err := registry.New(rcfg)
	if err != nil {
		r.fail("schema registry", err.Error(), "")
		return
	}
	codec, err := events.NewCodec()
	if err != nil {
		r.fail("schema registry", err.Error(), "")
		return
	}
	rows, err := tables.NewCodec()
	if err != nil {
		r.fail("schema registry", err.Error(), "")
		return
	}
	type subjectSchema struct {
		topic  string
		schema events.Schema
	}
	var all []subjectSchema
	for _, s := range codec.Schemas() {
		all = append(all, subjectSchema{cfg.KafkaEventsTopic, s})
	}
	topics := cfg.Topics()
	if n := topics.MessagesTable.Name; n != "" {
		all = append(all, subjectSchema{n, rows.MessageSchema()})
	}
	if n := topics.ConversationsTable.Name; n != "" {
		all = append(all, subjectSchema{n, rows.ConversationSchema()})
	}
	for _, ss := range all {
		s := ss.schema
		subject := reg.Subject(ss.topic, s.FullName)
		res, err := reg.Client().CheckCompatibility(ctx, subject, -1, sr.Schema{Schema: s.Text, Type: sr.TypeAvro})
		var re *sr.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == 40401:
			r.pass("schema registry "+subject, "new subject: registered at the first start")
		case errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden):
			r.fail("schema registry", fmt.Sprintf("%s rejected the credentials (HTTP %d)", reg.URL(), re.StatusCode), "check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD")
			return
		case err != nil:
			r.fail("schema registry", fmt.Sprintf("%s: %v", reg.URL(), err), "check SCHEMA_REGISTRY_URL (Apicurio: .../apis/ccompat/v7) and the network path")
			return
		case !res.Is:
			r.fail("schema registry "+subject, "our schema is incompatible with the subject's latest version: "+strings.Join(res.Messages, "; "),
				"the connector would stop at start; change the subject's compatibility or use another topic or SCHEMA_REGISTRY_SUBJECT_STRATEGY")
		default:
			r.pass("schema registry "+subject, "our schema is compatible with the subject (or the subject is new)")
		}
	}
}
