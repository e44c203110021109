package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/partoo-connector/partoo-connector/connector"
	"github.com/partoo-connector/partoo-connector/connector/partoo"
	"github.com/partoo-connector/partoo-connector/connector/state"
)

// shutdownGrace bounds the time from SIGTERM to exit: below Kubernetes' default 30 s grace.
const shutdownGrace = 20 * time.Second

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: partoo-connector run\n\nRuns the connector until SIGTERM or SIGINT. Configured from the environment:\n\n")
		for _, v := range connector.ConfigVars() {
			fmt.Fprintf(fs.Output(), "  %-28s %s (default %q)\n", v.Name, v.Desc, v.Default)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := connector.LoadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}
	level, _ := cfg.SlogLevel()
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(stderr, hopts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(stderr, hopts)
	}
	log := slog.New(h)

	kopts, err := cfg.KafkaOpts()
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}
	client, err := partoo.New(partoo.Config{BaseURL: cfg.PartooAPIURL, APIKey: cfg.PartooAPIKey,
		RequestsPerMinute: cfg.PartooRequestsPerMinute, PerPage: cfg.PartooPerPage})
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: configuration: %v\n", err)
		return 2
	}
	conn, err := connector.New(connector.Options{
		Partoo: client, Kafka: kopts, TransactionalID: cfg.KafkaTransactionalID,
		Topics: state.Topics{Events: cfg.KafkaEventsTopic, State: cfg.KafkaStateTopic,
			EventsPartitions: cfg.KafkaEventsPartitions, StatePartitions: cfg.KafkaStatePartitions,
			ReplicationFactor: cfg.KafkaReplicationFactor},
		ConversationIDs: cfg.PartooConversationIDs, BusinessIDs: cfg.PartooBusinessIDs,
		VanishAfter: cfg.VanishAfterWalks, Logger: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "partoo-connector: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("starting", "version", buildVersion(), "partoo_api_url", cfg.PartooAPIURL, "kafka_brokers", cfg.KafkaBrokers,
		"events_topic", cfg.KafkaEventsTopic, "state_topic", cfg.KafkaStateTopic, "transactional_id", cfg.KafkaTransactionalID,
		"requests_per_minute", cfg.PartooRequestsPerMinute)
	done := make(chan error, 1)
	go func() { done <- conn.Run(ctx) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace)
		select {
		case err = <-done:
		case <-time.After(shutdownGrace):
			log.Error("shutdown took too long; exiting", "grace", shutdownGrace)
			return 1
		}
	}
	if err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped cleanly", "walks", conn.Walks())
	return 0
}
