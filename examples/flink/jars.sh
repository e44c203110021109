#!/usr/bin/env bash
# jars.sh — prints the Flink SQL jars the recipes need, as a `;`-separated list of file:// URLs
# for `pipeline.jars`. Maven fetches them from Maven Central once into ~/.m2 (or
# $PARTOO_FLINK_M2); later runs find them there and download nothing.
#   org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2        ('kafka' and 'upsert-kafka')
#   org.apache.flink:flink-sql-avro-confluent-registry:2.3.0    ('avro-confluent')
# Both are shaded "sql" jars: nothing else is needed beside PyFlink's own runtime.
set -euo pipefail
repo=${PARTOO_FLINK_M2:-$HOME/.m2/repository}
artifacts=(
  org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2
  org.apache.flink:flink-sql-avro-confluent-registry:2.3.0
)
urls=()
for a in "${artifacts[@]}"; do
  IFS=: read -r group artifact version <<<"$a"
  jar=$repo/${group//.//}/$artifact/$version/$artifact-$version.jar
  if [[ ! -s "$jar" ]]; then
    command -v mvn >/dev/null || { echo "jars.sh: mvn not found: Maven is needed once to fetch $a" >&2; exit 1; }
    echo "jars.sh: fetching $a from Maven Central (once)" >&2
    mvn -q -B dependency:get -Dartifact="$a" -Dtransitive=false -Dmaven.repo.local="$repo" >&2 ||
      { echo "jars.sh: Maven could not fetch $a" >&2; exit 1; }
    [[ -s "$jar" ]] || { echo "jars.sh: $jar missing after Maven fetched $a" >&2; exit 1; }
  fi
  urls+=("file://$jar")
done
(IFS=';'; echo "${urls[*]}")
