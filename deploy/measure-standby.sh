#!/usr/bin/env bash
# measure-standby.sh — two connector instances with one transactional id, each restarted 5 s
# after it exits (as Kubernetes would), for 60 s; prints how many times each exited.
#
#   KAFKA_BROKERS=127.0.0.1:9092 deploy/measure-standby.sh            # leader election off
#   KAFKA_BROKERS=127.0.0.1:9092 KAFKA_LEADER_ELECTION=true deploy/measure-standby.sh
#
# Needs a broker (deploy/local-kafka/kafka.sh start); builds bin/ and runs its own partoo-sim.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KAFKA_BROKERS:?set KAFKA_BROKERS}"
duration=${DURATION:-60}
go build -o bin/partoo-connector ./cmd/partoo-connector
go build -o bin/partoo-sim ./cmd/partoo-sim
run_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bin/partoo-sim -listen "127.0.0.1:$port" -conversations 50 >"$run_dir/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null; rm -rf "$run_dir"' EXIT
sleep 1
base=standby-$(date +%s)
export PARTOO_API_URL=http://127.0.0.1:$port/v2 PARTOO_API_KEY=sim-key LOG_LEVEL=warn HTTP_ADDR=127.0.0.1:0
export KAFKA_EVENTS_TOPIC=$base.events KAFKA_STATE_TOPIC=$base.state KAFKA_TRANSACTIONAL_ID=$base
instance() {
  local n=0 end=$((SECONDS + duration)) rc
  while ((SECONDS < end)); do
    set +e
    timeout $((end - SECONDS + 1)) bin/partoo-connector run >>"$run_dir/$1.log" 2>&1
    rc=$?
    set -e
    [[ $rc == 124 ]] && break # still running at the end
    n=$((n + 1))
    sleep 5
  done
  echo "instance $1: $n exits in ${duration}s (KAFKA_LEADER_ELECTION=${KAFKA_LEADER_ELECTION:-false})"
}
instance a &
a=$!
instance b &
b=$!
wait "$a" "$b"
