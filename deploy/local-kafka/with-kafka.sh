#!/usr/bin/env bash
# with-kafka.sh CMD [ARGS...] — run CMD with a real Apache Kafka broker.
#
# Starts a fresh broker with kafka.sh on a free port in a private run directory, exports
# KAFKA_BROKERS and KAFKA_REQUIRE_REAL=1 (so tests fail rather than fall back to kfake), runs
# CMD, and stops the broker on every exit path. Exits with CMD's status.
#
# If KAFKA_BROKERS is already set, no broker is started and CMD runs against that cluster.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [[ -n "${KAFKA_BROKERS:-}" ]]; then
  echo "with-kafka: using KAFKA_BROKERS=$KAFKA_BROKERS" >&2
  export KAFKA_REQUIRE_REAL=${KAFKA_REQUIRE_REAL:-1}
  exec "$@"
fi

# A free port pair: the kernel picks the client port; the controller takes the next one.
# shellcheck source=../lib/free-port.sh
source "$here/../lib/free-port.sh"

export LOCAL_KAFKA_PORT=${LOCAL_KAFKA_PORT:-$(free_port)}
export LOCAL_KAFKA_RUN_DIR=${LOCAL_KAFKA_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/partoo-kafka.XXXXXX")}

cleanup() {
  local rc=$?
  "$here/kafka.sh" stop || true
  rm -rf "$LOCAL_KAFKA_RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

KAFKA_BROKERS=$("$here/kafka.sh" start)
export KAFKA_BROKERS
export KAFKA_REQUIRE_REAL=1
echo "with-kafka: KAFKA_BROKERS=$KAFKA_BROKERS KAFKA_REQUIRE_REAL=1" >&2
set +e
"$@"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "with-kafka: command failed ($rc); last broker log lines:" >&2
  tail -n 20 "$LOCAL_KAFKA_RUN_DIR/server.log" >&2 || true
fi
exit "$rc"
