package assign

import (
	"sort"
)

// Claim is what one member says when it joins: the organisations its file lists (it can run
// only those) and those it runs now (engines still stopping included).
type Claim struct {
	Member    string
	Available []string
	Owned     []string
}

// Plan is the leader's assignment: the organisations each member runs after this rebalance.
//
// It is sticky and cooperative, as Kafka's cooperative-sticky assignor is for partitions:
//   - an organisation stays with the one member that runs it, unless that member has more than
//     its share;
//   - an organisation that must move is given to no one in this round: its owner stops it and
//     rejoins without it, and the next round gives it to another member (two rounds, so no two
//     members ever run it at once through the group);
//   - an organisation two members claim (after a session loss), or one member claims that its
//     file no longer lists, is given to no one: its claimants stop it, and the next round
//     gives it to a member that lists it;
//   - a free organisation goes to the least loaded member that lists it.
//
// When every member lists every organisation, the counts end within one of each other once
// the moves settled (the second round).
func Plan(claims []Claim) map[string][]string {
	members := make([]string, 0, len(claims))
	available := map[string]map[string]bool{}
	claimants := map[string][]string{}
	var universe []string
	seen := map[string]bool{}
	for _, c := range claims {
		members = append(members, c.Member)
		available[c.Member] = set(c.Available)
		for _, o := range c.Available {
			if !seen[o] {
				seen[o] = true
				universe = append(universe, o)
			}
		}
		for _, o := range dedupe(c.Owned) {
			claimants[o] = append(claimants[o], c.Member)
		}
	}
	sort.Strings(members)
	sort.Strings(universe)
	out := make(map[string][]string, len(members))
	for _, m := range members {
		out[m] = []string{}
	}
	if len(members) == 0 {
		return out
	}

	// Keep what exactly one member runs and still lists. Anything else that is claimed (by two
	// members, or by one whose file no longer lists it) is withheld until its claimants stopped.
	for _, o := range universe {
		if cs := claimants[o]; len(cs) == 1 && available[cs[0]][o] {
			out[cs[0]] = append(out[cs[0]], o)
		}
	}

	// Trim members above their share; what they give up moves in the next round.
	ceil, extra := shares(len(universe), len(members))
	byLoad := append([]string(nil), members...)
	sort.SliceStable(byLoad, func(i, j int) bool { return len(out[byLoad[i]]) > len(out[byLoad[j]]) })
	for i, m := range byLoad {
		limit := ceil
		if i >= extra && extra > 0 {
			limit = ceil - 1
		}
		if kept := out[m]; len(kept) > limit {
			sort.Strings(kept)
			out[m] = kept[:limit] // the rest stays claimed, so no one gets it this round
		}
	}

	// Give every free organisation to the least loaded member that lists it.
	for _, o := range universe {
		if len(claimants[o]) > 0 {
			continue // kept, or withheld
		}
		best := ""
		for _, m := range members {
			if available[m][o] && (best == "" || len(out[m]) < len(out[best])) {
				best = m
			}
		}
		if best != "" {
			out[best] = append(out[best], o)
		}
	}
	for _, m := range members {
		sort.Strings(out[m])
	}
	return out
}

// shares returns the most organisations a member may run (ceil of n/m) and how many members
// may run that many (the others run one fewer); extra is 0 when n divides evenly.
func shares(n, m int) (ceil, extra int) {
	ceil = (n + m - 1) / m
	extra = n % m
	return ceil, extra
}

func set(names []string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

func dedupe(names []string) []string {
	s := set(names)
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	return out
}
