#!/usr/bin/env bash
# test-needs.sh — what `make test` needs beyond Go, installed when missing. Run by `make test`
# (and so by CI's .ci/run) before the broker starts.
#
# On Debian or Ubuntu as root it installs what is missing with apt-get; anywhere else it names
# each missing package and exits 1, so the test command never fails half-way on a missing tool.
# TEST_NEEDS_NO_INSTALL=1 only names them (its test uses it).
#   Java 17+ (java, javac) and Maven    the Kafka broker, the registry, the Kafka Streams example
#   python3 with venv, curl             the Python consumer, PyFlink, the registry's Java 21
#   PostgreSQL (initdb, postgres, psql) the Kafka Connect recipe's test starts its own server
#   make                                the test command itself
set -euo pipefail

need=()   # Debian package names
human=()  # what to install, said for any system
missing() { need+=("$1"); human+=("$2"); }

command -v java >/dev/null || missing openjdk-17-jre-headless "a Java 17+ runtime (java)"
command -v javac >/dev/null || missing openjdk-17-jdk-headless "a Java 17+ JDK (javac)"
command -v mvn >/dev/null || missing maven "Maven (mvn)"
command -v make >/dev/null || missing make "make"
command -v curl >/dev/null || missing curl "curl"
if ! command -v python3 >/dev/null; then
  missing python3 "python3"
  missing python3-venv "python3's venv module"
elif ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing python3-venv "python3's venv module (ensurepip)"
fi
{ command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; } ||
  missing postgresql "the PostgreSQL server (initdb, postgres)"
command -v psql >/dev/null || missing postgresql-client "the PostgreSQL client (psql)"

((${#need[@]} == 0)) && exit 0

if [[ -z "${TEST_NEEDS_NO_INSTALL:-}" && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "test-needs: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  exit 0
fi
echo "test-needs: make test needs, and cannot install here (not root on Debian/Ubuntu):" >&2
for h in "${human[@]}"; do echo "  - $h" >&2; done
echo "On Debian or Ubuntu: sudo apt-get install ${need[*]}" >&2
exit 1
