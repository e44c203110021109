package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
	"github.com/partoo-connector/partoo-connector/connector/internal/schedule"
	"github.com/partoo-connector/partoo-connector/connector/internal/status"
)

// Config configures a Service.
type Config struct {
	// Engines are the organisations' options, one engine each: their Organization names them
	// (unique; "" only for a single organisation), and no two may share a transactional id or
	// a state topic (one would fence the other, or restore its state). Their Metrics and
	// Logger are set by New from the fields below.
	Engines []engine.Options
	// Metrics is the shared registry, as the view metrics.New returns; nil records nothing.
	Metrics *metrics.Metrics
	// Logger gets every engine's logs, with an organization attribute when it has a name.
	Logger *slog.Logger
}

// Service runs engines side by side. Create it with New and call Run once.
type Service struct {
	engines []*engine.Engine
	names   []string
}

// New validates cfg and builds every engine (touching no network until Run).
func New(cfg Config) (*Service, error) {
	if err := validate(cfg.Engines); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{}
	for _, opt := range cfg.Engines {
		var e *engine.Engine
		g := Gauges(func() *engine.Engine { return e })
		opt.Logger = cfg.Logger
		if opt.Organization != "" {
			opt.Logger = cfg.Logger.With("organization", opt.Organization)
		}
		opt.Metrics = cfg.Metrics
		if opt.Organization == "" {
			cfg.Metrics.AddGauges(g)
		} else {
			opt.Metrics = cfg.Metrics.For(opt.Organization, g)
		}
		built, err := engine.New(opt)
		if err != nil {
			s.close()
			return nil, organizationError(opt.Organization, err)
		}
		e = built
		s.engines = append(s.engines, e)
		s.names = append(s.names, opt.Organization)
	}
	return s, nil
}

// validate refuses engines that would write over each other.
func validate(opts []engine.Options) error {
	if len(opts) == 0 {
		return errors.New("service: no organisation to run")
	}
	var errs []error
	names, txns, states := map[string]bool{}, map[string]string{}, map[string]string{}
	for _, o := range opts {
		switch {
		case o.Organization == "" && len(opts) > 1:
			errs = append(errs, errors.New("service: every organisation needs a name when several run"))
		case names[o.Organization]:
			errs = append(errs, fmt.Errorf("service: organisation %q is listed twice", o.Organization))
		}
		names[o.Organization] = true
		if other, ok := txns[o.TransactionalID]; ok && o.TransactionalID != "" {
			errs = append(errs, fmt.Errorf("service: organisations %q and %q share the transactional id %q: one would fence the other", other, o.Organization, o.TransactionalID))
		}
		txns[o.TransactionalID] = o.Organization
		if other, ok := states[o.Topics.State]; ok && o.Topics.State != "" {
			errs = append(errs, fmt.Errorf("service: organisations %q and %q share the state topic %q: one would restore the other's state", other, o.Organization, o.Topics.State))
		}
		states[o.Topics.State] = o.Organization
	}
	return errors.Join(errs...)
}

func organizationError(org string, err error) error {
	if org == "" {
		return err
	}
	return fmt.Errorf("organization %s: %w", org, err)
}

// close releases engines built before a failed New (their producers).
func (s *Service) close() {
	for _, e := range s.engines {
		e.Close()
	}
}

// Run runs every engine until ctx ends (nil) or one stops with an error: the others are then
// stopped, and the first error is returned, naming its organisation.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i, e := range s.engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Run(ctx); err != nil {
				once.Do(func() { first = organizationError(s.names[i], err) })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

// Engines returns the engines, in the order of Config.Engines.
func (s *Service) Engines() []*engine.Engine { return s.engines }

// Walks returns how many walks every engine has settled since the start.
func (s *Service) Walks() int64 {
	var n int64
	for _, e := range s.engines {
		n += e.Walks()
	}
	return n
}

// Readiness says why the service is not ready (nil when every engine is).
func (s *Service) Readiness() error {
	var errs []error
	for i, e := range s.engines {
		if err := e.Readiness(); err != nil {
			errs = append(errs, organizationError(s.names[i], err))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that Kafka answers (the engines share one cluster).
func (s *Service) Ping(ctx context.Context) error { return s.engines[0].Ping(ctx) }

// Status is the one engine's report; with several, their reports under their organisation
// names, degraded when one is.
func (s *Service) Status() status.Report {
	if len(s.engines) == 1 {
		return s.engines[0].Status()
	}
	r := status.Report{Status: "ok", Ready: true, Organizations: map[string]*status.Report{}}
	for i, e := range s.engines {
		one := e.Status()
		r.Organizations[s.names[i]] = &one
		r.Time, r.Uptime = one.Time, one.Uptime
		r.Ready = r.Ready && one.Ready
		r.ConversationsTracked += one.ConversationsTracked
		r.MessagesTracked += one.MessagesTracked
		for _, why := range one.Reasons {
			r.Reasons = append(r.Reasons, s.names[i]+": "+why)
		}
	}
	if len(r.Reasons) > 0 {
		r.Status = "degraded"
	}
	return r
}

// Covers reports whether an engine may cover a conversation a webhook named.
func (s *Service) Covers(id int64, business string) bool {
	for _, e := range s.engines {
		if e.Covers(id, business) {
			return true
		}
	}
	return false
}

// Hint hands a webhook's conversation to every engine (each checks the conversation is its
// own before it walks it: schedule.Smart.Hint) and returns the most useful result.
func (s *Service) Hint(id int64) schedule.HintResult {
	best := schedule.HintIgnored
	for _, e := range s.engines {
		if r := e.Hint(id); r == schedule.HintAccepted || best == schedule.HintIgnored {
			best = r
		}
	}
	return best
}
