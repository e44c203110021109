#!/usr/bin/env bash
# run-local.sh — the whole thing on this machine, cleaned up on Ctrl-C: builds the binaries,
# starts the Partoo simulator, a real Apache Kafka broker (deploy/local-kafka/kafka.sh) and the
# connector (logs in the foreground), prints how to tail the events, and on Ctrl-C (or SIGTERM,
# or any failure) stops all three: nothing keeps running, no port stays held.
#
#   make run-local                 # or: deploy/run-local.sh
#
# Environment: LOCAL_KAFKA_PORT (9092), LOCAL_SIM_PORT (8090), LOCAL_HTTP_PORT (8080),
# SIM_FLAGS (extra partoo-sim flags, e.g. "-conversations 500 -latency 300ms"), and any
# connector variable (SCHEDULER, LOG_LEVEL, SCHEMA_REGISTRY_URL, ...).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

kafka_port=${LOCAL_KAFKA_PORT:-9092}
sim_port=${LOCAL_SIM_PORT:-8090}
http_port=${LOCAL_HTTP_PORT:-8080}
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/partoo-run-local.XXXXXX")
sim_pid="" conn_pid=""

say() { printf 'run-local: %s\n' "$*" >&2; }

stop_pid() {
  local pid=$1 name=$2
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not stop within 25 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - INT TERM
  say "stopping the connector, the simulator and the broker"
  stop_pid "$conn_pid" connector
  stop_pid "$sim_pid" partoo-sim
  LOCAL_KAFKA_PORT=$kafka_port LOCAL_KAFKA_RUN_DIR=$run_dir/kafka deploy/local-kafka/kafka.sh stop || true
  rm -rf "$run_dir"
  say "stopped"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for p in "$kafka_port" "$sim_port" "$http_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    say "port $p is already in use (set LOCAL_KAFKA_PORT, LOCAL_SIM_PORT or LOCAL_HTTP_PORT)"
    exit 1
  fi
done

say "building bin/partoo-connector and bin/partoo-sim"
mkdir -p bin
go build -o bin/partoo-connector ./cmd/partoo-connector
go build -o bin/partoo-sim ./cmd/partoo-sim

# shellcheck disable=SC2086 # SIM_FLAGS is a list of flags
bin/partoo-sim -listen "127.0.0.1:$sim_port" ${SIM_FLAGS:-} >"$run_dir/sim.log" 2>&1 &
sim_pid=$!
brokers=$(LOCAL_KAFKA_PORT=$kafka_port LOCAL_KAFKA_RUN_DIR=$run_dir/kafka deploy/local-kafka/kafka.sh start)
kill -0 "$sim_pid" 2>/dev/null || { cat "$run_dir/sim.log" >&2; say "partoo-sim exited"; exit 1; }

cat >&2 <<MSG
run-local: partoo-sim on http://127.0.0.1:$sim_port/v2 (key sim-key, log $run_dir/sim.log)
run-local: Kafka on $brokers
run-local: the connector's /status, /metrics on http://127.0.0.1:$http_port
run-local: in another terminal, to watch the events:
run-local:   KAFKA_BROKERS=$brokers bin/partoo-connector tail --from-beginning --format text
run-local: Ctrl-C stops everything.
MSG

PARTOO_API_URL=http://127.0.0.1:$sim_port/v2 PARTOO_API_KEY=sim-key KAFKA_BROKERS=$brokers \
  HTTP_ADDR=127.0.0.1:$http_port LOG_FORMAT=${LOG_FORMAT:-text} bin/partoo-connector run &
conn_pid=$!
set +e
wait "$conn_pid"
rc=$?
set -e
conn_pid=""
say "the connector exited ($rc)"
exit "$rc"
