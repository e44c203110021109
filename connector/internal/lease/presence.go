package lease

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// presenceLeave bounds how long a presence member waits to leave its group at Close: a join
// still in progress must not hold up a shutdown; the member then expires with its session.
const presenceLeave = 2 * time.Second

// Members lists the members of the groups (client id and host of each), sorted; groups that do
// not exist have none.
func Members(ctx context.Context, adm *kadm.Client, groups ...string) ([]string, error) {
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range described.Sorted() {
		if errors.Is(g.Err, kerr.GroupIDNotFound) {
			continue // never joined: no member
		}
		if g.Err != nil {
			return nil, fmt.Errorf("describe group %s: %w", g.Group, g.Err)
		}
		for _, m := range g.Members {
			out = append(out, fmt.Sprintf("%s (group %s, client %s, host %s)", m.MemberID, g.Group, m.ClientID, m.ClientHost))
		}
	}
	sort.Strings(out)
	return out, nil
}
