"""Regenerates fastavro_fingerprints.json: CRC-64-AVRO fingerprints of our schemas' Parsing
Canonical Form, computed by fastavro (an implementation independent of goavro and of ours).

    pip install fastavro && cd schemas && python3 ../connector/internal/avroframe/testdata/fingerprints.py
"""
import json

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

out = {"_generator": f"fastavro {fastavro.__version__}"}
for n in ["MessageCreated", "StatusChanged", "MessageDeleted", "ConversationState", "MessageRow", "ConversationRow",
          "history/MessageCreated.0", "history/MessageDeleted.0",
          "history/MessageCreated.1", "history/StatusChanged.1", "history/MessageDeleted.1",
          "history/ConversationRow.1"]:
    pcf = to_parsing_canonical_form(json.load(open(n + ".avsc")))
    out[n] = {"crc64_avro": fingerprint(pcf, "CRC-64-AVRO"), "canonical_form": pcf}
for n, s in [("int", '"int"'), ("timestamp", json.dumps({"type": "long", "logicalType": "timestamp-micros"}))]:
    pcf = to_parsing_canonical_form(json.loads(s))
    out["primitive_" + n] = {"schema": s, "crc64_avro": fingerprint(pcf, "CRC-64-AVRO"), "canonical_form": pcf}
json.dump(out, open("../connector/internal/avroframe/testdata/fastavro_fingerprints.json", "w"), indent=1)
