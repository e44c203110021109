package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/cluster"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/lease"
	"github.com/partoo-connector/partoo-connector/connector/internal/metrics"
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
	// Group, when its Group is set, spreads the organisations over the replicas that join it
	// (package assign): this one runs only those assigned to it. Otherwise this process runs
	// every organisation.
	Group assign.Config
	// Versions identify each organisation's configuration (by name): Update restarts an
	// organisation whose version changed. Unset versions never differ.
	Versions map[string]string
	// Cluster is the process's Kafka layer, shared by every organisation (package cluster).
	// nil: New builds one from the first organisation's Kafka options. Run starts it; the
	// Service closes it when Run returns (or New fails).
	Cluster *cluster.Cluster
}

// Service runs organisations' engines: every one, or its share of a group. Create it with
// New and call Run once; Update changes the organisations while it runs.
type Service struct {
	cfg     Config
	kc      *cluster.Cluster
	updates chan update
	exits   chan exit
	began   time.Time // when the service was built: the process's uptime in /status

	mu       sync.Mutex
	slots    map[string]*slot
	holders  map[string]*holder
	order    []string // names, in the order of the latest configuration
	member   *assign.Member
	finished int64 // walks of engines that stopped
}

// update is a new configuration for Update.
type update struct {
	engines  []engine.Options
	versions map[string]string
}

// exit is an engine's Run returning.
type exit struct {
	s   *slot
	r   *run
	err error
}

// New validates cfg and builds every engine (touching no network until Run).
func New(cfg Config) (*Service, error) {
	if err := validate(cfg.Engines); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kc := cfg.Cluster
	if kc == nil {
		var err error
		e := cfg.Engines[0]
		if kc, err = cluster.New(cluster.Config{Kafka: e.Kafka, Logger: cfg.Logger, PresenceGroup: lease.PresenceGroup(e.TransactionalID),
			PresenceTopic: lease.DefaultTopic(e.Topics.State), ReplicationFactor: e.Topics.ReplicationFactor}); err != nil {
			return nil, err
		}
	}
	s := &Service{cfg: cfg, kc: kc, slots: map[string]*slot{}, updates: make(chan update, 1), exits: make(chan exit), began: time.Now()}
	for _, opt := range cfg.Engines {
		sl := s.newSlot(opt, cfg.Versions[opt.Organization])
		e, err := engine.New(sl.opt)
		if err != nil {
			s.close()
			return nil, organizationError(opt.Organization, err)
		}
		s.keep(sl, e)
		if !s.distributed() {
			sl.cur.Store(e) // it will run: /status reports its start-up from now on
			sl.fatal = true
		}
		s.slots[opt.Organization] = sl
		s.order = append(s.order, opt.Organization)
	}
	return s, nil
}

// keep keeps an engine built (to validate its options) for the slot's first run; with a
// group, where a replica runs a share only, it is closed instead and the run builds its own.
func (s *Service) keep(sl *slot, e *engine.Engine) {
	if s.distributed() {
		e.Close()
		return
	}
	sl.next = e
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

// close releases engines built before a failed New or never run.
func (s *Service) close() {
	for _, sl := range s.slots {
		if sl.next != nil {
			sl.next.Close()
			sl.next = nil
		}
	}
	s.kc.Close()
}

// distributed reports whether the organisations are spread over a group's replicas.
func (s *Service) distributed() bool { return s.cfg.Group.Group != "" }

// Update replaces the organisations while Run runs: new ones start (or join the group's
// plan), removed ones stop, and one whose version changed restarts; the others go on
// untouched. It returns the validation error of a configuration it refuses (nothing changes).
func (s *Service) Update(engines []engine.Options, versions map[string]string) error {
	if err := validate(engines); err != nil {
		return err
	}
	for _, o := range engines {
		if o.Organization == "" {
			return errors.New("service: only named organisations (a file) can be updated")
		}
	}
	select { // the latest configuration wins
	case <-s.updates:
	default:
	}
	s.updates <- update{engines: engines, versions: versions}
	return nil
}

// Run runs the engines until ctx ends (nil). Without a group, every organisation runs, and
// when one stops with an error the others are stopped and the error is returned, naming its
// organisation. With a group, this replica runs what the group assigns it; an organisation
// that fails is retried after a pause (and one fenced by another replica is released), so
// one organisation never stops the others.
func (s *Service) Run(ctx context.Context) error {
	s.kc.Start()
	var assignments <-chan []string
	if s.distributed() {
		m, err := assign.Join(ctx, s.cfg.Group, s.names(), s.fileDigest())
		if err != nil {
			s.close()
			return err
		}
		s.mu.Lock()
		s.member = m
		s.mu.Unlock()
		defer m.Close() // after the engines stopped (below)
		assignments = m.Assignments()
		s.cfg.Logger.Info("joined the organisations' group: this replica runs its share", "group", s.cfg.Group.Group, "topic", s.cfg.Group.Topic)
	}
	defer s.stopAll()
	if !s.distributed() {
		s.apply(ctx, s.names())
	}
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case want := <-assignments:
			s.apply(ctx, want)
		case u := <-s.updates:
			s.reconfigure(ctx, u)
		case ex := <-s.exits:
			if err := s.exited(ctx, ex); err != nil {
				return err
			}
		case <-retry.C:
			_ = s.decide(ctx, input{kind: inTick})
		}
	}
}

// fileDigest identifies the configuration of the organisations (assign.FileDigest).
func (s *Service) fileDigest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	versions := make(map[string]string, len(s.slots))
	for n, sl := range s.slots {
		versions[n] = sl.version
	}
	return assign.FileDigest(versions)
}

// names are the organisations of the latest configuration.
func (s *Service) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// apply makes the running organisations those of want (plan: inAssigned).
func (s *Service) apply(ctx context.Context, want []string) {
	_ = s.decide(ctx, input{kind: inAssigned, want: want})
}

// tellOwned tells the group what runs here (a shrink makes the member rejoin).
func (s *Service) tellOwned() {
	s.mu.Lock()
	m := s.member
	var owned []string
	for _, sl := range s.slots {
		if sl.running != nil || sl.assigned && sl.failing() {
			owned = append(owned, sl.name)
		}
	}
	s.mu.Unlock()
	sort.Strings(owned)
	if m != nil {
		m.SetOwned(owned)
	}
}

// stopEach stops the slots' engines that run, in parallel, and waits for them.
func (s *Service) stopEach(slots []*slot, why string) {
	var wg sync.WaitGroup
	for _, sl := range slots {
		s.mu.Lock()
		running := sl.running != nil
		s.mu.Unlock()
		if !running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.cfg.Logger.Info("stopping an organisation: "+why, "organization", sl.name)
			s.stop(sl)
		}()
	}
	wg.Wait()
}

// stopAll stops every engine (at the end of Run).
func (s *Service) stopAll() {
	s.mu.Lock()
	var running []*slot
	for _, sl := range s.slots {
		if sl.running != nil {
			running = append(running, sl)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sl := range running {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop(sl) }()
	}
	wg.Wait()
	s.close()
}
