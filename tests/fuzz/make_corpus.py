#!/usr/bin/python3
"""Seed corpora for the fuzz targets, from tests/vectors/events.json.

  corpus/event/    every vector's wire (valid and broken)
  corpus/payload/  the header and content inside each wire that has both, as
                   fuzz_payload reads them: 2 bytes (big-endian) of header
                   length, the header, the content
  corpus/mp/       hand-picked msgpack snippets plus a few headers and contents

Run from the repository root after regenerating the vectors; commit the result.
"""
import json
import os
import re
import shutil

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors", "events.json")

SNIPPETS = {
    "uint64-max": "cfffffffffffffffff", "int64-min": "d38000000000000000",
    "uint8-noncanonical": "cc05", "int8-positive": "d005", "negfix": "e0",
    "str8-noncanonical": "d90161", "overlong-utf8": "a2c0af", "surrogate": "a3eda080",
    "map-sorted": "82a16101a16202", "map-unsorted": "82a16201a16102", "map-dup": "82a16101a16102",
    "map-intkey": "810101", "nested": "91919191919191919191919191919191919100",
    "float": "cb3ff0000000000000", "nil": "c0", "ext": "d40100", "reserved": "c1",
    "array32-huge": "ddffffffff", "bin32-huge": "c6ffffffff00", "trailing": "0000",
}


def main():
    with open(VECTORS, encoding="utf-8") as f:
        vectors = json.load(f)
    for sub in ("event", "payload", "mp"):
        d = os.path.join(HERE, "corpus", sub)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for i, v in enumerate(vectors):
        slug = re.sub(r"[^a-z0-9]+", "-", v["name"].lower()).strip("-")[:60]
        name = f"{i:03d}-{slug}"
        wire = bytes.fromhex(v["wire"])
        with open(os.path.join(HERE, "corpus", "event", name), "wb") as f:
            f.write(wire)
        try:
            w = msgpack.unpackb(wire, raw=True)
        except Exception:  # noqa: BLE001 -- broken wrappers have no payload
            continue
        if (isinstance(w, list) and len(w) == 3 and isinstance(w[0], bytes) and isinstance(w[2], bytes)
                and len(w[0]) < 65536):
            with open(os.path.join(HERE, "corpus", "payload", name), "wb") as f:
                f.write(len(w[0]).to_bytes(2, "big") + w[0] + w[2])
            if i < 12:
                with open(os.path.join(HERE, "corpus", "mp", name), "wb") as f:
                    f.write(w[0])
                with open(os.path.join(HERE, "corpus", "mp", name + "-content"), "wb") as f:
                    f.write(w[2])
    for name, hx in SNIPPETS.items():
        with open(os.path.join(HERE, "corpus", "mp", name), "wb") as f:
            f.write(bytes.fromhex(hx))


if __name__ == "__main__":
    main()
