#!/usr/bin/python3
"""Seed corpora for the targets of what a stranger can hand a node:
fuzz_handshake, fuzz_reader, fuzz_beacon, fuzz_seal, fuzz_keyfile,
fuzz_bundle, fuzz_cli and fuzz_rotate, built with python3-nacl (an implementation
independent of ours) and the event corpus.  The keys are the targets' fixed
seeds.  Run from anywhere; commit the result (tests/fuzz/corpus/{handshake,
reader,beacon,seal,keyfile,bundle,cli,rotate}/)."""
import json
import hashlib
import os
import shutil
import struct

import nacl.bindings as nb
import nacl.pwhash
import nacl.secret
import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
NOW_MS = 1770000000000


def write(target, files):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, (name, data) in enumerate(files):
        with open(os.path.join(d, "%03d-%s" % (i, name)), "wb") as f:
            f.write(data)


def handshake():
    frames = bytes([0, 5]) + b"hello" + bytes([1, 3]) + b"abc"
    closing = bytes([0, 2]) + b"hi" + bytes([3, 4]) + b"bye!" + bytes([0, 1]) + b"x"
    raw = bytes([2, 21]) + struct.pack(">I", 17) + bytes(17)
    big = bytes([2, 4]) + struct.pack(">I", 1 << 24)
    honest = bytes([1]) + bytes(73)
    write("handshake", [
        ("honest-then-frames", honest + frames),
        ("honest-closing-then-a-frame", honest + closing),
        ("honest-raw-frame", honest + raw),
        ("honest-oversize-prefix", honest + big),
        ("msg1-replaced", bytes([0, 2]) + os.urandom(72)),
        ("msg1-short", bytes([0, 2]) + bytes(10)),
        ("msg1-bit-flipped", bytes([1]) + bytes(40) + b"\x01" + bytes(32)),
        ("msg2-replaced", bytes([2, 2]) + os.urandom(64)),
        ("msg2-version-flipped", bytes([3, 1])),
        ("msg3-bit-flipped", bytes([5]) + bytes(60) + b"\x80"),
        ("msg4-replaced", bytes([6, 2]) + os.urandom(112)),
        ("msg4-unchanged-then-frames", bytes([7]) + bytes(113) + frames),
    ])


def reader():
    def frame(n):
        return struct.pack(">I", n) + os.urandom(n)

    link = os.urandom(73 + 113 + 24)
    frames = frame(17) + frame(100) + frame(3000)
    write("reader", [
        ("one-chunk", b"\x00" + link + frames),
        ("bytes-one-by-one", b"\x01" + link + frames),
        ("chunks-of-7", b"\x07" + link + frames[:-20]),
        ("frame-of-1-MiB-announced", b"\x00" + link + struct.pack(">I", (1 << 20) + 17) + bytes(100)),
        ("frame-too-big", b"\x00" + link + struct.pack(">I", (1 << 20) + 18)),
        ("frame-too-short", b"\x00" + link + struct.pack(">I", 16) + bytes(16)),
        ("handshake-cut", b"\x10" + link[:100]),
    ])


def beacon():
    sk = nacl.signing.SigningKey(bytes([3]) * 32)
    pub = bytes(sk.verify_key)

    def plain(name=b"village", port=7400, ts=NOW_MS, addrs=(0x7F000001,), naddr=None, sign=True):
        body = b"WMB\x02" + bytes([len(name)]) + name + pub + struct.pack(">HQ", port, ts)
        body += bytes([len(addrs) if naddr is None else naddr])
        body += b"".join(struct.pack(">I", a) for a in addrs)
        sid = hashlib.sha256(b"watchmesh beacon v1\0" + body).digest()
        return body + (sk.sign(sid).signature if sign else bytes(64))

    # odd first byte: the target seals the rest; even: the packet as received
    write("beacon", [
        ("valid", b"\x01" + plain()),
        ("valid-16-addresses", b"\x01" + plain(addrs=range(0x0A000001, 0x0A000011))),
        ("17-addresses", b"\x01" + plain(addrs=range(0x0A000001, 0x0A000012))),
        ("naddr-says-9-carries-1", b"\x01" + plain(naddr=9)),
        ("no-addresses", b"\x01" + plain(addrs=())),
        ("port-0", b"\x01" + plain(port=0)),
        ("too-old", b"\x01" + plain(ts=NOW_MS - 6 * 60 * 1000)),
        ("another-network", b"\x01" + plain(name=b"villagf")),
        ("name-255", b"\x01" + plain(name=b"v" * 255)),
        ("bad-signature", b"\x01" + plain(sign=False)),
        ("version-1", b"\x01WMB\x01" + plain()[4:]),
        ("empty", b"\x01"),
        ("raw-unsealed", b"\x00" + plain()),
        ("raw-garbage", b"\x00" + os.urandom(120)),
    ])


def seal():
    write("seal", [
        ("seal-short", b"\x01\x05hello"),
        ("seal-empty", b"\x01\x00"),
        ("seal-255", b"\x01\xff" + b"x" * 255),
        ("raw-shape-1", b"\x00" + b"\x01" + os.urandom(24 + 160 + 256)),
        ("raw-shape-16", b"\x00" + b"\x10" + os.urandom(24 + 17 * 80 + 256)),
        ("raw-shape-0", b"\x00" + b"\x00" + os.urandom(24 + 80 + 256)),
        ("raw-not-a-pad-multiple", b"\x00" + b"\x01" + os.urandom(24 + 160 + 200)),
    ])


def keyfile():
    sk = nacl.signing.SigningKey(bytes([8]) * 32)
    pub = bytes(sk.verify_key)
    sec = bytes(sk) + pub
    head = b"watchmesh-key 1\npublic " + pub.hex().encode() + b"\n"
    salt, nonce = bytes(range(16)), bytes(range(24))
    dk = nacl.pwhash.argon2id.kdf(32, b"passphrase", salt, opslimit=1, memlimit=8192)
    box = nacl.bindings.crypto_secretbox(sec, nonce, dk)
    argon = b"argon2id 1 8192 %s %s %s\n" % (salt.hex().encode(), nonce.hex().encode(), box.hex().encode())
    other = nacl.signing.SigningKey(bytes([9]) * 32)
    write("keyfile", [
        ("plain", head + b"secret " + sec.hex().encode() + b"\n"),
        ("plain-crlf-upper", (head + b"secret " + sec.hex().upper().encode()).replace(b"\n", b"\r\n")),
        ("public-only", head),
        ("public-only-no-newline", head[:-1]),
        ("encrypted", head + argon),
        ("encrypted-wrong-box", head + argon.replace(box.hex().encode()[:4], b"0000")),
        ("encrypted-costly", head + argon.replace(b"1 8192", b"16 1073741824")),
        ("encrypted-over-limit", head + argon.replace(b"1 8192", b"17 8192")),
        ("secret-of-another-key", head + b"secret " + (bytes(other) + bytes(other.verify_key)).hex().encode()),
        ("secret-before-public", b"watchmesh-key 1\nsecret " + sec.hex().encode() + b"\npublic " + pub.hex().encode()),
        ("empty-lines", b"watchmesh-key 1\n\n\n" + head[16:]),
        ("two-publics", head + head[16:]),
        ("header-2", b"watchmesh-key 2\n" + head[16:]),
        ("double-space", head.replace(b"public ", b"public  ")),
    ])


def bundle():
    ev = os.path.join(HERE, "corpus", "event")
    valid = [open(os.path.join(ev, f), "rb").read() for f in sorted(os.listdir(ev))
             if f[4:].startswith("valid") and "65536" not in f]
    whole = b"".join(valid)
    mid = len(valid[0]) + len(valid[1]) // 2
    write("bundle", [
        ("valid-events", whole),
        ("garbage-between", valid[0] + os.urandom(50) + valid[1]),
        ("a-byte-flipped-in-a-length", whole[:2] + bytes([whole[2] ^ 0x10]) + whole[3:]),
        ("truncated", whole[:mid]),
        ("zeros", bytes(300)),
        ("one-event", valid[2]),
    ])


def cli():
    status = {
        "name": "hall", "key": "ab" * 32, "network": "village", "pid": 42, "listen": "0.0.0.0:7400",
        "started_at": NOW_MS - 3600000, "updated_at": NOW_MS,
        "peers": [
            {"name": "school", "key": "cd" * 32, "addr": "10.0.0.2:7400", "state": "up",
             "direction": "out", "push": "eager", "since": NOW_MS - 60000, "events_in": 5,
             "events_out": 3, "duplicates_in": 1, "last_repair_at": NOW_MS - 5000,
             "last_repair_need": 2, "last_repair_have": 0, "in_sync": True},
            {"name": "\u001b[2Jclinic", "key": "ef", "addr": "10.0.0.3:7400", "state": "backoff",
             "since": NOW_MS, "last_error": "handshake failed\nforged line"},
        ],
        "last_repair": {"peer": "school", "at": NOW_MS - 5000, "need": 2, "have": 0,
                        "round_trips": 3, "bytes_out": 100, "bytes_in": 200, "ms": 12},
        "mesh": {"events_in": 5, "stored": 4, "duplicates": 1},
    }
    write("cli", [
        ("circle", b"\x00" + b"22.543,114.057,500"),
        ("circle-negative", b"\x00" + b"-33.9,-180,20000000"),
        ("circle-hex", b"\x00" + b"0x10,0,10"),
        ("circle-out-of-range", b"\x00" + b"90.0000001,0,1"),
        ("expires-hours", b"\x01" + b"48h"),
        ("expires-date", b"\x01" + b"2026-12-24 18:30"),
        ("expires-date-only", b"\x01" + b"2026-02-30"),
        ("time-iso", b"\x02" + b"2026-01-01T00:00:00Z"),
        ("time-ms", b"\x02" + b"1770000000000"),
        ("time-far", b"\x02" + b"99999999-01-01T00:00:00Z"),
        ("uint", b"\x03" + b"100000"),
        ("uint-over", b"\x03" + b"18446744073709551616"),
        ("id", b"\x04" + b"ab" * 32),
        ("id-prefix", b"\x04" + b"abcdef"),
        ("status", b"\x05" + json.dumps(status).encode()),
        ("status-wrong-types", b"\x05" + json.dumps({"peers": {"a": 1}, "started_at": "x",
                                                       "last_repair": [], "mesh": 3}).encode()),
        ("status-far-times", b"\x05" + json.dumps({"started_at": 2 ** 62, "updated_at": -1,
                                                     "peers": [{"state": "up", "since": 2 ** 63 - 1}]}).encode()),
    ])


def rotate():
    """Rotation frames (PROTOCOL.md §10): [10, bin(records)], each record a
    statement signed by the old key."""
    import msgpack
    net = bytes(range(16))
    k1, k2, k3 = (nacl.signing.SigningKey(bytes([s]) * 32) for s in (1, 2, 3))

    def rec(old, new, at, net=net, signer=None):
        st = msgpack.packb(["watchmesh-rotate", 1, net, bytes(old.verify_key), bytes(new.verify_key), at],
                           use_bin_type=True)
        return st + (signer or old).sign(hashlib.sha256(st).digest()).signature

    def frame(recs):
        return msgpack.packb([10, b"".join(recs)], use_bin_type=True)

    one = rec(k1, k2, NOW_MS)
    write("rotate", [
        ("one", frame([one])),
        ("chain", frame([one, rec(k2, k3, NOW_MS + 1000)])),
        ("chain-older", frame([one, rec(k2, k3, NOW_MS - 1000)])),
        ("forged-signer", frame([rec(k1, k2, NOW_MS, signer=k3)])),
        ("other-network", frame([rec(k1, k2, NOW_MS, net=bytes(16))])),
        ("small-time", frame([rec(k1, k2, 1000)])),
        ("eight", frame([one] * 8)),
        ("nine", frame([one] * 9)),
        ("cut", frame([one])[:-1]),
        ("bin16-short", b"\x92\x0a\xc5\x00\xb2" + one),
        ("not-rotate", msgpack.packb([1, 1, "n", [], "", 0])),
    ])


if __name__ == "__main__":
    handshake()
    reader()
    beacon()
    seal()
    keyfile()
    bundle()
    cli()
    rotate()
