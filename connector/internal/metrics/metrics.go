// Package metrics defines the connector's Prometheus metrics. Every name starts with
// partoo_connector_; labels have few values (never a conversation id). A nil *Metrics is
// valid and records nothing.
package metrics

import (
	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics records one organisation's figures (its organization label) on a registry shared
// by every organisation of the process: New makes the registry and the view of the
// single-organisation run (organization=""); For adds another organisation's view.
type Metrics struct {
	Registry       *prometheus.Registry
	vecs           *vecs
	org            string
	apiRequests    *prometheus.CounterVec
	apiErrors      *prometheus.CounterVec
	itemsSkipped   *prometheus.CounterVec
	itemsRepaired  *prometheus.CounterVec
	apiDuration    prometheus.ObserverVec
	budgetWait     prometheus.Counter
	rateLimited    prometheus.Counter
	events         *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	txnFailures    *prometheus.CounterVec
	detectionLag   prometheus.ObserverVec
	walkDuration   prometheus.ObserverVec
	ignored        prometheus.Counter
	restoreSeconds prometheus.Gauge
	ready          prometheus.Gauge
	running        prometheus.Gauge
	stopped        *prometheus.GaugeVec
	degraded       prometheus.Gauge
	lastWalk       prometheus.Gauge
	picks          *prometheus.CounterVec
	inFlight       prometheus.Gauge
	inFlightLimit  prometheus.Gauge
	batch          prometheus.Observer
	shares         *prometheus.GaugeVec
	leader         prometheus.Gauge
	otherWriter    prometheus.Gauge
	registry       *prometheus.CounterVec
	signalErrors   *prometheus.CounterVec
	walkDoubts     *prometheus.CounterVec
	truncated      *prometheus.CounterVec
	webhooks       *prometheus.CounterVec
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

// vecs are the collectors of every organisation, registered once on the shared registry.
type vecs struct {
	apiRequests    *prometheus.CounterVec
	apiErrors      *prometheus.CounterVec
	itemsSkipped   *prometheus.CounterVec
	itemsRepaired  *prometheus.CounterVec
	apiDuration    *prometheus.HistogramVec
	budgetWait     *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	events         *prometheus.CounterVec
	transactions   *prometheus.CounterVec
	txnFailures    *prometheus.CounterVec
	detectionLag   *prometheus.HistogramVec
	walkDuration   *prometheus.HistogramVec
	ignored        *prometheus.CounterVec
	restoreSeconds *prometheus.GaugeVec
	ready          *prometheus.GaugeVec
	running        *prometheus.GaugeVec
	stopped        *prometheus.GaugeVec
	degraded       *prometheus.GaugeVec
	lastWalk       *prometheus.GaugeVec
	picks          *prometheus.CounterVec
	inFlight       *prometheus.GaugeVec
	inFlightLimit  *prometheus.GaugeVec
	batch          *prometheus.HistogramVec
	shares         *prometheus.GaugeVec
	leader         *prometheus.GaugeVec
	otherWriter    *prometheus.GaugeVec
	registry       *prometheus.CounterVec
	signalErrors   *prometheus.CounterVec
	walkDoubts     *prometheus.CounterVec
	truncated      *prometheus.CounterVec
	webhooks       *prometheus.CounterVec
}

// orgLabel names the organisation an engine serves ("" for the single-organisation run).
const orgLabel = "organization"

// newVecs declares every collector (a table: one entry a metric).
func newVecs() *vecs {
	return &vecs{
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_requests_total",
			Help: "Partoo API requests (attempts) by endpoint, HTTP status (0: no answer) and result (ok, or error: a 2xx body that could not be used is an error).",
		}, []string{"endpoint", "status", "result", orgLabel}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_errors_total",
			Help: "Failed Partoo API attempts by endpoint and kind (unauthorized, forbidden, not_found, rate_limited, 4xx, 5xx, timeout, connection, non_json, decode, ...).",
		}, []string{"endpoint", "kind", orgLabel}),
		itemsRepaired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_items_repaired_total",
			Help: "Items Partoo returned that were published with a field repaired, by endpoint, field and reason (invalid_utf8: bytes that are not UTF-8 replaced by U+FFFD); each message is also named once in the log (WARN).",
		}, []string{orgLabel, "endpoint", "field", "reason"}),
		itemsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_items_skipped_total",
			Help: "Items of Partoo pages that could not be decoded and were skipped, by endpoint and reason (counted at every walk that meets them).",
		}, []string{"endpoint", "reason", orgLabel}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "partoo_connector_api_request_duration_seconds",
			Help:    "Duration of Partoo API requests.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint", orgLabel}),
		budgetWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_budget_wait_seconds_total",
			Help: "Time requests spent waiting for the requests-per-minute budget.",
		}, []string{orgLabel}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_api_rate_limited_total",
			Help: "429 answers received from Partoo (should stay 0).",
		}, []string{orgLabel}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_events_total",
			Help: "Events committed to Kafka, by type.",
		}, []string{"type", orgLabel}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_transactions_total",
			Help: "Kafka transactions by outcome (committed, aborted).",
		}, []string{"outcome", orgLabel}),
		txnFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_transaction_failures_total",
			Help: "Aborted Kafka transactions by reason (timeout, commit_uncertain, hanging_transaction, transaction_timed_out, producer_id_expired, unknown_topic, record_refused, fenced, not_authorized, other); producer_id_expired: Kafka forgot an idle producer id (registered again, not a fence); record_refused: Kafka refused a conversation's records (the rest of the batch is committed again without it at once).",
		}, []string{"reason", orgLabel}),
		detectionLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "partoo_connector_detection_lag_seconds",
			Help: "From a change to the commit of its event: from the message's date for MessageCreated; " +
				"for StatusChanged and MessageDeleted from the previous walk that did not see it (an upper bound). Snapshots excluded.",
			Buckets: []float64{.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"type", orgLabel}),
		walkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "partoo_connector_walk_duration_seconds",
			Help:    "Time to walk every page of one conversation's messages, by result (complete, partial, skipped).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"result", orgLabel}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_messages_ignored_total",
			Help: "Walked messages ignored for an unknown sender_type (counted at every walk).",
		}, []string{orgLabel}),
		restoreSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_state_restore_seconds",
			Help: "Duration of the last state restore.",
		}, []string{orgLabel}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_ready",
			Help: "1 once the state is restored and the connector is walking.",
		}, []string{orgLabel}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_organization_running",
			Help: "1 while this process runs the organisation's engine: with several replicas sharing the organisations, on exactly one of them.",
		}, []string{orgLabel}),
		stopped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_organization_stopped",
			Help: "1 while the organisation's engine is stopped on an error and waits to start again after a pause, by reason: fenced (another producer took its transactional id, or its lease), not_authorized, or other; 0 otherwise. Other organisations of the process go on.",
		}, []string{orgLabel, "reason"}),
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_degraded",
			Help: "1 while /status says degraded (no successful walk, discovery or request for too long).",
		}, []string{orgLabel}),
		lastWalk: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_last_successful_walk_timestamp_seconds",
			Help: "Unix time of the last walk that read every page and committed.",
		}, []string{orgLabel}),
		picks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_scheduler_picks_total",
			Help: "Conversations the scheduler picked for a walk, by reason (hint, discovery, sending, deletable, retry, reconcile).",
		}, []string{"reason", orgLabel}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_walks_in_flight",
			Help: "Walks in flight (being read or waiting for their commit).",
		}, []string{orgLabel}),
		inFlightLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_walks_in_flight_limit",
			Help: "How many walks the connector keeps in flight now: about the budget's rate times the observed latency, at most PARTOO_MAX_IN_FLIGHT.",
		}, []string{orgLabel}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "partoo_connector_commit_batch_conversations",
			Help:    "Conversations committed per Kafka transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 100},
		}, []string{orgLabel}),
		shares: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_budget_share",
			Help: "Shares of the budget's rate by kind of work: reconcile, the least reconciliation gets however busy the budget (SCHEDULER_RECONCILE_SHARE); hints, the most webhook hints take ahead of other work.",
		}, []string{"work", orgLabel}),
		otherWriter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_state_other_writer",
			Help: "1 while another transactional producer (not this connector's) has written to the organisation's state topic since this connector started, in the last 5 minutes: two deployments of one organisation under different KAFKA_TRANSACTIONAL_IDs, each publishing every change.",
		}, []string{orgLabel}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "partoo_connector_lease_held",
			Help: "With KAFKA_LEADER_ELECTION: 1 while this instance is the active writer, 0 while it is a standby.",
		}, []string{orgLabel}),
		registry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_schema_registry_requests_total",
			Help: "Schema registrations at start, by result (registered; unavailable: no answer or a 5xx, retried; refused: the registry said no, the connector stops).",
		}, []string{"result", orgLabel}),
		signalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_signal_errors_total",
			Help: "Failures on the signal topic (resnapshot requests), by operation: fetch_offset (reading where to resume; retried), read, commit (marking a request done; retried). None loses a request: it waits or is carried out again.",
		}, []string{"op", orgLabel}),
		walkDoubts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_walks_doubted_total",
			Help: "Walks that did not prove themselves whole, by reason: count_short (fewer messages than Partoo's count), suspect_absence (most or all recorded messages missing with no count to vouch for it), no_progress (the pagination repeated itself or outran its count). No deletion is inferred from them.",
		}, []string{"reason", orgLabel}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_records_truncated_total",
			Help: "Events cut down to fit the events topic's max.message.bytes, by what: content (published with the content cut, flagged in the event: content_truncated_from) or dropped (could not fit at all; left out, logged as an ERROR).",
		}, []string{"what", orgLabel}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "partoo_connector_webhooks_total",
			Help: "Partoo webhooks received, by result (accepted, duplicate, dropped, gone, filtered, ignored, unauthorized, malformed, too_large, busy).",
		}, []string{"result"}),
	}
}

func (v *vecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.apiRequests, v.apiErrors, v.itemsSkipped, v.itemsRepaired, v.apiDuration, v.budgetWait, v.rateLimited, v.events, v.transactions, v.txnFailures, v.detectionLag, v.walkDuration, v.ignored, v.restoreSeconds, v.ready, v.running, v.stopped, v.degraded, v.lastWalk, v.picks, v.inFlight, v.inFlightLimit, v.batch, v.shares, v.leader, v.otherWriter, v.registry, v.signalErrors, v.walkDoubts, v.truncated, v.webhooks}
}

// view returns the figures of one organisation: every collector with its organization label
// set.
func (v *vecs) view(reg *prometheus.Registry, org string) *Metrics {
	l := prometheus.Labels{orgLabel: org}
	return &Metrics{Registry: reg, vecs: v, org: org,
		apiRequests:    v.apiRequests.MustCurryWith(l),
		apiErrors:      v.apiErrors.MustCurryWith(l),
		itemsSkipped:   v.itemsSkipped.MustCurryWith(l),
		itemsRepaired:  v.itemsRepaired.MustCurryWith(l),
		apiDuration:    v.apiDuration.MustCurryWith(l),
		budgetWait:     v.budgetWait.WithLabelValues(org),
		rateLimited:    v.rateLimited.WithLabelValues(org),
		events:         v.events.MustCurryWith(l),
		transactions:   v.transactions.MustCurryWith(l),
		txnFailures:    v.txnFailures.MustCurryWith(l),
		detectionLag:   v.detectionLag.MustCurryWith(l),
		walkDuration:   v.walkDuration.MustCurryWith(l),
		ignored:        v.ignored.WithLabelValues(org),
		restoreSeconds: v.restoreSeconds.WithLabelValues(org),
		ready:          v.ready.WithLabelValues(org),
		running:        v.running.WithLabelValues(org),
		stopped:        v.stopped.MustCurryWith(l),
		degraded:       v.degraded.WithLabelValues(org),
		lastWalk:       v.lastWalk.WithLabelValues(org),
		picks:          v.picks.MustCurryWith(l),
		inFlight:       v.inFlight.WithLabelValues(org),
		inFlightLimit:  v.inFlightLimit.WithLabelValues(org),
		batch:          v.batch.WithLabelValues(org),
		shares:         v.shares.MustCurryWith(l),
		leader:         v.leader.WithLabelValues(org),
		otherWriter:    v.otherWriter.WithLabelValues(org),
		registry:       v.registry.MustCurryWith(l),
		signalErrors:   v.signalErrors.MustCurryWith(l),
		walkDoubts:     v.walkDoubts.MustCurryWith(l),
		truncated:      v.truncated.MustCurryWith(l),
		webhooks:       v.webhooks,
	}
}

// New creates a registry with the Go and process collectors and every metric, and returns the
// view of the single-organisation run (organization=""), with its gauges g read at scrape time.
func New(g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	v := newVecs()
	reg.MustRegister(v.collectors()...)
	m := v.view(reg, "")
	m.start(g)
	return m
}

// For returns the view of another organisation on the same registry, with its gauges g; its
// series carry organization=org. Each org is asked for once.
func (m *Metrics) For(org string, g Gauges) *Metrics {
	if m == nil {
		return nil
	}
	o := m.vecs.view(m.Registry, org)
	o.start(g)
	return o
}

// start exports every known series of this organisation at 0 — a rate() or an alert on one
// works before it first fires — and registers its gauges.
func (m *Metrics) start(g Gauges) {
	for _, r := range []string{DoubtCountShort, DoubtSuspectAbsence, DoubtNoProgress} {
		m.walkDoubts.WithLabelValues(r)
	}
	m.truncated.WithLabelValues(TruncatedContent)
	m.truncated.WithLabelValues(TruncatedDropped)
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
	for _, r := range []string{"timeout", "commit_uncertain", "hanging_transaction", "transaction_timed_out", "producer_id_expired", "unknown_topic", "record_refused", "fenced", "not_authorized", "other"} {
		m.txnFailures.WithLabelValues(r)
	}
	for _, r := range StoppedReasons {
		m.stopped.WithLabelValues(r)
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
	m.itemsRepaired.WithLabelValues(partoo.EndpointMessages, "content", partoo.RepairInvalidUTF8)
	for _, r := range []string{partoo.SkipNotObject, partoo.SkipBadID, partoo.SkipBadLastMessage} {
		m.itemsSkipped.WithLabelValues(partoo.EndpointConversations, r)
	}
	m.gauges(g)
}

// AddGauges registers the gauges of New's view (organization=""), read at scrape time, when
// they could not be given to New. Once.
func (m *Metrics) AddGauges(g Gauges) {
	if m != nil {
		m.gauges(g)
	}
}

// gauges registers the gauges read at scrape time, labelled with the organisation.
func (m *Metrics) gauges(g Gauges) {
	reg, org := m.Registry, prometheus.Labels{orgLabel: m.org}
	gauge := func(name, help string, f func() float64) {
		if f != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: org}, f))
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
				ConstLabels: prometheus.Labels{"phase": phase, orgLabel: m.org}}, func() float64 {
				if g.PassPhase() == phase {
					return 1
				}
				return 0
			}))
		}
	}
	if g.HangingClosed != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "partoo_connector_hanging_transactions_closed_total", ConstLabels: org,
			Help: "Partitions on which a failed Kafka transaction was still open after the broker ended it (its coordinator skipped the marker, e.g. after a stall) and the connector wrote the marker itself before committing again."},
			g.HangingClosed))
	}
}
