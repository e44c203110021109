// Package status is the typed health report of the connector: the body of GET /status, what
// /readyz and the degraded gauge follow. An engine reports one organisation; the service
// reports its engines (one: that engine's report as it is).
package status

import (
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
)

// Registry names the schema registry and the subjects registered with it.
type Registry struct {
	URL      string            `json:"url"`
	Subjects map[string]uint32 `json:"subjects,omitempty"` // subject → schema id; empty until registered
}

// Report is the body of GET /status.
type Report struct {
	Status  string   `json:"status"` // "ok" or "degraded"
	Reasons []string `json:"reasons,omitempty"`
	Ready   bool     `json:"ready"`
	// Phase is where the organisation is in its life (starting, standby, restoring, running,
	// kafka_down, reloading, stopped), since PhaseSince.
	Phase      string     `json:"phase,omitempty"`
	PhaseSince *time.Time `json:"phase_since,omitempty"`
	Role       string     `json:"role,omitempty"` // with leader election: active or standby
	Uptime     string     `json:"uptime"`
	Time       time.Time  `json:"time"`
	LastWalk   *time.Time `json:"last_successful_walk,omitempty"`

	ConversationsTracked int `json:"conversations_tracked"`
	MessagesTracked      int `json:"messages_tracked"`

	Pass *Pass `json:"pass,omitempty"`

	// SchemaRegistry is set when values use the Confluent wire format.
	SchemaRegistry *Registry `json:"schema_registry,omitempty"`

	Discovery struct {
		FailuresInARow int        `json:"failures_in_a_row"`
		LastError      string     `json:"last_error,omitempty"`
		LastSuccess    *time.Time `json:"last_success,omitempty"`
		ListingOrder   string     `json:"listing_order,omitempty"`
		NoLastMessage  bool       `json:"listing_without_last_message,omitempty"`
	} `json:"discovery"`

	API struct {
		RatePerMinute     float64        `json:"budget_rate_per_minute"`
		LastSuccess       *time.Time     `json:"last_successful_request,omitempty"`
		FailingSince      *time.Time     `json:"failing_since,omitempty"`
		LastError         string         `json:"last_error,omitempty"`
		ErrorsThisPeriod  map[string]int `json:"errors_since_last_summary,omitempty"`
		SkippedThisPeriod map[string]int `json:"items_skipped_since_last_summary,omitempty"`
		// ClockOffset is how far Partoo's clock is ahead of ours (negative: behind), as its
		// Date headers tell, and ClockError the most that estimate can be wrong by; absent
		// until an answer carried a Date.
		ClockOffset *float64 `json:"partoo_clock_offset_seconds,omitempty"`
		ClockError  *float64 `json:"partoo_clock_error_seconds,omitempty"`
	} `json:"api"`

	// WatchingSince is the watch start on Partoo's clock: MessageCreated of messages dated
	// later have snapshot=false. Absent until the state is restored.
	WatchingSince *time.Time `json:"watching_since,omitempty"`

	// Doubts: walks that did not prove themselves whole (count_short, suspect_absence,
	// no_progress: no deletion was inferred from them) and events cut to fit Kafka or refused
	// by it, since the last summary; Last names the latest with its conversation.
	// Organizations holds each organisation's report when a process runs several; the fields
	// above then sum theirs (Reasons prefixed with the organisation's name).
	Organizations map[string]*Report `json:"organizations,omitempty"`

	Doubts struct {
		ThisPeriod map[string]int `json:"since_last_summary,omitempty"`
		Last       string         `json:"last,omitempty"`
	} `json:"doubts"`
}

// Pass is the progress of the reconciliation pass (the first snapshot included).
type Pass struct {
	Phase      string     `json:"phase"` // snapshot, reconciliation or idle
	Number     int64      `json:"number"`
	Done       int        `json:"conversations_done"`
	Total      int        `json:"conversations_total"`
	Started    time.Time  `json:"started"`
	ETASeconds float64    `json:"eta_seconds,omitempty"`
	NextStart  *time.Time `json:"next_start,omitempty"`
}

// etaWarmUp is how long a pass runs, and how many conversations it covers, before its ETA
// follows the pass's own rate: before, the start's listing reads would make it absurd (1,600 s
// for a 5-minute snapshot), so it is the budget's estimate, one request a conversation.
const (
	etaWarmUp     = time.Minute
	etaWarmUpDone = 20
)

// PassOf turns the scheduler's pass into a report with an ETA at the pass's rate so far (nil
// before the first pass).
func PassOf(p schedule.Pass, now time.Time, ratePerMinute float64) *Pass {
	if p.Number == 0 {
		return nil
	}
	r := &Pass{Phase: p.Phase, Number: p.Number, Done: p.Done, Total: p.Total, Started: p.Started}
	if p.Phase != schedule.PhaseIdle && p.Total > p.Done {
		elapsed := now.Sub(p.Started)
		switch {
		case (elapsed < etaWarmUp || p.Done < etaWarmUpDone) && ratePerMinute > 0:
			r.ETASeconds = float64(p.Total-p.Done) / (ratePerMinute / 60)
		case p.Done > 0:
			if rate := float64(p.Done) / elapsed.Seconds(); rate > 0 {
				r.ETASeconds = float64(p.Total-p.Done) / rate
			}
		}
	}
	if !p.NextStart.IsZero() && p.NextStart.After(now) {
		t := p.NextStart
		r.NextStart = &t
	}
	return r
}
