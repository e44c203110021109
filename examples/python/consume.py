#!/usr/bin/env python3
"""Reads the connector's events topic to its end and decodes every event, independently of
the connector's Go code: Python's confluent-kafka client and fastavro, and

  * with --registry URL: the Confluent wire format (byte 0, 4-byte schema id, Avro body), the
    writer's schema fetched once per id with confluent-kafka's SchemaRegistryClient;
  * without: Avro single-object encoding (C3 01, the 8-byte CRC-64-AVRO fingerprint of the
    schema's canonical form, Avro body), the writer's schema found by its fingerprint in the
    repository's schemas/history/fingerprints.json (every schema any release wrote).

Either way the writer's schema is RESOLVED to today's schema of the same name (schemas/), as
Avro's schema resolution says (fastavro's schemaless_reader(body, writer, reader)): a record
written by any release comes out with today's fields, those added since at their defaults. A
record whose fingerprint or schema id is unknown (no release wrote it) is skipped and counted,
never a stop: stderr names each fingerprint or id with its count.

It prints one JSON object: the number of events decoded, by type, the current status of every
message (its status_raw, or "DELETED" once deleted), the MessageCreated count per conversation,
and the records skipped ("fingerprint <hex>" or "schema id <n>" → count).

    python consume.py --brokers 127.0.0.1:9092 --topic partoo.messages.events [--registry URL]
"""
import argparse
import io
import json
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from fastavro import parse_schema, schemaless_reader

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas")
TYPES = ["MessageCreated", "StatusChanged", "MessageDeleted", "MessageRow", "ConversationRow"]


class Unknown(Exception):
    """A record of a schema no release wrote: skip and count it (str(e) names it)."""


def _load(path):
    with open(path) as f:
        return json.load(f)


def readers():
    """Today's schemas by full name: what every record is resolved to."""
    out = {}
    for name in TYPES:
        raw = _load(os.path.join(SCHEMAS, name + ".avsc"))
        out[raw["namespace"] + "." + raw["name"]] = parse_schema(raw, _write_hint=False)
    return out


def resolve(body, writer, reader):
    """Reads an Avro body written with writer as today's reader schema."""
    buf = io.BytesIO(body)
    record = schemaless_reader(buf, writer, reader)
    if buf.read():
        raise ValueError("trailing bytes")
    return record


def single_object_decoder():
    """Returns decode(value) for Avro single-object encoded values of any release."""
    today = readers()
    by_fp = {}  # fingerprint as on the wire (hex) -> (writer, reader)
    for entry in _load(os.path.join(SCHEMAS, "history", "fingerprints.json"))["fingerprints"]:
        raw = _load(os.path.join(SCHEMAS, "history", entry["schema"]))
        name = raw["namespace"] + "." + raw["name"]
        if name in today:  # the state's schema is the connector's own
            by_fp[entry["fingerprint"]] = (parse_schema(raw, _write_hint=False), today[name])

    def decode(value):
        if len(value) < 10 or value[0:2] != b"\xc3\x01":
            raise ValueError("not single-object encoded: %r" % value[:10])
        fp = value[2:10].hex()
        if fp not in by_fp:
            raise Unknown("fingerprint " + fp)
        writer, reader = by_fp[fp]
        return resolve(value[10:], writer, reader)

    return decode


def registry_decoder(url):
    """Returns decode(value) for Confluent wire format values, writer schemas from the registry."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    client = SchemaRegistryClient({"url": url})
    today = readers()
    by_id = {}  # schema id -> (writer, reader), or None when the registry does not know it

    def decode(value):
        if not value or len(value) < 5 or value[0] != 0:
            raise ValueError("not in the Confluent wire format: %r" % value[:5])
        sid = int.from_bytes(value[1:5], "big")
        if sid not in by_id:
            try:
                raw = json.loads(client.get_schema(sid).schema_str)
            except SchemaRegistryError as e:
                if e.http_status_code != 404:
                    raise
                by_id[sid] = None
            else:
                name = raw["name"] if "." in raw["name"] else raw.get("namespace", "") + "." + raw["name"]
                reader = today.get(name)
                by_id[sid] = None if reader is None else (parse_schema(raw, _write_hint=False), reader)
        if by_id[sid] is None:
            raise Unknown("schema id %d" % sid)
        writer, reader = by_id[sid]
        return resolve(value[5:], writer, reader)

    return decode


def read_to_end(brokers, topic, timeout):
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "partoo-python-example-%d" % os.getpid(),
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    md = consumer.list_topics(topic, timeout=timeout)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise SystemExit("topic %s not found" % topic)
    parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
    ends = {}
    for tp in parts:
        _, high = consumer.get_watermark_offsets(tp, timeout=timeout)
        ends[tp.partition] = high
    consumer.assign(parts)
    records = []
    deadline = time.time() + timeout
    while True:
        done = all(
            ends[tp.partition] == 0 or consumer.position([TopicPartition(topic, tp.partition)])[0].offset >= ends[tp.partition]
            for tp in parts)
        if done:
            break
        if time.time() > deadline:
            raise SystemExit("timed out reading %s to its end" % topic)
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise SystemExit("consume error: %s" % msg.error())
        records.append(msg)
    consumer.close()
    return records


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--registry", help="schema registry URL: values are in the Confluent wire format")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    decode = registry_decoder(args.registry) if args.registry else single_object_decoder()
    by_type, status, created, skipped = {}, {}, {}, {}
    records = read_to_end(args.brokers, args.topic, args.timeout)
    decoded = 0
    # Per conversation (the key, hence one partition) the records are in order.
    for msg in records:
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        try:
            event = decode(msg.value())
        except Unknown as e:
            skipped[str(e)] = skipped.get(str(e), 0) + 1
            continue
        decoded += 1
        kind = event["event_type"] or headers["event_type"]  # "" in records of releases before it
        if event["event_id"] != headers["ce_id"]:
            raise SystemExit("event_id %s but ce_id header %s" % (event["event_id"], headers["ce_id"]))
        if args.registry and headers.get("schema_id") != str(int.from_bytes(msg.value()[1:5], "big")):
            raise SystemExit("schema_id header %s does not match the value" % headers.get("schema_id"))
        by_type[kind] = by_type.get(kind, 0) + 1
        mid = str(event["message_id"])
        if kind == "MessageCreated":
            created[msg.key().decode()] = created.get(msg.key().decode(), 0) + 1
            m = event["message"]
            status[mid] = "DELETED" if m["is_deleted"] else m["status_raw"]
        elif kind == "StatusChanged":
            if status.get(mid) != "DELETED":
                status[mid] = event["status_raw"]
        elif kind == "MessageDeleted":
            status[mid] = "DELETED"
        else:
            raise SystemExit("unknown event_type %r" % kind)
    for what, n in sorted(skipped.items()):
        print("consume.py: skipped %d records of unknown schema %s" % (n, what), file=sys.stderr)
    json.dump({"events": decoded, "by_type": by_type, "status": status, "created_per_conversation": created,
               "skipped": skipped}, sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
