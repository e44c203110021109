package assign

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

func orgs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("org-%02d", i)
	}
	return out
}

// settle plays rounds of rebalancing as the members would: each runs what it is assigned
// (stopping what it is not) and rejoins, until the plan no longer changes. It fails if an
// organisation is ever assigned to a member while another still runs it.
func settle(t *testing.T, claims []Claim) map[string][]string {
	t.Helper()
	var last map[string][]string
	for round := 0; round < 5; round++ {
		plan := Plan(claims)
		running := map[string]string{}
		for _, c := range claims {
			for _, o := range c.Owned {
				running[o] = c.Member
			}
		}
		for m, os := range plan {
			for _, o := range os {
				if r, ok := running[o]; ok && r != m {
					t.Fatalf("round %d: %s assigned to %s while %s still runs it", round, o, m, r)
				}
			}
		}
		if reflect.DeepEqual(plan, last) {
			return plan
		}
		last = plan
		for i := range claims {
			claims[i].Owned = plan[claims[i].Member]
		}
	}
	t.Fatalf("the plan did not settle in 5 rounds: %v", last)
	return nil
}

func spread(plan map[string][]string) (min, max, total int) {
	min = -1
	for _, os := range plan {
		if min < 0 || len(os) < min {
			min = len(os)
		}
		if len(os) > max {
			max = len(os)
		}
		total += len(os)
	}
	return min, max, total
}

func TestPlanSpreadsWithinOne(t *testing.T) {
	for _, tc := range []struct{ orgs, members int }{{12, 3}, {13, 3}, {1, 3}, {5, 2}, {50, 7}, {3, 1}} {
		claims := make([]Claim, tc.members)
		for i := range claims {
			claims[i] = Claim{Member: fmt.Sprintf("m%d", i), Available: orgs(tc.orgs)}
		}
		plan := settle(t, claims)
		min, max, total := spread(plan)
		if total != tc.orgs || max-min > 1 {
			t.Errorf("%d orgs on %d members: %v (min %d, max %d, total %d)", tc.orgs, tc.members, plan, min, max, total)
		}
	}
}

// A member joining takes its share from the others, and only that share moves.
func TestPlanMovesOnlyWhatMust(t *testing.T) {
	claims := []Claim{{Member: "a", Available: orgs(12)}, {Member: "b", Available: orgs(12)}}
	before := settle(t, claims)
	claims = append(claims, Claim{Member: "c", Available: orgs(12)})
	after := settle(t, claims)
	moved := 0
	for _, m := range []string{"a", "b"} {
		kept := set(after[m])
		for _, o := range before[m] {
			if !kept[o] {
				moved++
			}
		}
	}
	if moved != 4 || len(after["c"]) != 4 {
		t.Errorf("12 orgs, a third member: %d moved, c runs %v; want 4 and 4", moved, after["c"])
	}
}

// A member that leaves (or dies) leaves its organisations free: they go to the others at once.
func TestPlanGivesALeaversOrganisationsAtOnce(t *testing.T) {
	claims := []Claim{{Member: "a", Available: orgs(12)}, {Member: "b", Available: orgs(12)}, {Member: "c", Available: orgs(12)}}
	settled := settle(t, claims)
	survivors := []Claim{{Member: "a", Available: orgs(12), Owned: settled["a"]}, {Member: "b", Available: orgs(12), Owned: settled["b"]}}
	plan := Plan(survivors)
	if min, max, total := spread(plan); total != 12 || max-min > 1 {
		t.Errorf("after c left, one round gives %v; want all 12 spread", plan)
	}
}

func TestPlanWithholdsDisputedAndUnlisted(t *testing.T) {
	plan := Plan([]Claim{
		{Member: "a", Available: []string{"x", "y"}, Owned: []string{"x", "y"}},
		{Member: "b", Available: []string{"x"}, Owned: []string{"x"}},           // x claimed twice
		{Member: "c", Available: []string{"y", "z"}, Owned: []string{"z", "w"}}, // w: unlisted by all
	})
	want := map[string][]string{"a": {"y"}, "b": {}, "c": {"z"}}
	if !reflect.DeepEqual(plan, want) {
		t.Errorf("plan = %v, want %v (x disputed: no one; w listed by no one: no one)", plan, want)
	}
	// An organisation is only given to a member whose file lists it.
	plan = Plan([]Claim{{Member: "a", Available: []string{"x"}}, {Member: "b", Available: []string{"x", "y", "z"}}})
	all := append(append([]string(nil), plan["a"]...), plan["b"]...)
	sort.Strings(all)
	if !reflect.DeepEqual(all, []string{"x", "y", "z"}) || contains(plan["a"], "y") || contains(plan["a"], "z") {
		t.Errorf("plan = %v", plan)
	}
	// The claimant of an organisation its own file dropped stops it before another gets it.
	plan = Plan([]Claim{{Member: "a", Available: []string{}, Owned: []string{"x"}}, {Member: "b", Available: []string{"x"}}})
	if len(plan["a"])+len(plan["b"]) != 0 {
		t.Errorf("x still runs on a: plan = %v, want it withheld this round", plan)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
