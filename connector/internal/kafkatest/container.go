package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ApacheKafkaImage is the official Apache Kafka image used when a Docker engine answers.
const ApacheKafkaImage = "apache/kafka:4.3.1"

const starterPath = "/tmp/partoo-kafkatest-start.sh"

// startContainer starts apache/kafka in KRaft mode and returns its cluster, or an error saying
// why Docker cannot be used. The container's advertised listener must name the port Docker
// mapped on the host, which is known only once the container exists: the entrypoint waits for
// a start script that a post-start hook writes with that port, as testcontainers' own Kafka
// module does for the Confluent images.
func startContainer(ctx context.Context) (c *Cluster, err error) {
	defer func() {
		// testcontainers panics in some set-ups without a Docker socket.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("docker: %v", r)
		}
	}()
	provider, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := provider.Health(hctx); err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}

	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(sctx, ApacheKafkaImage,
		testcontainers.WithExposedPorts("9092/tcp"),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                          "1",
			"KAFKA_PROCESS_ROLES":                                    "broker,controller",
			"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":                       "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
			"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
			"KAFKA_LOG_CLEANER_BACKOFF_MS":                           "200",
			"KAFKA_MESSAGE_MAX_BYTES":                                "16777216",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                        "false",
		}),
		testcontainers.WithEntrypoint("sh", "-c",
			"while [ ! -f "+starterPath+" ]; do sleep 0.1; done; . "+starterPath),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{
			PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
				host, err := ctr.Host(ctx)
				if err != nil {
					return err
				}
				port, err := ctr.MappedPort(ctx, "9092/tcp")
				if err != nil {
					return err
				}
				script := fmt.Sprintf("export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s,BROKER://localhost:19092\nexec /etc/kafka/docker/run\n",
					net.JoinHostPort(host, port.Port()))
				return ctr.CopyToContainer(ctx, []byte(script), starterPath, 0o755)
			}},
		}),
		testcontainers.WithWaitStrategy(wait.ForLog("Kafka Server started").WithStartupTimeout(2*time.Minute)),
	)
	if err != nil {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
		return nil, fmt.Errorf("apache/kafka container: %w", err)
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return nil, errors.Join(err, testcontainers.TerminateContainer(ctr))
	}
	port, err := ctr.MappedPort(ctx, "9092/tcp")
	if err != nil {
		return nil, errors.Join(err, testcontainers.TerminateContainer(ctr))
	}
	// The container lives until the test binary exits; testcontainers' reaper removes it.
	return &Cluster{Brokers: []string{net.JoinHostPort(host, port.Port())}, Kind: KindTestcontainers}, nil
}
