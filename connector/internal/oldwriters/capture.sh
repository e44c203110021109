#!/usr/bin/env bash
# capture.sh — regenerate testdata/<commit>.jsonl: real records written by old builds of the
# connector, for the tests that check every release's records stay readable. Not run by CI
# (it needs the git history, a real broker and a few minutes); run it by hand after adding a
# writer to history (see docs/events.md, "Every release stays readable").
#
#   KAFKA_BROKERS=127.0.0.1:9092 connector/internal/oldwriters/capture.sh 71e1c68 ef76f95
#   deploy/local-kafka/with-kafka.sh connector/internal/oldwriters/capture.sh 71e1c68
#
# For each commit: a git worktree in ${TMPDIR:-/tmp}/old-<commit>, its partoo-connector and
# partoo-sim built there, the simulator started (3 conversations of ~3 messages, no live
# activity), the old connector run on fresh topics (SCHEDULER=sweep) until its snapshot is
# written; then a User message is added in Sending, moved to Success, and another message is
# deleted by the consumer, so that every event type is written; then the connector is stopped
# (SIGTERM) and every topic it wrote (events, state, and the table topics when the build has
# them) is read to its committed end by ./capture (this tree's) into testdata/<commit>.jsonl.
# The worktree is removed at the end.
#
# With CAPTURE_REGISTRY_URL (a Confluent-compatible registry, e.g. the URL
# deploy/local-schema-registry/registry.sh start prints), the old connector runs with
# SCHEMA_REGISTRY_URL set — the Confluent wire format — and the dump is
# testdata/<commit>-registry.jsonl.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
: "${KAFKA_BROKERS:?KAFKA_BROKERS must name a running broker (deploy/local-kafka/kafka.sh start)}"
settle=${CAPTURE_SETTLE:-12} # seconds for the old connector to walk everything once
tmp=${TMPDIR:-/tmp}

say() { printf 'capture: %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim() { curl -fsS -X POST -H 'content-type: application/json' "http://127.0.0.1:$simport/_sim/$1" ${2:+-d "$2"}; }

(cd "$root" && go build -o "$tmp/oldwriters-capture" ./connector/internal/oldwriters/capture)

for commit in "$@"; do
  short=$(git -C "$root" rev-parse --short=7 "$commit")
  wt=$tmp/old-$short
  [ -d "$wt" ] || git -C "$root" worktree add --detach "$wt" "$short" >/dev/null
  say "$short: building"
  (cd "$wt" && go build -o bin/ ./cmd/partoo-connector ./cmd/partoo-sim)
  simport=$(free_port)
  httpport=$(free_port)
  "$wt/bin/partoo-sim" -listen "127.0.0.1:$simport" -conversations 3 -messages-per-conversation 3 \
    -activity 0 -rate-limit -1 -seed 7 >"$tmp/old-$short-sim.log" 2>&1 &
  simpid=$!
  sleep 1
  sim messages '{"conversation_id":1,"sender_type":"User","status":"Sending"}' >"$tmp/old-$short-msg.json"
  msgid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/old-$short-msg.json")
  name=$short
  unset SCHEMA_REGISTRY_URL
  if [ -n "${CAPTURE_REGISTRY_URL:-}" ]; then
    name=$short-registry
    export SCHEMA_REGISTRY_URL=$CAPTURE_REGISTRY_URL
  fi
  prefix=oldwriters.$name.$(date +%s)
  export PARTOO_API_URL=http://127.0.0.1:$simport/v2 PARTOO_API_KEY=sim-key HTTP_ADDR=127.0.0.1:$httpport \
    KAFKA_EVENTS_TOPIC=$prefix.events KAFKA_STATE_TOPIC=$prefix.state \
    KAFKA_MESSAGES_TABLE_TOPIC=$prefix.messages KAFKA_CONVERSATIONS_TABLE_TOPIC=$prefix.conversations \
    SCHEDULER=sweep
  "$wt/bin/partoo-connector" run >"$tmp/old-$short-connector.log" 2>&1 &
  cpid=$!
  sleep "$settle"
  sim "messages/$msgid/status" '{"status":"Success"}' >/dev/null
  sim "messages/1/delete" >/dev/null
  sleep "$settle"
  kill -TERM "$cpid"; wait "$cpid" || true
  kill -TERM "$simpid"; wait "$simpid" 2>/dev/null || true
  topics=(events="$prefix.events" state="$prefix.state")
  if grep -q KAFKA_MESSAGES_TABLE_TOPIC <("$wt/bin/partoo-connector" run -h 2>&1); then
    topics+=(messages="$prefix.messages" conversations="$prefix.conversations")
  fi
  "$tmp/oldwriters-capture" -writer "$name" "${topics[@]}" >"$here/testdata/$name.jsonl"
  git -C "$root" worktree remove --force "$wt"
  say "$short: $(wc -l <"$here/testdata/$name.jsonl") records in testdata/$name.jsonl"
done
