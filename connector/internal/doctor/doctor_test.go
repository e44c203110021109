package doctor_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/doctor"
)

// A check is one line: its mark, its name, what was found and the advice.
func TestCheckLine(t *testing.T) {
	for _, tc := range []struct {
		c    doctor.Check
		want string
	}{
		{doctor.Check{Status: doctor.OK, Name: "Kafka", Message: "1 broker(s) answer"}, "✓ Kafka: 1 broker(s) answer"},
		{doctor.Check{Status: doctor.Warning, Name: "webhooks", Message: "off", Advice: "set WEBHOOK_SECRET"}, "! webhooks: off — set WEBHOOK_SECRET"},
		{doctor.Check{Status: doctor.Blocking, Name: "topic t", Message: "not compacted"}, "✗ topic t: not compacted"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// The live-connector check of a deployment watches its transactional id, its state topic, and
// its lease and presence groups.
func TestLivenessOf(t *testing.T) {
	l := doctor.LivenessOf(&config.KafkaConfig{KafkaTransactionalID: "txn", KafkaStateTopic: "st"}, time.Second, time.Minute)
	if l.TransactionalID != "txn" || l.StateTopic != "st" || len(l.Groups) != 2 || l.Groups[0] != "txn.lease" || l.Groups[1] != "txn.presence" ||
		l.Watch != time.Second || l.Window != time.Minute {
		t.Fatalf("%+v", l)
	}
}
