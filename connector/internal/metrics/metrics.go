// Package metrics defines the connector's Prometheus metrics. Every name starts with
// partoo_connector_; labels have few values (never a conversation id). A nil *Metrics is
// valid and records nothing.
package metrics

import (
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors, registered on one registry.
type Metrics struct {
	Registry *prometheus.Registry

	apiRequests    *prometheus.CounterVec
	apiErrors      *prometheus.CounterVec
	itemsSkipped   *prometheus.CounterVec
	apiDuration    *prometheus.HistogramVec
	budgetWait     prometheus.Counter
	rateLimited    prometheus.Counter
	events         *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	txnFailures    *prometheus.CounterVec
	detectionLag   *prometheus.HistogramVec
	walkDuration   *prometheus.HistogramVec
	ignored        prometheus.Counter
	restoreSeconds prometheus.Gauge
	ready          prometheus.Gauge
	degraded       prometheus.Gauge
	lastWalk       prometheus.Gauge
	webhooks       *prometheus.CounterVec
	picks          *prometheus.CounterVec
	inFlight       prometheus.Gauge
	inFlightLimit  prometheus.Gauge
	batch          prometheus.Histogram
	shares         *prometheus.GaugeVec
	registry       *prometheus.CounterVec
	leader         prometheus.Gauge
	signalErrors   *prometheus.CounterVec
	walkDoubts     *prometheus.CounterVec
	truncated      *prometheus.CounterVec
}

// Reasons a walk is not believed whole (WalkDoubted).
const (
	DoubtCountShort     = "count_short"     // every page read, fewer distinct messages than Partoo's count
	DoubtSuspectAbsence = "suspect_absence" // a complete walk missing most or all recorded messages, no count to vouch for it
	DoubtNoProgress     = "no_progress"     // the pagination repeated itself or ran past what its count allows
)

// Reasons a record is cut down to fit Kafka (Truncated).
const (
	TruncatedContent = "content" // a message's content was cut so its event fits max.message.bytes
	TruncatedDropped = "dropped" // the event could not fit at all and was left out (logged as an ERROR)
)

// Gauges are read at scrape time.
type Gauges struct {
	Conversations func() float64
	Messages      func() float64
	BudgetTokens  func() float64
	// BudgetRate is the rate the budget lets requests through at, per minute (after the
	// reserve, lowered while Partoo answers 429).
	BudgetRate func() float64
	// PassDone, PassTotal and PassETA describe the reconciliation (or first snapshot) pass.
	PassDone, PassTotal, PassETA func() float64
	// PassPhase is the current pass's phase: snapshot, reconciliation or idle ("" before the
	// first pass).
	PassPhase func() string
	// HangingClosed counts the partitions on which the connector closed a failed transaction
	// the broker had left open (a counter).
	HangingClosed func() float64
}

// New creates and registers every metric on a new registry, with Go and process collectors.
func New(g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_requests_total",
			Help: "Partoo API requests (attempts) by endpoint, HTTP status (0: no answer) and result (ok, or error: a 2xx body that could not be used is an error).",
		}, []string{"endpoint", "status", "result"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_errors_total",
			Help: "Failed Partoo API attempts by endpoint and kind (unauthorized, forbidden, not_found, rate_limited, 4xx, 5xx, timeout, connection, non_json, decode, ...).",
		}, []string{"endpoint", "kind"}),
		itemsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_items_skipped_total",
			Help: "Items of Partoo pages that could not be decoded and were skipped, by endpoint and reason (counted at every walk that meets them).",
		}, []string{"endpoint", "reason"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "partoo_connector_api_request_duration_seconds",
			Help:    "Duration of Partoo API requests.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		budgetWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "partoo_connector_api_budget_wait_seconds_total",
			Help: "Time requests spent waiting for the requests-per-minute budget.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "partoo_connector_api_rate_limited_total",
			Help: "429 answers received from Partoo (should stay 0).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_events_total",
			Help: "Events committed to Kafka, by type.",
		}, []string{"type"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_transactions_total",
			Help: "Kafka transactions by outcome (committed, aborted).",
		}, []string{"outcome"}),
		txnFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_transaction_failures_total",
			Help: "Aborted Kafka transactions by reason (timeout, commit_uncertain, hanging_transaction, transaction_timed_out, unknown_topic, record_refused, fenced, not_authorized, other); record_refused: Kafka refused a conversation's records (the rest of the batch is committed again without it at once).",
		}, []string{"reason"}),
		detectionLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partoo_connector_detection_lag_seconds",
			Help: "From a change to the commit of its event: from the message's date for MessageCreated; " +
				"for StatusChanged and MessageDeleted from the previous walk that did not see it (an upper bound). Snapshots excluded.",
			Buckets: []float64{.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"type"}),
		walkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "partoo_connector_walk_duration_seconds",
			Help:    "Time to walk every page of one conversation's messages, by result (complete, partial, skipped).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"result"}),
		ignored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "partoo_connector_messages_ignored_total",
			Help: "Walked messages ignored for an unknown sender_type (counted at every walk).",
		}),
		restoreSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_state_restore_seconds",
			Help: "Duration of the last state restore.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_ready",
			Help: "1 once the state is restored and the connector is walking.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_degraded",
			Help: "1 while /status says degraded (no successful walk, discovery or request for too long).",
		}),
		lastWalk: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_last_successful_walk_timestamp_seconds",
			Help: "Unix time of the last walk that read every page and committed.",
		}),
		picks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_scheduler_picks_total",
			Help: "Conversations the scheduler picked for a walk, by reason (hint, discovery, sending, deletable, retry, reconcile).",
		}, []string{"reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_walks_in_flight",
			Help: "Walks in flight (being read or waiting for their commit).",
		}),
		inFlightLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_walks_in_flight_limit",
			Help: "How many walks the connector keeps in flight now: about the budget's rate times the observed latency, at most PARTOO_MAX_IN_FLIGHT.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "partoo_connector_commit_batch_conversations",
			Help:    "Conversations committed per Kafka transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 100},
		}),
		shares: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_budget_share",
			Help: "Shares of the budget's rate by kind of work: reconcile, the least reconciliation gets however busy the budget (SCHEDULER_RECONCILE_SHARE); hints, the most webhook hints take ahead of other work.",
		}, []string{"work"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "partoo_connector_lease_held",
			Help: "With KAFKA_LEADER_ELECTION: 1 while this instance is the active writer, 0 while it is a standby.",
		}),
		registry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_schema_registry_requests_total",
			Help: "Schema registrations at start, by result (registered; unavailable: no answer or a 5xx, retried; refused: the registry said no, the connector stops).",
		}, []string{"result"}),
		signalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_signal_errors_total",
			Help: "Failures on the signal topic (resnapshot requests), by operation: fetch_offset (reading where to resume; retried), read, commit (marking a request done; retried). None loses a request: it waits or is carried out again.",
		}, []string{"op"}),
		walkDoubts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_walks_doubted_total",
			Help: "Walks that did not prove themselves whole, by reason: count_short (fewer messages than Partoo's count), suspect_absence (most or all recorded messages missing with no count to vouch for it), no_progress (the pagination repeated itself or outran its count). No deletion is inferred from them.",
		}, []string{"reason"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_records_truncated_total",
			Help: "Events cut down to fit the events topic's max.message.bytes, by what: content (published with the content cut, flagged in the event: content_truncated_from) or dropped (could not fit at all; left out, logged as an ERROR).",
		}, []string{"what"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_webhooks_total",
			Help: "Partoo webhooks received, by result (accepted, duplicate, dropped, gone, filtered, ignored, unauthorized, malformed, too_large, busy).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.apiRequests, m.apiErrors, m.itemsSkipped, m.apiDuration, m.budgetWait, m.rateLimited, m.events,
		m.transactions, m.txnFailures, m.detectionLag, m.walkDuration, m.ignored, m.restoreSeconds, m.ready, m.degraded, m.lastWalk, m.webhooks,
		m.picks, m.inFlight, m.inFlightLimit, m.batch, m.shares, m.registry, m.leader, m.signalErrors,
		m.walkDoubts, m.truncated)
	for _, r := range []string{DoubtCountShort, DoubtSuspectAbsence, DoubtNoProgress} {
		m.walkDoubts.WithLabelValues(r)
	}
	m.truncated.WithLabelValues(TruncatedContent)
	m.truncated.WithLabelValues(TruncatedDropped)
	gauge := func(name, help string, f func() float64) {
		if f != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
		}
	}
	gauge("partoo_connector_conversations_tracked", "Conversations in the state.", g.Conversations)
	gauge("partoo_connector_messages_tracked", "Messages in the state.", g.Messages)
	gauge("partoo_connector_api_budget_available", "Requests that could start now without waiting.", g.BudgetTokens)
	gauge("partoo_connector_api_budget_rate_per_minute", "The rate the budget lets requests through at: the limit less PARTOO_BUDGET_RESERVE, lowered while Partoo answers 429.", g.BudgetRate)
	gauge("partoo_connector_pass_conversations_done", "Conversations walked so far by the current reconciliation (or first snapshot) pass.", g.PassDone)
	gauge("partoo_connector_pass_conversations_total", "Conversations the current reconciliation (or first snapshot) pass covers, as far as known.", g.PassTotal)
	gauge("partoo_connector_pass_eta_seconds", "Estimated time to the end of the current pass at its current rate (0 when idle).", g.PassETA)
	if g.PassPhase != nil {
		for _, phase := range []string{"snapshot", "reconciliation", "idle"} {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "partoo_connector_pass_phase",
				Help:        "1 for the phase the current pass is in: snapshot (the first pass over conversations the state did not know), reconciliation or idle; 0 for the others.",
				ConstLabels: prometheus.Labels{"phase": phase}}, func() float64 {
				if g.PassPhase() == phase {
					return 1
				}
				return 0
			}))
		}
	}
	if g.HangingClosed != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "partoo_connector_hanging_transactions_closed_total",
			Help: "Partitions on which a failed Kafka transaction was still open after the broker ended it (its coordinator skipped the marker, e.g. after a stall) and the connector wrote the marker itself before committing again."},
			g.HangingClosed))
	}
	for _, t := range []string{"MessageCreated", "StatusChanged", "MessageDeleted"} {
		m.events.WithLabelValues(t)
	}
	for _, o := range []string{"committed", "aborted"} {
		m.transactions.WithLabelValues(o)
	}
	for _, r := range []string{"accepted", "duplicate", "dropped", "gone", "filtered", "checking", "outside", "ignored", "unauthorized", "malformed", "too_large", "busy"} {
		m.webhooks.WithLabelValues(r)
	}
	// Every labelled counter has its known series from the start, at 0: a rate() or an alert
	// on one works before it first fires.
	for _, r := range []string{"timeout", "commit_uncertain", "hanging_transaction", "transaction_timed_out", "unknown_topic", "record_refused", "fenced", "not_authorized", "other"} {
		m.txnFailures.WithLabelValues(r)
	}
	for _, op := range []string{"fetch_offset", "read", "commit"} {
		m.signalErrors.WithLabelValues(op)
	}
	for _, r := range []string{"registered", "unavailable", "refused"} {
		m.registry.WithLabelValues(r)
	}
	for _, e := range []string{partoo.EndpointConversations, partoo.EndpointConversation, partoo.EndpointMessages} {
		for _, k := range []string{partoo.KindUnauthorized, partoo.KindForbidden, partoo.KindNotFound, partoo.KindRateLimited, partoo.Kind4xx,
			partoo.Kind5xx, partoo.KindTimeout, partoo.KindConnection, partoo.KindNonJSON, partoo.KindDecode, partoo.KindPagination} {
			m.apiErrors.WithLabelValues(e, k)
		}
	}
	for _, r := range []string{partoo.SkipNotObject, partoo.SkipBadID, partoo.SkipBadDate, partoo.SkipBadConversation} {
		m.itemsSkipped.WithLabelValues(partoo.EndpointMessages, r)
	}
	for _, r := range []string{partoo.SkipNotObject, partoo.SkipBadID, partoo.SkipBadLastMessage} {
		m.itemsSkipped.WithLabelValues(partoo.EndpointConversations, r)
	}
	return m
}

// Attempt implements partoo.Observer.
func (m *Metrics) Attempt(a partoo.Attempt) {
	if m == nil {
		return
	}
	result := "ok"
	if a.Err != nil {
		result = "error"
		m.apiErrors.WithLabelValues(a.Endpoint, partoo.ErrorKind(a.Err)).Inc()
	}
	m.apiRequests.WithLabelValues(a.Endpoint, strconv.Itoa(a.Status), result).Inc()
	m.apiDuration.WithLabelValues(a.Endpoint).Observe(a.Duration.Seconds())
}

// Skipped implements partoo.Observer.
func (m *Metrics) Skipped(s partoo.SkippedItem) {
	if m != nil {
		m.itemsSkipped.WithLabelValues(s.Endpoint, s.Reason).Inc()
	}
}

// RateLimited implements partoo.Observer.
func (m *Metrics) RateLimited(time.Duration) {
	if m != nil {
		m.rateLimited.Inc()
	}
}

// BudgetWaited implements partoo.Observer.
func (m *Metrics) BudgetWaited(d time.Duration) {
	if m != nil && d > 0 {
		m.budgetWait.Add(d.Seconds())
	}
}

// Walked records one walk.
func (m *Metrics) Walked(result string, d time.Duration, ignored int) {
	if m == nil {
		return
	}
	m.walkDuration.WithLabelValues(result).Observe(d.Seconds())
	m.ignored.Add(float64(ignored))
}

// Committed records a committed transaction's events; lag(i) is the detection lag of event i,
// negative when it does not apply (snapshots).
func (m *Metrics) Committed(types []string, lags []time.Duration) {
	if m == nil {
		return
	}
	m.transactions.WithLabelValues("committed").Inc()
	for i, t := range types {
		m.events.WithLabelValues(t).Inc()
		if lags[i] >= 0 {
			m.detectionLag.WithLabelValues(t).Observe(lags[i].Seconds())
		}
	}
}

// Aborted records an aborted transaction and why.
func (m *Metrics) Aborted(reason string) {
	if m != nil {
		m.transactions.WithLabelValues("aborted").Inc()
		m.txnFailures.WithLabelValues(reason).Inc()
	}
}

// Restored records the state restore.
func (m *Metrics) Restored(d time.Duration) {
	if m != nil {
		m.restoreSeconds.Set(d.Seconds())
	}
}

// SetReady records readiness.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// SetDegraded records the health status.
func (m *Metrics) SetDegraded(degraded bool) {
	if m == nil {
		return
	}
	if degraded {
		m.degraded.Set(1)
	} else {
		m.degraded.Set(0)
	}
}

// WalkSucceeded records the time of a successful walk.
func (m *Metrics) WalkSucceeded(at time.Time) {
	if m != nil {
		m.lastWalk.Set(float64(at.UnixNano()) / 1e9)
	}
}

// Picked records a scheduler pick.
func (m *Metrics) Picked(reason string) {
	if m != nil {
		m.picks.WithLabelValues(reason).Inc()
	}
}

// InFlight records the walks in flight and the current limit.
func (m *Metrics) InFlight(walks, limit int) {
	if m != nil {
		m.inFlight.Set(float64(walks))
		m.inFlightLimit.Set(float64(limit))
	}
}

// Shares records the scheduler's budget shares.
func (m *Metrics) Shares(reconcile, hints float64) {
	if m != nil {
		m.shares.WithLabelValues("reconcile").Set(reconcile)
		m.shares.WithLabelValues("hints").Set(hints)
	}
}

// Batch records the size of a committed batch.
func (m *Metrics) Batch(conversations int) {
	if m != nil {
		m.batch.Observe(float64(conversations))
	}
}

// Webhook records a received webhook.
func (m *Metrics) Webhook(result string) {
	if m != nil {
		m.webhooks.WithLabelValues(result).Inc()
	}
}

// SchemaRegistration records one attempt to register the event schemas: registered, unavailable or
// refused.
func (m *Metrics) SchemaRegistration(result string) {
	if m != nil {
		m.registry.WithLabelValues(result).Inc()
	}
}

// SetLeader records whether this instance holds the lease.
func (m *Metrics) SetLeader(held bool) {
	if m == nil {
		return
	}
	v := 0.0
	if held {
		v = 1
	}
	m.leader.Set(v)
}

// SignalError counts a failure on the signal topic (op: fetch_offset, read, commit).
func (m *Metrics) SignalError(op string) {
	if m == nil {
		return
	}
	m.signalErrors.WithLabelValues(op).Inc()
}

// WalkDoubted counts a walk that did not prove itself whole (reason: a Doubt* constant).
func (m *Metrics) WalkDoubted(reason string) {
	if m == nil {
		return
	}
	m.walkDoubts.WithLabelValues(reason).Inc()
}

// Truncated counts an event cut down to fit Kafka (what: a Truncated* constant).
func (m *Metrics) Truncated(what string) {
	if m == nil {
		return
	}
	m.truncated.WithLabelValues(what).Inc()
}
