package tables

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
)

// TestFingerprintSeesEveryPublishedField: changing any field the conversations table publishes
// (or a field's presence) changes the fingerprint, so a changed conversation always gets its
// row; the last message does not.
func TestFingerprintSeesEveryPublishedField(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	at := model.Time{Time: time.Date(2026, 12, 8, 1, 2, 3, 4000, time.UTC)}
	base := func() model.Conversation {
		return model.Conversation{ID: 7, MessagingPartner: "whatsapp", BusinessID: "b1", Details: model.ConversationDetails{
			BusinessName: str("n"), BusinessCity: str("c"), BusinessZipcode: str("z"), BusinessCountry: str("FR"),
			Status: str("Open"), StatusRaw: nil, IsSolved: &no, IsExpired: &no, AssignedUserID: str("u1"),
			CreatedAt: &at, FirstMessageDate: &at, ConsumerName: str("x"), ConsumerPhoneNumber: str("+33")}}
	}
	later := model.Time{Time: at.Add(time.Microsecond)}
	changes := map[string]func(c *model.Conversation){
		"id": func(c *model.Conversation) { c.ID = 8 }, "channel": func(c *model.Conversation) { c.MessagingPartner = "sms" },
		"business":               func(c *model.Conversation) { c.BusinessID = "b2" },
		"name":                   func(c *model.Conversation) { c.Details.BusinessName = str("m") },
		"name gone":              func(c *model.Conversation) { c.Details.BusinessName = nil },
		"name empty":             func(c *model.Conversation) { c.Details.BusinessName = str("") },
		"city":                   func(c *model.Conversation) { c.Details.BusinessCity = str("d") },
		"zipcode":                func(c *model.Conversation) { c.Details.BusinessZipcode = str("y") },
		"country":                func(c *model.Conversation) { c.Details.BusinessCountry = str("DE") },
		"status":                 func(c *model.Conversation) { c.Details.Status = str("Closed") },
		"status raw":             func(c *model.Conversation) { c.Details.StatusRaw = str("weird") },
		"solved":                 func(c *model.Conversation) { c.Details.IsSolved = &yes },
		"solved gone":            func(c *model.Conversation) { c.Details.IsSolved = nil },
		"expired":                func(c *model.Conversation) { c.Details.IsExpired = &yes },
		"assigned":               func(c *model.Conversation) { c.Details.AssignedUserID = str("u2") },
		"created":                func(c *model.Conversation) { c.Details.CreatedAt = &later },
		"first":                  func(c *model.Conversation) { c.Details.FirstMessageDate = nil },
		"consumer":               func(c *model.Conversation) { c.Details.ConsumerName = str("y") },
		"phone":                  func(c *model.Conversation) { c.Details.ConsumerPhoneNumber = str("+34") },
		"shifted between fields": func(c *model.Conversation) { c.Details.BusinessName, c.Details.BusinessCity = str("nc"), str("") },
	}
	b := base()
	sum := fingerprint(b)
	for name, change := range changes {
		c := base()
		change(&c)
		if fingerprint(c) == sum {
			t.Errorf("%s: same fingerprint", name)
		}
	}
	c := base()
	c.LastMessage = &model.Message{ID: 1}
	if fingerprint(c) != sum {
		t.Error("the last message changed the fingerprint")
	}
}
