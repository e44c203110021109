package engine_test

import (
	"testing"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
)

// snapshotOf returns the snapshot flag of the MessageCreated of message id, and whether one
// was published.
func snapshotOf(evs []event, id int64) (snapshot, found bool) {
	for _, ev := range evs {
		if ev.Type == "MessageCreated" && ev.msgID() == id {
			return ev.Body["snapshot"] == true, true
		}
	}
	return false, false
}

func hasCreated(id int64) func([]event) bool {
	return func(evs []event) bool { _, ok := snapshotOf(evs, id); return ok }
}

// TestSnapshotMeansExistedBeforeWatching: snapshot=true is for messages that existed before the
// connector started watching. The first message of a conversation created while it runs, or
// while it was down after it had started watching, is live (snapshot=false); messages that
// were there at its first start are snapshots.
func TestSnapshotMeansExistedBeforeWatching(t *testing.T) {
	e := newEnv(t)
	old := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerWhatsapp})
	before, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: old.ID, Date: e.sim.Clock().Now().Add(-time.Hour)})
	recent, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: old.ID})

	r := e.start(e.options())
	evs := e.waitEvents(t, "the snapshot", hasCreated(recent.ID))
	for _, id := range []int64{before.ID, recent.ID} {
		if snap, _ := snapshotOf(evs, id); !snap {
			t.Fatalf("message %d existed before the start: want snapshot=true; %v", id, summary(evs))
		}
	}
	r.waitPastWatch(t, e.sim)

	fresh := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerInstagram})
	first, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: fresh.ID, Content: "hello, is the shop open?"})
	evs = e.waitEvents(t, "the new conversation's first message", hasCreated(first.ID))
	if snap, _ := snapshotOf(evs, first.ID); snap {
		t.Fatalf("the first message of conversation %d, created during the run, was published with snapshot=true", fresh.ID)
	}

	// Down for a while, after having started watching: what was created meanwhile is live.
	r.stop(t)
	downConv := e.sim.CreateConversation(partoosim.ConversationSpec{Partner: model.PartnerSMS})
	whileDown, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: downConv.ID})
	oldAgain, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: old.ID})
	e.start(e.options())
	evs = e.waitEvents(t, "the messages created while down", func(evs []event) bool {
		return hasCreated(whileDown.ID)(evs) && hasCreated(oldAgain.ID)(evs)
	})
	for _, id := range []int64{whileDown.ID, oldAgain.ID} {
		if snap, _ := snapshotOf(evs, id); snap {
			t.Fatalf("message %d was created while the connector was down after it had started watching: want snapshot=false; %v", id, summary(evs))
		}
	}
	if n := count(evs, "MessageCreated"); n != 5 {
		t.Fatalf("%d MessageCreated, want 5: %v", n, summary(evs))
	}
}

// TestWidenedBusinessFilterSnapshotsTheNewBusinesses: PARTOO_BUSINESS_IDS widened between two
// runs. The new business's messages, existing when it joined the scope, are snapshots (even
// one created while the connector was stopped: nobody watched that business then); a message
// created meanwhile in a conversation of the business already watched is live; and after the
// restart everything new is live in both.
func TestWidenedBusinessFilterSnapshotsTheNewBusinesses(t *testing.T) {
	e := newEnv(t)
	hour := e.sim.Clock().Now().Add(-time.Hour)
	a := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 1})
	b := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 2})
	aOld, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: a.ID, Date: hour})
	bOld, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: b.ID, Date: hour})

	opt := e.options()
	opt.BusinessIDs = []string{"1"}
	r := e.start(opt)
	e.waitEvents(t, "business 1's snapshot", hasCreated(aOld.ID))
	r.waitPastWatch(t, e.sim)
	r.stop(t)

	aDown, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: a.ID})
	bDown, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: b.ID})
	opt.BusinessIDs = []string{"1", "2"}
	r = e.start(opt)
	evs := e.waitEvents(t, "the widened scope", func(evs []event) bool {
		return hasCreated(aDown.ID)(evs) && hasCreated(bOld.ID)(evs) && hasCreated(bDown.ID)(evs)
	})
	for id, want := range map[int64]bool{aOld.ID: true, aDown.ID: false, bOld.ID: true, bDown.ID: true} {
		if got, _ := snapshotOf(evs, id); got != want {
			t.Errorf("message %d: snapshot=%v, want %v; %v", id, got, want, summary(evs))
		}
	}
	r.waitPastWatch(t, e.sim)
	bLive, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: b.ID})
	c := e.sim.CreateConversation(partoosim.ConversationSpec{BusinessID: 2})
	cFirst, _ := e.sim.AddMessage(partoosim.MessageSpec{ConversationID: c.ID})
	evs = e.waitEvents(t, "the new business's live messages", func(evs []event) bool {
		return hasCreated(bLive.ID)(evs) && hasCreated(cFirst.ID)(evs)
	})
	for _, id := range []int64{bLive.ID, cFirst.ID} {
		if snap, _ := snapshotOf(evs, id); snap {
			t.Errorf("message %d, created after business 2 joined the scope, has snapshot=true", id)
		}
	}
}
