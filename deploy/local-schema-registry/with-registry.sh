#!/usr/bin/env bash
# with-registry.sh CMD [ARGS...] — run CMD with a real Confluent-compatible schema registry.
#
# Starts Apicurio Registry with registry.sh on a free port in a private run directory, exports
# SCHEMA_REGISTRY_TEST_URL and SCHEMA_REGISTRY_REQUIRE_REAL=1 (so the registry tests fail rather
# than skip), runs CMD, and stops the registry on every exit path. Exits with CMD's status.
#
# If SCHEMA_REGISTRY_TEST_URL is already set, no registry is started and CMD runs against it.
# (Tests read SCHEMA_REGISTRY_TEST_URL, not SCHEMA_REGISTRY_URL, so that a connector started
# by a test with the process environment never switches format by accident.)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [[ -n "${SCHEMA_REGISTRY_TEST_URL:-}" ]]; then
  echo "with-registry: using SCHEMA_REGISTRY_TEST_URL=$SCHEMA_REGISTRY_TEST_URL" >&2
  export SCHEMA_REGISTRY_REQUIRE_REAL=${SCHEMA_REGISTRY_REQUIRE_REAL:-1}
  exec "$@"
fi

# A free port pair: HTTP on the port the kernel picks, management on the next one.
# shellcheck source=../lib/free-port.sh
source "$here/../lib/free-port.sh"

export LOCAL_REGISTRY_PORT=${LOCAL_REGISTRY_PORT:-$(free_port)}
export LOCAL_REGISTRY_RUN_DIR=${LOCAL_REGISTRY_RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/partoo-registry.XXXXXX")}

cleanup() {
  local rc=$?
  "$here/registry.sh" stop || true
  rm -rf "$LOCAL_REGISTRY_RUN_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SCHEMA_REGISTRY_TEST_URL=$("$here/registry.sh" start)
export SCHEMA_REGISTRY_TEST_URL
export SCHEMA_REGISTRY_REQUIRE_REAL=1
echo "with-registry: SCHEMA_REGISTRY_TEST_URL=$SCHEMA_REGISTRY_TEST_URL SCHEMA_REGISTRY_REQUIRE_REAL=1" >&2
set +e
"$@"
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "with-registry: command failed ($rc); last registry log lines:" >&2
  tail -n 10 "$LOCAL_REGISTRY_RUN_DIR/registry.log" >&2 || true
fi
exit "$rc"
