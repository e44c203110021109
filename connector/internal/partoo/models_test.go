package partoo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/secret"
)

func TestParseTimeToTheMicrosecond(t *testing.T) {
	want := time.Date(2023, 1, 31, 16, 22, 17, 327878000, time.UTC)
	for _, s := range []string{
		"2023-01-31 16:22:17.327878+00:00",
		"2023-01-31T16:22:17.327878Z",
		"2023-01-31T16:22:17.327878+00:00",
		"2023-01-31 18:22:17.327878+02:00",
	} {
		got, err := partoo.ParseTime(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !got.Equal(want) {
			t.Errorf("%q = %v, want %v", s, got, want)
		}
	}
	// Other forms a Partoo-like API plausibly sends, all the same instant.
	for _, s := range []string{
		"2023-01-31 16:22:17.327878Z",
		"2023-01-31T16:22:17.327878+0000",
		"2023-01-31 16:22:17.327878+00",
		"2023-01-31 16:22:17.327878",
		" 2023-01-31T16:22:17.327878 ",
	} {
		got, err := partoo.ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2023-01-31", "31/01/2023 16:22"} {
		if _, err := partoo.ParseTime(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
	// Round trip in Partoo's form keeps every microsecond.
	b, _ := json.Marshal(partoo.Time{Time: want})
	if string(b) != `"2023-01-31 16:22:17.327878+00:00"` {
		t.Fatalf("marshal = %s", b)
	}
}

func TestDecodeNullablesAndCustomChannel(t *testing.T) {
	body := `{"messages": [
	  {"id": 1, "conversation_id": 9, "date": "2023-01-31 16:22:17.327878+00:00", "content_type": "Text",
	   "sender_type": "Consumer", "sender_label": "Ann", "status": "Success", "is_deleted": false,
	   "content": "hi", "user_id": null, "custom_channel": null, "extra_field": {"x": 1}},
	  {"id": 2, "conversation_id": 9, "date": "2023-01-31T16:22:18Z", "content_type": "Image",
	   "sender_type": "User", "sender_label": "Bob", "status": "Sending", "is_deleted": true,
	   "content": "", "user_id": "u-1", "custom_channel": {"name": "shop", "ids": [1, 2]}}
	], "count": 2, "next_cursor": null}`
	p, err := partoo.DecodeMessagePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.NextCursor != nil || p.Count != 2 || len(p.Messages) != 2 {
		t.Fatalf("page = %+v", p)
	}
	a, b := p.Messages[0], p.Messages[1]
	if a.UserID != nil || a.CustomChannel != nil {
		t.Errorf("nulls must decode to nil: user_id=%v custom_channel=%s", a.UserID, a.CustomChannel)
	}
	if b.UserID == nil || *b.UserID != "u-1" || !b.IsDeleted {
		t.Errorf("second message = %+v", b)
	}
	if got := string(b.CustomChannel); got != `{"name": "shop", "ids": [1, 2]}` {
		t.Errorf("custom_channel kept as %s, want the raw JSON", got)
	}

	conv := `{"conversations": [{"id": 5, "consumer_img": null, "consumer_name": null,
	  "consumer_phone_number": null, "last_message": null, "is_read": true, "status": "Closed",
	  "created_at": "2023-01-31 16:22:17.327878+00:00", "has_one_user_message": false,
	  "business": {"id": 3, "name": "B", "city": null, "zipcode": null, "country": null, "formatted_address": null},
	  "messaging_partner": "Whatsapp", "issues": ["late"], "first_message_date": null,
	  "is_expired": false, "is_solved": false, "assigned_user_id": null, "custom_channel": null}],
	  "count": 1, "next_cursor": "abc"}`
	cp, err := partoo.DecodeConversationPage([]byte(conv))
	if err != nil {
		t.Fatal(err)
	}
	c := cp.Conversations[0]
	if c.ID != 5 || c.LastMessage != nil || c.BusinessID != "3" || c.MessagingPartner != "Whatsapp" || *cp.NextCursor != "abc" {
		t.Fatalf("conversation = %+v", c)
	}
}

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
