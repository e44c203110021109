package service

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/publish"
)

// slot is one organisation of the configuration: its options, and its engine while it runs
// here. Its fields are guarded by Service.mu.
type slot struct {
	name    string
	opt     engine.Options
	version string
	*holder
	next     *engine.Engine // built from opt, not run yet
	running  *run
	assigned bool // this replica should run it (always, without a group)
	// fatal: an error stops the service (an organisation of the start, without a group);
	// otherwise it is retried after a pause, so a file change never stops the others.
	fatal    bool
	failures int
	since    time.Time // the first failure of those in a row
	retryAt  time.Time // while failing: when to try again
	lastErr  error
}

// stoppedReason says, for /status and /readyz, why a failing organisation is stopped, since
// when and when it starts again. Call with s.mu held.
func (sl *slot) stoppedReason() string {
	prefix := ""
	if sl.name != "" {
		prefix = sl.name + ": "
	}
	return fmt.Sprintf("%sstopped (%s) since %s, %d failure(s) in a row, starting again at %s: %v", prefix, stoppedReason(sl.lastErr),
		sl.since.UTC().Format(time.RFC3339), sl.failures, sl.retryAt.UTC().Format(time.RFC3339), sl.lastErr)
}

// holder is what outlives an organisation's slots: the engine the metrics read at scrape time
// (nil while it does not run here), registered once per name.
type holder struct {
	cur     atomic.Pointer[engine.Engine]
	metrics *metrics.Metrics
}

// run is one Run of an engine.
type run struct {
	eng    *engine.Engine
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	quiet  chan struct{} // closed by stop: its exit need not be reported
	began  time.Time
}

// retryPause is the pause before a failed organisation's next start, doubling per failure in
// a row up to retryPauseMax (with a group only).
const (
	retryPause    = 10 * time.Second
	retryPauseMax = 5 * time.Minute
)

func (sl *slot) failing() bool { return !sl.retryAt.IsZero() }

// newSlot returns the slot of opt, its logger and metrics set (the metrics are registered at
// the first slot of a name only). Call with s.mu held or before Run.
func (s *Service) newSlot(opt engine.Options, version string) *slot {
	if s.holders == nil {
		s.holders = map[string]*holder{}
	}
	h := s.holders[opt.Organization]
	if h == nil {
		h = &holder{}
		g := Gauges(h.cur.Load)
		if opt.Organization == "" {
			h.metrics = s.cfg.Metrics
			s.cfg.Metrics.AddGauges(g)
		} else {
			h.metrics = s.cfg.Metrics.For(opt.Organization, g)
		}
		s.holders[opt.Organization] = h
	}
	opt.Logger, opt.Metrics, opt.Cluster = s.cfg.Logger, h.metrics, s.kc
	if opt.Organization != "" {
		opt.Logger = s.cfg.Logger.With("organization", opt.Organization)
	}
	if s.distributed() {
		opt.Lease.Enabled = false // the group elects
	}
	return &slot{name: opt.Organization, opt: opt, version: version, holder: h}
}

// start runs the slot's engine. Call with s.mu held.
func (s *Service) start(ctx context.Context, sl *slot) {
	e := sl.next
	sl.next = nil
	if e == nil {
		var err error
		if e, err = engine.New(sl.opt); err != nil {
			s.failed(sl, err)
			return
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &run{eng: e, cancel: cancel, done: make(chan struct{}), quiet: make(chan struct{}), began: time.Now()}
	sl.running = r
	sl.cur.Store(e)
	sl.metrics.SetRunning(true)
	if s.distributed() {
		s.cfg.Logger.Info("starting an organisation assigned to this replica", "organization", sl.name)
	}
	go func() {
		err := e.Run(rctx)
		close(r.done)
		select {
		case s.exits <- exit{s: sl, r: r, err: err}:
		case <-r.quiet:
		}
	}()
}

// stop stops the slot's engine, if it runs, and waits until it returned.
func (s *Service) stop(sl *slot) {
	s.mu.Lock()
	r := sl.running
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	close(r.quiet)
	s.mu.Lock()
	if sl.running == r {
		sl.running = nil
		sl.cur.Store(nil)
		sl.metrics.SetRunning(false)
	}
	s.finished += r.eng.Walks()
	s.mu.Unlock()
}

// exited handles an engine that returned on its own: its slot's bookkeeping, then what plan
// decides (planExited).
func (s *Service) exited(ctx context.Context, ex exit) error {
	s.mu.Lock()
	sl := ex.s
	if sl.running != ex.r {
		s.mu.Unlock()
		return nil // stopped meanwhile
	}
	sl.running = nil
	sl.cur.Store(nil)
	sl.metrics.SetRunning(false)
	s.finished += ex.r.eng.Walks()
	close(ex.r.quiet)
	s.mu.Unlock()
	return s.decide(ctx, input{kind: inExited, name: sl.name, err: ex.err, ranLong: time.Since(ex.r.began) > retryPauseMax})
}

// failed records a failure and when to try again. Call with s.mu held.
func (s *Service) failed(sl *slot, err error) {
	pause := retryPause << min(sl.failures, 5)
	pause = min(pause, retryPauseMax)
	if sl.failures == 0 {
		sl.since = time.Now()
	}
	sl.failures++
	sl.retryAt, sl.lastErr = time.Now().Add(pause), err
	reason := stoppedReason(err)
	sl.metrics.SetStopped(reason)
	msg := "organisation stopped on an error; it stays on this replica and starts again after a pause"
	if reason == "fenced" {
		msg = "organisation fenced: another producer registered its transactional id (or took its lease); it stops here alone and tries again after a pause, the other organisations go on"
	}
	s.cfg.Logger.Error(msg, "organization", sl.name, "reason", reason, "err", err, "retry_in", pause.String(), "failures_in_a_row", sl.failures)
}

// stoppedReason is the reason label of an organisation stopped on err
// (metrics.StoppedReasons).
func stoppedReason(err error) string {
	switch {
	case errors.Is(err, publish.ErrFenced), errors.Is(err, lease.ErrLost):
		return "fenced"
	case errors.Is(err, publish.ErrNotAuthorized):
		return "not_authorized"
	}
	return "other"
}
