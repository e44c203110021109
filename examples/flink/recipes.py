"""Runs the Flink SQL recipes of this folder as bounded reads on PyFlink's local runtime and
prints, as one JSON object, the final rows of every query:

    {"<query name>": [{"column": value, ...}, ...], ..., "pitfalls": {...}}

events.sql and messages_table.sql declare the tables and views; queries.sql holds the queries,
each after a `-- name: X` line. pitfalls.sql declares what not to write; its queries are run too
and reported under "pitfalls" as {"rows": [...]} or {"error": "..."}.

Timestamps are printed as integers: TIMESTAMP_LTZ(6)/TIMESTAMP(6) columns in epoch microseconds,
TIMESTAMP(3) columns in epoch milliseconds, so that a test compares them exactly. The jobs run
in streaming mode over bounded sources (upsert-kafka is a changelog source): each query's
changelog (+I, -U, +U, -D) is applied here as a sink would, and what remains is its final
result.

    python recipes.py --brokers HOST:PORT --registry URL --events-topic T \
        --messages-table-topic T --jars "$(./jars.sh)"

With --any-release it runs events_any_release.sql instead (the events of every release,
filtered on the event_type header) and prints its queries' rows, or {"error": "..."} when a
job fails (a record of a schema id the registry does not know stops it).
"""

import argparse
import datetime
import json
import os
import re
import string
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = datetime.datetime(1970, 1, 1)


def statements(path, values):
    """The statements of a .sql file before its first named query, comments removed and ${...}
    filled in."""
    with open(path, encoding="utf-8") as f:
        text = string.Template(f.read()).substitute(values)
    text = re.split(r"^-- name: ", text, flags=re.M)[0]
    text = re.sub(r"--[^\n]*", "", text)
    return [s.strip() for s in text.split(";") if s.strip()]


def queries(path):
    """(name, statement) of every `-- name: X` query of a .sql file, in order."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = []
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        body = re.sub(r"--[^\n]*", "", body).strip().rstrip(";").strip()
        out.append((name.strip(), body))
    return out


def epoch(text, unit):
    """A timestamp that Flink cast to STRING ('2026-11-29 22:18:03.818357', UTC) in epoch
    microseconds ("us") or milliseconds ("ms"): exact, no float on the way."""
    if text is None:
        return None
    whole, _, fraction = text.partition(".")
    seconds = (datetime.datetime.fromisoformat(whole) - EPOCH) // datetime.timedelta(seconds=1)
    micros = seconds * 1_000_000 + int((fraction + "000000")[:6])
    if unit == "ms":
        if micros % 1000:
            raise ValueError(f"a TIMESTAMP(3) value with sub-millisecond digits: {text}")
        return micros // 1000
    return micros


def collect(env, query):
    """The final rows of a query as dicts: its changelog applied, timestamps as integers."""
    from pyflink.common import RowKind
    from pyflink.table.types import LocalZonedTimestampType, TimestampType

    # PyFlink's collect() cuts TIMESTAMP(6) values to milliseconds and cannot pickle
    # TIMESTAMP_LTZ ones at all: timestamps cross to Python as text, cast by Flink.
    schema = env.sql_query(query).get_resolved_schema()
    columns = schema.get_column_names()
    units = []
    for t in schema.get_column_data_types():
        if isinstance(t, (TimestampType, LocalZonedTimestampType)):
            units.append("ms" if t.precision <= 3 else "us")
        else:
            units.append(None)
    outer = ", ".join(f"CAST(`{c}` AS STRING) AS `{c}`" if u else f"`{c}`" for c, u in zip(columns, units))
    rows = Counter()
    with env.execute_sql(f"SELECT {outer} FROM ({query})").collect() as it:
        for row in it:
            key = json.dumps([epoch(v, u) if u else v for v, u in zip(row, units)])
            if row.get_row_kind() in (RowKind.INSERT, RowKind.UPDATE_AFTER):
                rows[key] += 1
                continue
            rows[key] -= 1
            if rows[key] < 0:
                raise RuntimeError(f"a retraction of a row never added: {key}")
            if rows[key] == 0:
                del rows[key]
    return [dict(zip(columns, json.loads(k))) for k, n in sorted(rows.items()) for _ in range(n)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--brokers", required=True)
    p.add_argument("--registry", required=True, help="Confluent-compatible schema registry URL")
    p.add_argument("--events-topic", required=True)
    p.add_argument("--messages-table-topic")
    p.add_argument("--any-release", action="store_true", help="run events_any_release.sql only")
    p.add_argument("--jars", required=True, help="';'-separated file:// URLs (jars.sh prints them)")
    args = p.parse_args()

    from py4j.protocol import Py4JJavaError
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("pipeline.jars", args.jars)
    conf.set("parallelism.default", "1")
    conf.set("table.local-time-zone", "UTC")

    values = {
        "brokers": args.brokers,
        "registry": args.registry,
        "events_topic": args.events_topic,
        "messages_table_topic": args.messages_table_topic,
    }
    if args.any_release:
        for stmt in statements(os.path.join(HERE, "events_any_release.sql"), values):
            env.execute_sql(stmt)
        out = {}
        try:
            for name, query in queries(os.path.join(HERE, "events_any_release.sql")):
                out[name] = collect(env, query)
                print(f"recipes.py: {name}: {len(out[name])} rows", file=sys.stderr)
        except Py4JJavaError as e:
            lines = [l.strip() for l in str(e).splitlines() if "Exception" in l] or [str(e)]
            out = {"error": lines[-1]}  # the root cause
        json.dump(out, sys.stdout)
        print()
        return
    for name in ("events.sql", "messages_table.sql", "pitfalls.sql"):
        for stmt in statements(os.path.join(HERE, name), values):
            env.execute_sql(stmt)

    out = {}
    for name, query in queries(os.path.join(HERE, "queries.sql")):
        out[name] = collect(env, query)
        print(f"recipes.py: {name}: {len(out[name])} rows", file=sys.stderr)

    out["pitfalls"] = {}
    for name, query in queries(os.path.join(HERE, "pitfalls.sql")):
        try:
            got = {"rows": collect(env, query)}
        except Py4JJavaError as e:
            lines = [l for l in str(e).splitlines() if "Exception" in l] or [str(e)]
            got = {"error": lines[0].lstrip(": ")}
        out["pitfalls"][name] = got
        print(f"recipes.py: pitfall {name}: {json.dumps(got)[:160]}", file=sys.stderr)

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
