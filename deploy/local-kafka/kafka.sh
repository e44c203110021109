#!/usr/bin/env bash
# kafka.sh — one real Apache Kafka 4.x broker (KRaft, broker+controller) on 127.0.0.1, from
# Maven Central jars and Java 17. For tests, CI and benchmarks; not for production.
#
#   deploy/local-kafka/kafka.sh start    # fetch jars (cached in ~/.m2), format, start, wait
#   deploy/local-kafka/kafka.sh status   # running or not; exit 0 when running
#   deploy/local-kafka/kafka.sh stop     # stop exactly the PID we started
#   deploy/local-kafka/kafka.sh env      # print KAFKA_BROKERS=... for eval
#
# Environment:
#   LOCAL_KAFKA_PORT            client port (default 9092); the controller uses port+1
#   LOCAL_KAFKA_CONTROLLER_PORT controller port (default LOCAL_KAFKA_PORT+1)
#   LOCAL_KAFKA_RUN_DIR         where the PID, log and data live
#                               (default ${TMPDIR:-/tmp}/partoo-local-kafka-<port>)
#   LOCAL_KAFKA_HEAP            JVM heap (default 1g)
#   LOCAL_KAFKA_START_TIMEOUT   seconds to wait for the broker to answer (default 120)
#   LOCAL_KAFKA_EXTRA_CONFIG    extra server.properties lines (key=value, one per line), appended
#                               after the template's so they win (tests use it for short
#                               expiration intervals)
#   JAVA                        java binary (default: java on PATH, must be 17+)
#
# `start` on a running broker prints its address and exits 0. Every `start` of a stopped broker
# formats a fresh, empty data directory: tests never see topics from an earlier run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${LOCAL_KAFKA_PORT:-9092}
cport=${LOCAL_KAFKA_CONTROLLER_PORT:-$((port + 1))}
run_dir=${LOCAL_KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/partoo-local-kafka-$port}
heap=${LOCAL_KAFKA_HEAP:-1g}
start_timeout=${LOCAL_KAFKA_START_TIMEOUT:-120}
java_bin=${JAVA:-java}
pid_file=$run_dir/kafka.pid
log_file=$run_dir/server.log
out_file=$run_dir/stdout.log

say() { printf 'local-kafka: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# pid_alive PID: the process exists and is the broker this script started (guards PID reuse).
pid_alive() {
  local cmd
  cmd=$(cmdline_of "$1") || return 1
  [[ "$cmd" == *"kafka.Kafka $run_dir/server.properties"* ]]
}

# shellcheck source=../lib/proc.sh
source "$here/../lib/proc.sh"

# classpath prints the broker's classpath. Maven resolves it once (network), then it is cached
# next to the run directory keyed by the pom's checksum, and the jars stay in ~/.m2.
classpath() {
  local sum cache
  sum=$(sha256sum "$here/pom.xml" | cut -c1-16)
  cache=${TMPDIR:-/tmp}/partoo-local-kafka-classpath-$sum.txt
  if [[ -s "$cache" ]] && tr ':' '\n' <"$cache" | while read -r jar; do [[ -f "$jar" ]] || exit 1; done; then
    cat "$cache"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch the Kafka jars"
  say "resolving Kafka jars with Maven (first run downloads them into ~/.m2)"
  if ! mvn -q -B -o -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cache.tmp" >"$run_dir/mvn.log" 2>&1; then
    mvn -q -B -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cache.tmp" >"$run_dir/mvn.log" 2>&1 ||
      { cat "$run_dir/mvn.log" >&2; die "Maven could not resolve the Kafka jars (see above)"; }
  fi
  mv "$cache.tmp" "$cache"
  cat "$cache"
}

# api_versions_ok: send a Kafka ApiVersions v0 request over TCP and check error_code == 0.
# This is a real protocol round trip, not just an open port.
api_versions_ok() {
  local reply
  reply=$(
    exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || exit 1
    # size=12 | api_key=18 | api_version=0 | correlation_id=1 | client_id="ks"
    printf '\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x01\x00\x02ks' >&3
    timeout 3 head -c 10 <&3 | od -An -tx1 | tr -d ' \n'
  ) || return 1
  # 4 bytes size, 4 bytes correlation id (1), 2 bytes error code (0)
  [[ "${reply:8:8}" == "00000001" && "${reply:16:4}" == "0000" ]]
}

cmd_start() {
  mkdir -p "$run_dir"
  local pid
  if pid=$(running_pid); then
    say "already running (pid $pid)"
    echo "127.0.0.1:$port"
    return 0
  fi
  "$java_bin" -version >/dev/null 2>&1 || die "java not found (Java 17+ is needed)"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use by another process; set LOCAL_KAFKA_PORT"
  fi

  local cp data cluster_id
  cp=$(classpath)
  rm -rf "$run_dir/data"
  data=$run_dir/data
  mkdir -p "$data"
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" -e "s#@DATA_DIR@#$data#g" \
    "$here/server.properties.template" >"$run_dir/server.properties"
  if [[ -n "${LOCAL_KAFKA_EXTRA_CONFIG:-}" ]]; then
    printf '\n# LOCAL_KAFKA_EXTRA_CONFIG\n%s\n' "$LOCAL_KAFKA_EXTRA_CONFIG" >>"$run_dir/server.properties"
  fi

  local jvm=(-Xms256m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$here/log4j2.properties" "-Dkafka.log.file=$log_file")
  cluster_id=$("$java_bin" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$out_file" | tail -n1)
  [[ -n "$cluster_id" ]] || die "could not generate a cluster id (see $out_file)"
  "$java_bin" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$run_dir/server.properties" >>"$out_file" 2>&1 || { tail -n 20 "$out_file" >&2; die "formatting storage failed"; }

  : >"$log_file"
  # setsid: the broker outlives this script and is not killed with its process group.
  # The child writes its own PID and then execs Java, so the PID file names the JVM itself
  # whether or not setsid had to fork.
  rm -f "$pid_file"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    "$java_bin" "${jvm[@]}" -cp "$cp" kafka.Kafka "$run_dir/server.properties" \
    >>"$out_file" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 100; i++)); do [[ -s "$pid_file" ]] && break; sleep 0.05; done
  pid=$(cat "$pid_file" 2>/dev/null) || die "the broker did not start (see $out_file)"

  local deadline=$((SECONDS + start_timeout))
  until grep -q "Kafka Server started" "$log_file" 2>/dev/null && api_versions_ok; do
    if started_and_gone "$pid"; then
      tail -n 30 "$out_file" "$log_file" >&2 || true
      rm -f "$pid_file"
      die "the broker exited during start-up (logs above, full log in $log_file)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$log_file" >&2 || true
      cmd_stop || true
      die "the broker did not answer within ${start_timeout}s"
    fi
    sleep 0.5
  done
  say "Apache Kafka $(grep -o 'kafka_2.13-[0-9.]*[0-9]' <<<"$cp" | head -n1 | sed 's/kafka_2.13-//') running (pid $pid, cluster $cluster_id, log $log_file)"
  echo "127.0.0.1:$port"
}

cmd_stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    say "not running"
    return 0
  fi
  stop_pid "$pid" 30
  rm -f "$pid_file"
  rm -rf "$run_dir/data"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if api_versions_ok; then
      say "running (pid $pid) at 127.0.0.1:$port"
    else
      say "process $pid is up but 127.0.0.1:$port does not answer ApiVersions"
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
restart) cmd_stop && cmd_start ;;
env) echo "KAFKA_BROKERS=127.0.0.1:$port" ;;
*)
  echo "usage: $0 start|stop|status|restart|env" >&2
  exit 2
  ;;
esac
