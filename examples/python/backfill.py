#!/usr/bin/env python3
"""Backfills a table from the events topic, from offset 0, with records of every release.

Each record's writer schema is resolved to today's (consume.py's decoders: schemas/history for
single-object values, the registry for the Confluent wire format), so a record of a release
before a field existed has that field at its default ("" for event_type, business_id and the
*_raw strings, null for organization_id) instead of missing it. A record of a schema no release
wrote is skipped, counted and named on stderr. Inserts are idempotent (event_id is the key), and
the consumer group's offsets are committed after each insert: stop and start it at will.

    python backfill.py --brokers B --topic partoo.messages.events --db events.sqlite \
        [--registry URL] [--group new-warehouse] [--until-end]
"""
import argparse
import sqlite3
import sys

from confluent_kafka import Consumer

from consume import Unknown, registry_decoder, single_object_decoder

SCHEMA = """CREATE TABLE IF NOT EXISTS events (
  event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, conversation_id INTEGER NOT NULL,
  message_id INTEGER NOT NULL, detected_at TEXT NOT NULL, business_id TEXT,
  messaging_partner TEXT, status TEXT, reason TEXT)"""

INSERT = """INSERT INTO events VALUES (:event_id, :event_type, :conversation_id, :message_id,
  :detected_at, :business_id, :messaging_partner, :status, :reason)
  ON CONFLICT (event_id) DO NOTHING"""


def row(event, headers):
    """The table's row of an event of any release."""
    kind = event["event_type"] or headers["event_type"]  # "" before event_type existed
    status = event.get("status_raw")  # StatusChanged
    if kind == "MessageCreated":
        status = event["message"]["status_raw"]
    return {
        "event_id": event["event_id"], "event_type": kind,
        "conversation_id": event["conversation_id"], "message_id": event["message_id"],
        "detected_at": event["detected_at"].isoformat(),
        # "" in records written before the connector published the context: unknown, NULL.
        "business_id": event["business_id"] or None,
        "messaging_partner": event["messaging_partner_raw"] or None,
        "status": status,
        # reason_raw is "" in deletions written before it existed; the enum is there.
        "reason": (event["reason_raw"] or event["reason"]) if kind == "MessageDeleted" else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--db", required=True, help="SQLite file")
    ap.add_argument("--registry", help="schema registry URL: values are in the Confluent wire format")
    ap.add_argument("--group", default="new-warehouse")
    ap.add_argument("--until-end", action="store_true", help="stop at the end of the topic")
    args = ap.parse_args()

    decode = registry_decoder(args.registry) if args.registry else single_object_decoder()
    db = sqlite3.connect(args.db)
    db.execute(SCHEMA)
    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group,
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.auto.commit": False})
    consumer.subscribe([args.topic])
    inserted, skipped = 0, {}
    while True:
        msg = consumer.poll(1.0)
        if msg is None:
            if args.until_end and at_end(consumer):
                break
            continue
        if msg.error():
            raise SystemExit("consume error: %s" % msg.error())
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        try:
            event = decode(msg.value())
        except Unknown as e:
            skipped[str(e)] = skipped.get(str(e), 0) + 1
            print("backfill.py: skipped a record of unknown schema %s (%d so far)" % (e, skipped[str(e)]),
                  file=sys.stderr)
        else:
            inserted += db.execute(INSERT, row(event, headers)).rowcount
            db.commit()
        consumer.commit(msg, asynchronous=False)
    consumer.close()
    print("backfill.py: %d events inserted, %d skipped" % (inserted, sum(skipped.values())))


def at_end(consumer):
    """Every assigned partition read to its last committed record."""
    parts = consumer.assignment()
    if not parts:
        return False
    for tp in consumer.position(parts):
        _, high = consumer.get_watermark_offsets(tp, timeout=10)
        if tp.offset < high and high > 0:
            return False
    return True


if __name__ == "__main__":
    main()
