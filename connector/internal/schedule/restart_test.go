package schedule_test

import (
	"testing"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoosim"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// TestRestartContinuesTheSnapshot: a restart after 176 of 500 conversations were snapshotted
// goes on with the 324 the state does not know, before any reconciliation walk of the 176,
// and Status calls that pass the snapshot. (Before, it began with a pass over the 176,
// labelled reconciliation: 500 conversations took 191 s instead of about 110.)
func TestRestartContinuesTheSnapshot(t *testing.T) {
	for _, order := range []partoosim.Order{partoosim.OrderRecent, partoosim.OrderID} {
		h := newHarness(t, 500, order)
		h.run(func() {
			for i := 0; i < 5000 && h.tracked() < 176; i++ {
				h.walk(h.next().ID)
			}
			if h.s.Status().Pass.Phase != schedule.PhaseSnapshot {
				t.Fatalf("the first pass is %q, want the snapshot", h.s.Status().Pass.Phase)
			}
			// Restart: a new scheduler over the same state.
			h.s = schedule.NewSmart(h.cfg)
			before := h.tracked()
			picks, knownPicks := 0, 0
			var phases []string
			for h.tracked() < 500 && picks < 2000 {
				p := h.next()
				picks++
				if p.Reason == schedule.ReasonReconcile && h.stateOf(p.ID) != nil {
					knownPicks++
				}
				if ph := h.s.Status().Pass.Phase; len(phases) == 0 || phases[len(phases)-1] != ph {
					phases = append(phases, ph)
				}
				h.walk(p.ID)
			}
			t.Logf("%v: %d tracked at the restart; %d picks to track all 500; phases %v", order, before, picks, phases)
			if h.tracked() < 500 {
				t.Fatalf("%v: only %d of 500 conversations tracked after %d picks", order, h.tracked(), picks)
			}
			if knownPicks > 0 {
				t.Fatalf("%v: %d reconciliation walks of known conversations before the snapshot was done", order, knownPicks)
			}
			if picks > 500-before+20 {
				t.Fatalf("%v: %d picks for %d unknown conversations", order, picks, 500-before)
			}
			if phases[0] != schedule.PhaseSnapshot {
				t.Fatalf("%v: after the restart the pass is %v, want the snapshot", order, phases)
			}
			for _, ph := range phases {
				if ph == schedule.PhaseReconcile {
					t.Fatalf("%v: the continued snapshot was called %q (phases %v)", order, ph, phases)
				}
			}
		})
	}
}
