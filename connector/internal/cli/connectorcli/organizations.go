package connectorcli

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/assign"
	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/engine"
	"github.com/partoo-connector/partoo-connector/connector/internal/service"
)

// organizationsGroup is the group that spreads the organisations of the file over the
// replicas, with KAFKA_LEADER_ELECTION; none otherwise (this process runs them all).
func organizationsGroup(cfg *config.Config, kopts []kgo.Opt, log *slog.Logger) assign.Config {
	if len(cfg.Organizations) == 0 || !cfg.KafkaLeaderElection {
		return assign.Config{}
	}
	return assign.Config{Kafka: kopts, Group: cfg.KafkaTransactionalID + ".organizations", Topic: cfg.KafkaStateTopic + ".organizations",
		SessionTimeout: cfg.KafkaLeaseSessionTimeout, ReplicationFactor: cfg.KafkaReplicationFactor, Logger: log}
}

// organizationVersions identify each organisation's configuration (config.Organization.Version).
func organizationVersions(cfg *config.Config) map[string]string {
	v := make(map[string]string, len(cfg.Organizations))
	for _, o := range cfg.Organizations {
		v[o.Name] = o.Version()
	}
	return v
}

func organizationNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Organizations))
	for i, o := range cfg.Organizations {
		names[i] = o.Name
	}
	return names
}

// watchOrganizations reads the organisations file again every
// PARTOO_ORGANIZATIONS_RELOAD_INTERVAL and hands a changed configuration to the service. A
// file that does not validate is logged, once per distinct problem, and ignored.
func watchOrganizations(ctx context.Context, cfg *config.Config, conn *service.Service, options func(*config.Config) []engine.Options, log *slog.Logger) {
	t := time.NewTicker(cfg.PartooOrganizationsReload)
	defer t.Stop()
	last, names, lastProblem := organizationVersions(cfg), organizationNames(cfg), ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		nc, err := cfg.ReloadOrganizations()
		if err == nil {
			if v, n := organizationVersions(nc), organizationNames(nc); !maps.Equal(v, last) || !slices.Equal(n, names) {
				if err = conn.Update(options(nc), v); err == nil {
					log.Info("organisations file read again: applying it", "organizations", n)
					last, names = v, n
				}
			}
		}
		if err == nil {
			lastProblem = ""
			continue
		}
		if err.Error() == lastProblem {
			continue
		}
		lastProblem = err.Error()
		var errs config.Errors
		if !errors.As(err, &errs) {
			errs = config.Errors{{Var: config.OrganizationsFileVar, Problem: err.Error()}}
		}
		for _, e := range errs {
			log.Error("organisations file refused; the organisations of before keep running", "problem", e.Error())
		}
	}
}
