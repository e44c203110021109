package assign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Described is one member of the group as the coordinator describes it.
type Described struct {
	MemberID, ClientHost string
	Organizations        []string // assigned
	File                 string   // the digest of its organisations file
}

// Describe returns the group's members and the organisations assigned to each, sorted by
// member id: what `doctor` and the tests read to see the spread.
func Describe(ctx context.Context, adm *kadm.Client, group string) ([]Described, error) {
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	g, ok := groups[group]
	if !ok {
		return nil, fmt.Errorf("assign: group %s not described", group)
	}
	if g.Err != nil {
		return nil, fmt.Errorf("assign: group %s: %w", group, g.Err)
	}
	var out []Described
	for _, m := range g.Members {
		d := Described{MemberID: m.MemberID, ClientHost: m.ClientHost}
		if c, ok := m.Join.AsConsumer(); ok && len(c.UserData) > 0 {
			var md metadata
			if err := json.Unmarshal(c.UserData, &md); err == nil {
				d.File = md.File
			}
		}
		if c, ok := m.Assigned.AsConsumer(); ok && len(c.UserData) > 0 {
			var a assignment
			if err := json.Unmarshal(c.UserData, &a); err != nil {
				return nil, fmt.Errorf("assign: group %s: member %s: unreadable assignment: %w", group, m.MemberID, err)
			}
			d.Organizations = a.Organizations
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MemberID < out[j].MemberID })
	return out, nil
}

// FileDigest identifies an organisations file by its organisations' names and versions (of
// their entries), so that replicas which read different files can be told apart.
func FileDigest(versions map[string]string) string {
	h := sha256.New()
	for _, n := range slices.Sorted(maps.Keys(versions)) {
		fmt.Fprintf(h, "%s=%s\n", n, versions[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
