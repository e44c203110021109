#!/usr/bin/env python3
"""Reads the connector's events topic to its end and decodes every event, independently of
the connector's Go code: Python's confluent-kafka client, and

  * with --registry URL: confluent-kafka's SchemaRegistryClient + AvroDeserializer (the
    Confluent wire format: byte 0, 4-byte schema id, Avro body);
  * without: fastavro and the schema fingerprint (Avro single-object encoding: C3 01, the
    8-byte CRC-64-AVRO fingerprint of the schema's canonical form, Avro body), with the
    schemas from the repository's schemas/ directory.

It prints one JSON object: the number of events by type, the current status of every message
(its status_raw, or "DELETED" once deleted) and the MessageCreated count per conversation.
Any record that does not decode is an error (exit 1).

    python consume.py --brokers 127.0.0.1:9092 --topic partoo.messages.events [--registry URL]
"""
import argparse
import json
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form
import io

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas")


def single_object_decoder():
    """Returns decode(value) for Avro single-object encoded values."""
    by_fp = {}
    for name in ["MessageCreated", "StatusChanged", "MessageDeleted"]:
        with open(os.path.join(SCHEMAS, name + ".avsc")) as f:
            raw = json.load(f)
        fp = fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO")
        by_fp[fp] = parse_schema(raw)

    def decode(value):
        if len(value) < 10 or value[0:2] != b"\xc3\x01":
            raise ValueError("not single-object encoded: %r" % value[:10])
        schema = by_fp.get(value[2:10].hex())
        if schema is None:
            raise ValueError("unknown schema fingerprint " + value[2:10].hex())
        body = io.BytesIO(value[10:])
        record = schemaless_reader(body, schema)
        if body.read():
            raise ValueError("trailing bytes")
        return record

    return decode


def registry_decoder(url, topic):
    """Returns decode(value) for Confluent wire format values, schemas from the registry."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": url}))
    ctx = SerializationContext(topic, MessageField.VALUE)

    def decode(value):
        if not value or value[0] != 0:
            raise ValueError("not in the Confluent wire format: %r" % value[:5])
        return deserializer(value, ctx)

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

    decode = registry_decoder(args.registry, args.topic) if args.registry else single_object_decoder()
    by_type, status, created = {}, {}, {}
    records = read_to_end(args.brokers, args.topic, args.timeout)
    # Per conversation (the key, hence one partition) the records are in order.
    for msg in records:
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        event = decode(msg.value())
        kind = headers["event_type"]
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
    json.dump({"events": len(records), "by_type": by_type, "status": status, "created_per_conversation": created},
              sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
