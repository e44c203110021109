#!/usr/bin/env bash
# connect.sh — Kafka Connect 4.3.1 standalone, with Apicurio's converter and Debezium's JDBC sink,
# all from Maven Central, and our ReplaceNul transform (resolved and built once, then cached); for
# the recipe's test and for trying it.
#
#   examples/kafka-connect/connect.sh setup                       # fetch (cached); print plugin.path
#   examples/kafka-connect/connect.sh run WORKER.properties CONNECTOR.properties...
#
# run execs the standalone worker in the foreground (stop it with SIGTERM). The configs read
# their environment through Connect's EnvVarConfigProvider (${env:NAME}); see worker.properties
# and messages-postgres.properties for the names.
#
# Environment:
#   PARTOO_CONNECT_CACHE  where the classpath and plugin folders are kept
#                         (default ~/.cache/partoo-kafka-connect/<hash of the poms>)
#   CONNECT_HEAP          JVM heap (default 512m)
#   JAVA                  java binary (default: java on PATH, 17+)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hash=$(cd "$here" && find pom.xml plugins -type f -not -path '*/target/*' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-12)
cache=${PARTOO_CONNECT_CACHE:-$HOME/.cache/partoo-kafka-connect/$hash}

say() { printf 'kafka-connect: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# mvn_cached runs Maven offline first (everything in ~/.m2), then online.
mvn_cached() {
  local log=$cache/mvn.log
  mvn -q -B -o "$@" >"$log" 2>&1 || mvn -q -B "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

# setup fills the cache once: the worker's classpath, and one folder of jars per plugin.
setup() {
  if [[ -f "$cache/.complete" ]]; then
    return
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch Kafka Connect and its plugins"
  say "resolving Kafka Connect and its plugins with Maven (first run downloads them into ~/.m2)"
  rm -rf "$cache"
  mkdir -p "$cache/plugins"
  mvn_cached -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cache/classpath.txt" ||
    die "Maven could not resolve Kafka Connect (see above)"
  local p
  for p in "$here"/plugins/*/; do
    p=$(basename "$p")
    # A plugin of ours (src/): built, its jar in the folder; then, for every plugin, the jars
    # it needs at run time (Connect's own are provided by the worker).
    if [[ -d "$here/plugins/$p/src" ]]; then
      mvn_cached -f "$here/plugins/$p/pom.xml" package -DskipTests || die "Maven could not build the plugin $p (see above)"
      mkdir -p "$cache/plugins/$p"
      cp "$here/plugins/$p"/target/*.jar "$cache/plugins/$p/"
      rm -rf "$here/plugins/$p/target"
    fi
    mvn_cached -f "$here/plugins/$p/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$cache/plugins/$p" || die "Maven could not resolve the plugin $p (see above)"
    # ServiceLoader manifests a plugin lacks (services/): with them the worker finds every
    # plugin without scanning each class of each jar (plugin.discovery=service_load).
    if [[ -d "$here/plugins/$p/services" ]]; then
      jar cf "$cache/plugins/$p/partoo-service-manifests.jar" -C "$here/plugins/$p/services" . ||
        die "could not make the manifests jar of $p (jar, from the JDK)"
    fi
  done
  touch "$cache/.complete"
}

case ${1:-} in
setup)
  setup
  echo "$cache/plugins"
  ;;
run)
  shift
  (($# >= 2)) || die "usage: connect.sh run WORKER.properties CONNECTOR.properties..."
  setup
  # The worker's config, with plugin.path: Connect cannot read that one from a variable.
  worker=$cache/worker-$(sha256sum "$1" | cut -c1-12).properties
  { cat "$1"; printf '\nplugin.path=%s\n' "$cache/plugins"; } >"$worker.tmp"
  mv "$worker.tmp" "$worker"
  shift
  exec "${JAVA:-java}" -Xms128m "-Xmx${CONNECT_HEAP:-512m}" -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$here/log4j2.properties" \
    -cp "$(cat "$cache/classpath.txt")" org.apache.kafka.connect.cli.ConnectStandalone "$worker" "$@"
  ;;
*)
  die "usage: connect.sh setup | run WORKER.properties CONNECTOR.properties..."
  ;;
esac
