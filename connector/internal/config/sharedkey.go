package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// SharedKeyVar caps the organisations of the file that share one API key.
//
// Partoo counts its limit (300 requests/minute by default) per organisation, so by default
// every organisation's budget is its own. A provider key that reaches several organisations
// may have a limit Partoo counts for all of them together; PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE
// then splits that limit evenly among the organisations of the file using the key.
//
// The split is static on purpose: every replica computes the same shares from the same file
// and environment, so the organisations of one key stay within its limit wherever they run,
// with no coordination between replicas (and no request that waits for one). The price: an
// idle organisation's share is not lent to the others.
const SharedKeyVar = "PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE"

// validateSharedKeyCap checks PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE itself.
func (c *Config) validateSharedKeyCap() Errors {
	switch n := c.PartooSharedKeyRequestsPerMinute; {
	case n < 0:
		return Errors{{Var: SharedKeyVar, Problem: "must be 0 (off) or a positive number of requests per minute"}}
	case n > 0 && c.PartooOrganizationsFile == "":
		return Errors{{Var: SharedKeyVar, Problem: "only read with " + OrganizationsFileVar +
			": it caps the organisations of the file that share one API key; one organisation's rate is PARTOO_REQUESTS_PER_MINUTE"}}
	}
	return nil
}

// splitSharedKeys groups the organisations of the file by the value of their API key (never
// written anywhere), sets KeySharers and OwnRequestsPerMinute, and, when
// PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE is set, lowers each one's RequestsPerMinute to its
// share of the key's limit.
func (c *Config) splitSharedKeys() Errors {
	groups := map[string][]int{} // key value → indexes in c.Organizations
	var order []string
	for i := range c.Organizations {
		o := &c.Organizations[i]
		o.OwnRequestsPerMinute, o.KeySharers = o.RequestsPerMinute, 1
		if o.APIKey.IsZero() {
			continue // reported by the file's validation
		}
		k := o.APIKey.Reveal()
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	limit := c.PartooSharedKeyRequestsPerMinute
	var tooMany []int // the largest group the limit cannot give 1 request/minute each
	for _, k := range order {
		g := groups[k]
		share := 0
		if limit > 0 {
			share = limit / len(g)
		}
		if limit > 0 && share < 1 && len(g) > len(tooMany) {
			tooMany = g
		}
		for _, i := range g {
			o := &c.Organizations[i]
			o.KeySharers = len(g)
			if share >= 1 && share < o.RequestsPerMinute {
				o.RequestsPerMinute = share
			}
		}
	}
	if tooMany != nil {
		names := make([]string, len(tooMany))
		for j, i := range tooMany {
			names[j] = c.Organizations[i].Name
		}
		return Errors{{Var: SharedKeyVar, Problem: fmt.Sprintf("%d requests/minute cannot be split among the %d organisations that share one API key (%s): each needs at least 1",
			limit, len(tooMany), strings.Join(names, ", "))}}
	}
	return nil
}

// LogSharedKeyCaps logs, once per organisation whose rate PARTOO_SHARED_KEY_REQUESTS_PER_MINUTE
// lowered, its own rate, the rate it runs at and how many organisations share its key (never
// the key).
func (c *Config) LogSharedKeyCaps(log *slog.Logger) {
	for _, o := range c.Organizations {
		if o.RequestsPerMinute < o.OwnRequestsPerMinute {
			log.Info("budget lowered to the organisation's share of its API key's limit ("+SharedKeyVar+")",
				"organization", o.Name, "requests_per_minute", o.OwnRequestsPerMinute, "effective_requests_per_minute", o.RequestsPerMinute,
				"organizations_sharing_key", o.KeySharers, "shared_key_requests_per_minute", c.PartooSharedKeyRequestsPerMinute)
		}
	}
}
