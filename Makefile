# make test   — the whole suite against a real Apache Kafka broker and a real schema registry
#               (Apicurio), both started and stopped for you; includes the Python and Kafka
#               Streams consumers of examples/. What it needs beyond Go (Java 17, Maven,
#               python3 with venv, curl, PostgreSQL) deploy/test-needs.sh installs first when
#               missing (root on Debian), or names
# make quick  — the suite without a broker: integration tests use in-process kfake
# make vet    — go vet and gofmt
GO ?= go
# -parallel 4: TestVariantsOfTheAPI runs its cases side by side (they mostly wait on I/O).
TEST_FLAGS ?= -count=1 -timeout 30m -parallel 4

.PHONY: test test-against-broker quick vet build kafka-start kafka-stop registry-start registry-stop run-local

test:
	deploy/test-needs.sh
	deploy/local-kafka/with-kafka.sh deploy/local-schema-registry/with-registry.sh \
	  $(MAKE) --no-print-directory test-against-broker

# Run by `make test` inside with-kafka.sh and with-registry.sh (KAFKA_BROKERS and
# SCHEMA_REGISTRY_TEST_URL set, both required). The smoke test runs first and verbosely so the
# log names the broker the suite ran against.
test-against-broker:
	$(GO) test -count=1 -v -run '^TestBrokerSmoke$$' ./connector/internal/kafkatest
	$(GO) test $(TEST_FLAGS) ./...

quick:
	$(GO) test $(TEST_FLAGS) ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	$(GO) build ./...

# make run-local — simulator + real broker + connector on this machine; Ctrl-C stops all three.
run-local:
	deploy/run-local.sh

kafka-start:
	deploy/local-kafka/kafka.sh start

kafka-stop:
	deploy/local-kafka/kafka.sh stop

registry-start:
	deploy/local-schema-registry/registry.sh start

registry-stop:
	deploy/local-schema-registry/registry.sh stop

# make bench — every benchmark, the broker ones against a real Apache Kafka broker; results in
# bench.txt (docs/benchmarks.md quotes them).
.PHONY: bench
bench:
	deploy/local-kafka/with-kafka.sh sh -c '$(GO) test -run XXX -bench . -benchtime 1x ./connector/internal/publish/ && \
	  $(GO) test -run XXX -bench . -benchtime 3x ./connector/internal/state/ && \
	  $(GO) test -run XXX -bench . ./connector/internal/diff/ ./connector/internal/partoo/' | tee bench.txt

# make bench-freshness — detection lag of each scheduling strategy under the 300/min budget, with
# API latency, in simulated time (~3 min on an idle 2-core machine); rewrites cmd/partoo-bench/results/
# freshness.md and .png (quoted in docs/benchmarks.md).
.PHONY: bench-freshness
bench-freshness:
	$(GO) run ./cmd/partoo-bench -out cmd/partoo-bench/results

# make bench-realtime — the real-time cross-check (~6 min): the connector binary against
# partoo-sim over HTTP (300 ms latency) and a real Kafka broker, then the same setup simulated;
# rewrites cmd/partoo-bench/results/realtime.md (quoted in docs/benchmarks.md).
.PHONY: bench-realtime
bench-realtime:
	$(GO) build -o bin/partoo-connector ./cmd/partoo-connector
	$(GO) build -o bin/partoo-bench ./cmd/partoo-bench
	deploy/local-kafka/with-kafka.sh bin/partoo-bench -realtime -connector bin/partoo-connector -out cmd/partoo-bench/results

# make bench-capacity — organisations per replica (~12 min): the connector binary with an
# organisations file of 1, 10, 100 and 200 organisations at full budget each, against a real
# Kafka broker, 45 s of warm-up then a 120 s window each; rewrites
# cmd/partoo-bench/results/capacity.md (quoted in docs/benchmarks.md). Three runs of each step:
# make bench-capacity CAPACITY_FLAGS='-capacity-runs 3' (~36 min).
CAPACITY_FLAGS ?=
.PHONY: bench-capacity
bench-capacity:
	$(GO) build -o bin/partoo-connector ./cmd/partoo-connector
	$(GO) build -o bin/partoo-bench ./cmd/partoo-bench
	deploy/local-kafka/with-kafka.sh bin/partoo-bench -capacity -connector bin/partoo-connector -out cmd/partoo-bench/results $(CAPACITY_FLAGS)
