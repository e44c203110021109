package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/model"
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// attempts records the Partoo client's attempts and skipped items.
type attempts struct {
	mu      sync.Mutex
	list    []partoo.Attempt
	skipped map[string]int
	limited int
}

func (a *attempts) OnAttempt(x partoo.Attempt) {
	a.mu.Lock()
	a.list = append(a.list, x)
	a.mu.Unlock()
}
func (a *attempts) OnSkipped(s partoo.SkippedItem) {
	a.mu.Lock()
	a.skipped[s.Endpoint+" "+s.Reason]++
	a.mu.Unlock()
}
func (a *attempts) OnRateLimited(time.Duration)  { a.mu.Lock(); a.limited++; a.mu.Unlock() }
func (a *attempts) OnBudgetWaited(time.Duration) {}

// checkPartoo checks the key, the listing and message page orders, the field types of a
// sample, the latency and the budget, with a few requests.
func checkPartoo(ctx context.Context, cfg *config.Config, r reporter) {
	obs := &attempts{skipped: map[string]int{}}
	client, err := partoo.New(partoo.Config{APIURL: cfg.PartooAPIURL, APIKey: cfg.PartooAPIKey,
		RequestsPerMinute: cfg.PartooRequestsPerMinute, BudgetReserve: cfg.PartooBudgetReserve,
		RequestTimeout: 15 * time.Second, RequestAttempts: 1, Hooks: []partoo.Hook{obs}})
	if err != nil {
		r.fail("Partoo API", err.Error(), "")
		return
	}
	page, err := client.ListConversations(ctx, partoo.ListConversationsParams{PerPage: 20, BusinessIDs: cfg.PartooBusinessIDs, MaxAttempts: 1})
	switch {
	case partoo.IsAuth(err):
		where := "PARTOO_API_KEY (or the file of PARTOO_API_KEY_FILE)"
		if cfg.PartooOrganizationsFile != "" {
			where = "the key its api_key_file or api_key_env gives"
		}
		r.fail("Partoo API key", "Partoo refused it: "+err.Error(), "check "+where+" and that the key belongs to the organisation")
		return
	case err != nil:
		r.fail("Partoo API", fmt.Sprintf("GET %s/conversations failed: %v", cfg.PartooAPIURL, err), "check PARTOO_API_URL and the network path to it")
		return
	}
	r.pass("Partoo API key", "accepted by "+cfg.PartooAPIURL)
	checkListingOrder(page.Conversations, r)
	messages := checkMessageOrder(ctx, client, page.Conversations, r)
	checkPartooAnswers(obs, len(page.Conversations), messages, r)
	checkPartooClock(client.Server(), r)
	checkBudget(cfg, obs, r)
}

// checkPartooClock tells how far Partoo's clock is from this host's, as the Date headers of
// the answers so far say: the connector corrects for it, but only where answers carry a Date.
func checkPartooClock(c *partoo.ServerClock, r reporter) {
	off, bound, known := c.Offset()
	if !known {
		r.warn("Partoo's clock", "the answers carry no Date header", "Partoo's dates are then compared with this host's clock: snapshot flags, discovery and lags are only right if both clocks agree")
		return
	}
	dir := "ahead of"
	if off < 0 {
		dir = "behind"
	}
	msg := fmt.Sprintf("%s %s this host's (± %s), from the Date headers; the connector corrects for it",
		off.Abs().Round(time.Millisecond), dir, bound.Round(time.Millisecond))
	if off.Abs() > time.Minute {
		r.warn("Partoo's clock", msg, "check this host's time synchronisation (NTP) if this is unexpected")
		return
	}
	r.pass("Partoo's clock", msg)
}

// checkListingOrder judges the listing order as the scheduler judges it: recency lets discovery
// read page 1 only.
func checkListingOrder(convs []model.Conversation, r reporter) {
	order := schedule.RecencyOf(convs, schedule.DefaultRecencyTolerance)
	switch {
	case len(convs) == 0:
		r.warn("listing order", "the organisation has no conversation yet (or PARTOO_BUSINESS_IDS filters them all)", "nothing to check")
	case order.WithLast == 0:
		r.warn("listing order", "conversations come without last_message", "discovery then relies on rank moves on page 1 and reconciliation (slower); webhooks help")
	case order.Pairs < 3:
		r.pass("listing order", fmt.Sprintf("too few conversations (%d) to tell", len(convs)))
	case order.Ordered(schedule.DefaultRecencyThreshold):
		r.pass("listing order", "by recent activity: discovery reads page 1 only")
	default:
		r.warn("listing order", fmt.Sprintf("not by recent activity (%d of %d pairs descend)", order.Descending, order.Pairs), "discovery must read every page of the listing: slower freshness on large organisations")
	}
}

// checkMessageOrder reads page 1 of the messages of the first conversation with a last
// message, and returns how many messages it holds (0 when there is no such conversation).
func checkMessageOrder(ctx context.Context, client *partoo.Client, convs []model.Conversation, r reporter) int {
	var sample *model.Conversation
	for i := range convs {
		if convs[i].LastMessage != nil {
			sample = &convs[i]
			break
		}
	}
	if sample == nil {
		return 0
	}
	mp, err := client.ListMessages(ctx, sample.ID, 20, "")
	if err != nil {
		r.fail("messages", fmt.Sprintf("GET /messages?conversation_id=%d failed: %v", sample.ID, err), "the key may lack access to messages")
		return 0
	}
	order := "unordered"
	if n := len(mp.Messages); n >= 2 {
		first, last := mp.Messages[0].Date.Time, mp.Messages[n-1].Date.Time
		switch {
		case !first.After(last):
			order = "oldest first"
		case !first.Before(last):
			order = "newest first"
		}
	}
	r.pass("message page order", fmt.Sprintf("%s (%d messages on page 1 of conversation %d)", order, len(mp.Messages), sample.ID))
	return len(mp.Messages)
}

// checkPartooAnswers judges the field types and the latency of the answers so far.
func checkPartooAnswers(obs *attempts, conversations, messages int, r reporter) {
	obs.mu.Lock()
	skipped := obs.skipped
	var durs []time.Duration
	for _, a := range obs.list {
		if a.Err == nil {
			durs = append(durs, a.Duration)
		}
	}
	obs.mu.Unlock()
	if len(skipped) == 0 {
		r.pass("field types", fmt.Sprintf("%d conversations and %d messages decoded as expected", conversations, messages))
	} else {
		var kinds []string
		for k, n := range skipped {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(kinds)
		r.warn("field types", "some items do not decode: "+strings.Join(kinds, ", "), "the connector skips and counts them (partoo_connector_api_items_skipped_total); report the API's change")
	}
	if len(durs) > 0 {
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		med := durs[len(durs)/2]
		msg := fmt.Sprintf("%s median over %d requests", med.Round(time.Millisecond), len(durs))
		if med > 2*time.Second {
			r.warn("latency", msg, "slow answers: the connector keeps more walks in flight (PARTOO_MAX_IN_FLIGHT caps them)")
		} else {
			r.pass("latency", msg)
		}
	}
}

// checkBudget says what rate the connector gets, or that another client uses the budget.
func checkBudget(cfg *config.Config, obs *attempts, r reporter) {
	obs.mu.Lock()
	limited := obs.limited
	obs.mu.Unlock()
	rate := float64(cfg.PartooRequestsPerMinute) * (1 - cfg.PartooBudgetReserve)
	if limited > 0 {
		r.warn("budget", fmt.Sprintf("Partoo answered 429 to the doctor's few requests: another client is using the organisation's %d requests/minute", cfg.PartooRequestsPerMinute),
			"raise PARTOO_BUDGET_RESERVE to leave it room")
	} else {
		rpm, reserve := "PARTOO_REQUESTS_PER_MINUTE", "PARTOO_BUDGET_RESERVE"
		if cfg.PartooOrganizationsFile != "" {
			rpm, reserve = "requests_per_minute", "budget_reserve"
		}
		r.pass("budget", fmt.Sprintf("%.0f requests/minute for the connector (%s %d less %s %.0f %%)",
			rate, rpm, cfg.PartooRequestsPerMinute, reserve, 100*cfg.PartooBudgetReserve))
	}
}
