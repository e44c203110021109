package metrics

import (
	"strconv"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/partoo"
)

// OnAttempt implements partoo.HookAttempt.
func (m *Metrics) OnAttempt(a partoo.Attempt) {
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

// OnSkipped implements partoo.HookSkipped.
func (m *Metrics) OnSkipped(s partoo.SkippedItem) {
	if m != nil {
		m.itemsSkipped.WithLabelValues(s.Endpoint, s.Reason).Inc()
	}
}

// OnRepaired implements partoo.HookRepaired.
func (m *Metrics) OnRepaired(r partoo.RepairedItem) {
	if m != nil {
		m.itemsRepaired.WithLabelValues(r.Endpoint, r.Field, r.Reason).Inc()
	}
}

// OnRateLimited implements partoo.HookRateLimited.
func (m *Metrics) OnRateLimited(time.Duration) {
	if m != nil {
		m.rateLimited.Inc()
	}
}

// OnBudgetWaited implements partoo.HookBudgetWaited.
func (m *Metrics) OnBudgetWaited(d time.Duration) {
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

// StoppedReasons are the reasons of partoo_connector_organization_stopped.
var StoppedReasons = []string{"fenced", "not_authorized", "other"}

// SetStopped records that the organisation's engine is stopped on an error for reason (one of
// StoppedReasons), or with reason "" that it is not.
func (m *Metrics) SetStopped(reason string) {
	if m == nil {
		return
	}
	for _, r := range StoppedReasons {
		v := 0.0
		if r == reason {
			v = 1
		}
		m.stopped.WithLabelValues(r).Set(v)
	}
}

// SetRunning records whether this process runs the organisation's engine.
func (m *Metrics) SetRunning(running bool) {
	if m == nil {
		return
	}
	if running {
		m.running.Set(1)
	} else {
		m.running.Set(0)
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

// SetOtherWriter records whether another writer of the state topic is seen.
func (m *Metrics) SetOtherWriter(seen bool) {
	if m == nil {
		return
	}
	v := 0.0
	if seen {
		v = 1
	}
	m.otherWriter.Set(v)
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
