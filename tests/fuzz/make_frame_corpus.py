#!/usr/bin/python3
"""Seed corpus for fuzz_frame: one file per mesh message type, valid and
broken, built with python3-msgpack (an encoder independent of ours).
Run from anywhere; commit the result (tests/fuzz/corpus/frame/)."""
import os
import shutil

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ID = bytes(range(32))
WIRE = bytes.fromhex("93c40100c440") + bytes(64) + bytes.fromhex("c40180")  # [header, sig, content], not judged here

FRAMES = {
    "hello": [1, 1, "village-a", ["*"], "watchmesh 0.1.0", 60000],
    "hello-groups": [1, 1, "新华", ["network", "gaobu.xinhua-village"], "", 0],
    "hello-ext": [1, 2, "n", ["a"], "", 0, {"k": 5}, [1, b"\xff"]],
    "hello-dup-group": [1, 1, "n", ["a", "a"], "", 0],
    "hello-star-mixed": [1, 1, "n", ["*", "a"], "", 0],
    "event": [2, 1, WIRE],
    "event-fetch": [2, 0, WIRE],
    "event-push2": [2, 2, WIRE],
    "ihave": [3, 0, ID * 2, bytes([1, 2])],
    "ihave-repair": [3, 1, ID, bytes([9])],
    "ihave-kinds-short": [3, 0, ID * 2, bytes([1])],
    "iwant": [4, 1, ID * 3],
    "iwant-odd": [4, 0, ID[:31]],
    "prune": [5],
    "prune-extra": [5, 0],
    "neg-open": [6, 1, ["network"], bytes([0x61, 0x00, 0x00])],
    "neg-open-all": [6, 2, ["*"], bytes([0x61])],
    "neg-msg": [7, 3, bytes([0x61, 0x00])],
    "neg-msg-empty": [7, 3, b""],
    "neg-close": [8, 1, "done"],
    "nothave": [9, ID],
    "future-type": [42, {"a": 1}],
    "type0": [0],
}


def main():
    d = os.path.join(HERE, "corpus", "frame")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, value in FRAMES.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(msgpack.packb(value, use_bin_type=True))
    # non-canonical and truncated forms
    extra = {
        "noncanonical-uint": bytes.fromhex("92cc05"),
        "truncated": msgpack.packb(FRAMES["iwant"], use_bin_type=True)[:-5],
        "trailing": msgpack.packb([5], use_bin_type=True) + b"\x00",
        "empty-array": bytes.fromhex("90"),
    }
    for name, b in extra.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
