package partoo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

func TestSecretNeverPrints(t *testing.T) {
	const v = "very-secret-api-key"
	s := secret.New(v)
	type holder struct {
		Key secret.Secret
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s, "holder", holder{s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", s)
	j, _ := json.Marshal(holder{s})
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %d %+v %#v", s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", holder{s}, holder{s}, &holder{s}), string(j), buf.String(),
		fmt.Errorf("wrapped: %v", s).Error(),
	}
	for _, o := range outs {
		if strings.Contains(o, v) {
			t.Fatalf("secret leaked in %q", o)
		}
	}
	if s.Reveal() != v {
		t.Fatal("Reveal must return the value")
	}
	var back secret.Secret
	if err := back.UnmarshalText([]byte("abc")); err != nil || back.Reveal() != "abc" {
		t.Fatal("UnmarshalText")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := partoo.New(partoo.Config{APIURL: "ftp://x", PerPage: 500})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"base URL", "API key is empty", "per_page 500"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
}
