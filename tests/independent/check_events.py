#!/usr/bin/python3
"""
An independent check of watchmesh v2 events, written from proto/PROTOCOL.md
with nothing of our C code: Debian's python3-nacl (Ed25519) and
python3-msgpack (parsing, and re-encoding to test the canonical form), plus
the standard library.

  check_events.py --vectors tests/vectors/events.json
      every valid vector must pass with the id it states (withheld or whole,
      as it states); every invalid one must be refused, and for the same
      class of reason (WM_ESIG, WM_ECANONICAL, ...) as the vector says.  Each
      vector is judged as a node of the network it names judges it.
  check_events.py --bundle FILE
      walks a bundle (the concatenation of wire events) and checks each.

Exit status 0 only if everything is as expected.
"""
import argparse
import hashlib
import json
import sys

import msgpack
import nacl.exceptions
import nacl.signing

MAX_EVENT = 65536
GROUP_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
KINDS = {1: "bulletin", 2: "alert", 3: "request", 4: "reply", 5: "status",
         6: "retract", 7: "cert", 8: "revoke", 9: "ack"}

TOPICS = ["police", "non-police", "dispute", "lost-found", "other"]
CAP_CATEGORY = ["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health",
                "Env", "Transport", "Infra", "CBRNE", "Other"]
# key: (type, required, min, max or enumeration)
#   type: line | text | enum | bin | key | uint | array
RULES = {
    1: {"title": ("line", 1, 1, 200), "text": ("text", 1, 1, 16000),
        "category": ("enum", 1, ["fraud", "safety", "traffic", "weather", "notice", "lost-found", "other"]),
        "lang": ("line", 0, 2, 35)},
    2: {"event": ("line", 1, 1, 200), "headline": ("line", 1, 1, 200), "text": ("text", 1, 1, 16000),
        "category": ("enum", 1, CAP_CATEGORY),
        "urgency": ("enum", 1, ["Immediate", "Expected", "Future", "Past", "Unknown"]),
        "severity": ("enum", 1, ["Extreme", "Severe", "Moderate", "Minor", "Unknown"]),
        "certainty": ("enum", 1, ["Observed", "Likely", "Possible", "Unlikely", "Unknown"]),
        "area_desc": ("line", 1, 1, 500), "circle": ("array", 0),
        "instruction": ("text", 0, 1, 4000), "contact": ("line", 0, 1, 200),
        "photo": ("bin", 0, 1, 49152), "photo_type": ("enum", 0, ["image/jpeg", "image/png", "image/webp"]),
        "lang": ("line", 0, 2, 35)},
    3: {"topic": ("enum", 0, TOPICS),
        "text": ("text", 0, 1, 16000), "to": ("array", 0), "box": ("bin", 0, 1, MAX_EVENT),
        "lang": ("line", 0, 2, 35)},
    4: {"text": ("text", 0, 1, 16000), "box": ("bin", 0, 1, MAX_EVENT), "lang": ("line", 0, 2, 35)},
    5: {"state": ("enum", 1, ["acknowledged", "assigned", "referred", "resolved", "closed"]),
        "note": ("text", 0, 1, 4000), "referred_to": ("line", 0, 1, 200),
        "box": ("bin", 0, 1, MAX_EVENT)},
    6: {"reason": ("text", 0, 1, 1000)},
    7: {"subject": ("key", 1), "role": ("enum", 1, ["station", "officer", "node", "resident"]),
        "name": ("line", 1, 1, 127), "groups": ("array", 1), "not_before": ("uint", 1),
        "not_after": ("uint", 1)},
    8: {"subject": ("key", 1), "reason": ("text", 0, 1, 1000), "keep": ("array", 1)},
    9: {"what": ("enum", 1, ["seen", "helping", "found"]), "text": ("text", 0, 1, 4000)},
}


class Refused(Exception):
    def __init__(self, code, why):
        super().__init__(why)
        self.code = code
        self.why = why


def is_int(x):
    return type(x) is int


def unpack_one(data, what):
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except msgpack.ExtraData:
        raise Refused("WM_EMALFORMED", f"{what}: trailing bytes")
    except (ValueError, msgpack.UnpackException, UnicodeDecodeError) as e:
        raise Refused("WM_EMALFORMED", f"{what}: cannot be parsed ({e.__class__.__name__})")


def canonical(obj, data, what):
    """Our encoder (msgpack-python) writes shortest forms; any other form differs."""
    again = msgpack.packb(obj, use_bin_type=True)
    if again != data:
        raise Refused("WM_ECANONICAL", f"{what}: not in canonical form")


def plain_value(v, what, nested=False, outer=0):
    """Content values: str, bytes, int, or a flat array of those; where
    outer > 0 (a revoke's keep), an array of up to outer items that may be
    flat arrays."""
    if isinstance(v, (str, bytes)) or is_int(v):
        return
    if isinstance(v, list) and not nested:
        if len(v) > (outer or 64):
            raise Refused("WM_EMALFORMED", f"{what}: array of more than {outer or 64} items")
        for item in v:
            plain_value(item, what, not outer)
        return
    raise Refused("WM_EMALFORMED", f"{what}: a value of type {type(v).__name__} is not allowed")


def shows_as_is(ch, multiline):
    """Section 4: no C0 control (a text may hold tab and LF), DEL, C1
    control, or bidi embedding, override or isolate."""
    o = ord(ch)
    if multiline and ch in "\t\n":
        return True
    return not (o < 0x20 or 0x7f <= o <= 0x9f or 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069)


def group_ok(g):
    return isinstance(g, str) and 1 <= len(g.encode()) <= 64 and set(g) <= GROUP_CHARS


def check_content(kind, header, c):
    def bad(why):
        raise Refused("WM_ECONTENT", why)

    for key, rule in RULES[kind].items():
        typ, req = rule[0], rule[1]
        if key not in c:
            if req:
                bad(f"content key '{key}' is missing")
            continue
        v = c[key]
        want = {"line": str, "text": str, "enum": str, "bin": bytes, "key": bytes, "array": list}.get(typ)
        if typ == "uint":
            if not is_int(v) or v < 0:
                bad(f"'{key}' must be an unsigned integer")
        elif not isinstance(v, want):
            bad(f"'{key}' has the wrong type")
        if typ in ("line", "text", "bin"):
            n = len(v.encode()) if isinstance(v, str) else len(v)
            if not rule[2] <= n <= rule[3]:
                bad(f"'{key}' is {n} bytes")
            if isinstance(v, str) and not all(shows_as_is(ch, typ == "text") for ch in v):
                bad(f"'{key}' has a control character")
        if typ == "enum" and v not in rule[2]:
            bad(f"'{key}' value {v!r} is not allowed")
        if typ == "key" and len(v) != 32:
            bad(f"'{key}' is not 32 bytes")
    for key, v in c.items():
        if key in RULES[kind]:
            continue
        for item in v if isinstance(v, list) else [v]:
            if isinstance(item, str) and not all(shows_as_is(ch, True) for ch in item):
                bad(f"unknown key '{key}' has a control character")
    if "lang" in c and isinstance(c["lang"], str) and not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in c["lang"]):
        bad("'lang' is not a language tag")

    group, refs, created, expires = header[5], header[7], header[3], header[8]
    if (kind in (7, 8)) != (group == "network"):
        bad("group 'network' holds exactly the certs and revocations")
    if kind in (4, 5, 6, 9) and not refs:
        bad("refs[0] is required")
    if kind == 2:
        if expires == 0:
            bad("an alert must expire")
        if ("photo" in c) != ("photo_type" in c):
            bad("photo and photo_type come together")
        if "circle" in c:
            circ = c["circle"]
            lim = [(-90000000, 90000000), (-180000000, 180000000), (1, 1000000)]
            if len(circ) != 3 or not all(is_int(x) and lo <= x <= hi for x, (lo, hi) in zip(circ, lim)):
                bad("circle is not [lat_e6, lon_e6, radius_m] within range")
    def box_shape(box):
        """Section 6: n (1-16), nonce, n + 1 slots of 80, then whole blocks of 256 and a MAC."""
        if len(box) < 1 or not 1 <= box[0] <= 16:
            bad("'box' has a slot count outside 1-16")
        body = len(box) - (1 + 24 + 80 * (box[0] + 1)) - 16
        if body <= 0 or body % 256 or body > 72 * 256:
            bad("'box' is not whole blocks of 256 after its slots")

    if kind == 3:
        if "to" in c:
            bad("'to' names recipients in clear")
        if "box" in c:
            if any(k in c for k in ("topic", "text", "lang")):
                bad("a sealed request carries topic, text and lang inside its box only")
            box_shape(c["box"])
        elif "text" not in c or "topic" not in c:
            bad("a public request needs topic and text")
    if kind == 4:
        if "box" in c:
            if "text" in c or "lang" in c:
                bad("a sealed reply carries text and lang inside its box only")
            box_shape(c["box"])
        elif "text" not in c:
            bad("a reply needs text (or a box)")
    if kind == 5 and "box" in c:
        if c["state"] != "referred":
            bad("only a status 'referred' carries a box")
        box_shape(c["box"])
    if kind == 7:
        gs = c["groups"]
        if not 1 <= len(gs) <= 64 or not all(isinstance(g, str) for g in gs):
            bad("groups must be 1-64 strings")
        if "*" in gs and len(gs) != 1:
            bad("'*' must be alone")
        if not all(g == "*" or group_ok(g) for g in gs) or len(set(gs)) != len(gs):
            bad("groups holds a bad or repeated name")
        if len(",".join(gs).encode()) > 1023:
            bad("groups too long joined")
        if not c["not_before"] < c["not_after"]:
            bad("not_before must be before not_after")
    if kind == 8:
        for e in c["keep"]:
            if not isinstance(e, list) or len(e) != 3:
                bad("a keep entry is not [group, id, expires_at]")
            if not group_ok(e[0]) or not isinstance(e[1], bytes) or len(e[1]) != 32 or not is_int(e[2]) or e[2] < 0:
                bad("a keep entry is not [group, id of 32 bytes, expires_at]")


def check_event(wire, network=None):
    """Returns (header, id, withheld), or raises Refused.  With network (16
    bytes), an event of another network is refused as a node of that
    network refuses it."""
    w = unpack_one(wire, "event")
    if not isinstance(w, list) or len(w) not in (2, 3):
        raise Refused("WM_EMALFORMED", "event: not an array of three items (or two, withheld)")
    payload, sig = w[0], w[1]
    if not isinstance(payload, bytes):
        raise Refused("WM_EMALFORMED", "payload: not a binary")
    if len(payload) > MAX_EVENT:
        raise Refused("WM_ETOOBIG", "payload: larger than 64 KiB")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise Refused("WM_EMALFORMED", "signature: not a binary of 64 bytes")
    withheld = len(w) == 2
    if not withheld and not isinstance(w[2], bytes):
        raise Refused("WM_EMALFORMED", "content: not a binary")
    if len(wire) > MAX_EVENT:
        raise Refused("WM_ETOOBIG", "event: larger than 64 KiB")
    canonical(w, wire, "event")
    eid = hashlib.sha256(payload).digest()

    h = unpack_one(payload, "header")
    if not isinstance(h, list) or len(h) == 0:
        raise Refused("WM_EMALFORMED", "header: not a non-empty array")
    if not is_int(h[0]) or h[0] < 0:
        raise Refused("WM_EMALFORMED", "version: not an unsigned integer")
    if h[0] != 2:
        raise Refused("WM_EVERSION", f"version {h[0]}" + (" is retired" if h[0] == 1 else ""))
    if len(h) != 10:
        raise Refused("WM_EMALFORMED", f"header: {len(h)} fields")
    version, kind, author, created, net, group, prev, refs, expires, chash = h
    if not is_int(kind) or kind < 0:
        raise Refused("WM_EMALFORMED", "kind: not an unsigned integer")
    if not isinstance(author, bytes) or len(author) != 32:
        raise Refused("WM_EMALFORMED", "author: not 32 bytes")
    try:
        nacl.signing.VerifyKey(author).verify(eid, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        raise Refused("WM_ESIG", "signature does not verify")

    # shapes and types first, then the one byte form, then the rules
    if not is_int(created) or created < 0:
        raise Refused("WM_EMALFORMED", "created_at: not an unsigned integer")
    if not isinstance(net, bytes) or len(net) != 16:
        raise Refused("WM_EMALFORMED", "network: not 16 bytes")
    if not isinstance(group, str):
        raise Refused("WM_EMALFORMED", "group: not a string")
    if not isinstance(prev, bytes) or len(prev) not in (0, 32):
        raise Refused("WM_EMALFORMED", "prev: not a binary of 0 or 32 bytes")
    if not isinstance(refs, list) or not all(isinstance(r, bytes) for r in refs):
        raise Refused("WM_EMALFORMED", "refs: not an array of binaries")
    if not is_int(expires) or expires < 0:
        raise Refused("WM_EMALFORMED", "expires_at: not an unsigned integer")
    if not isinstance(chash, bytes) or len(chash) != 32:
        raise Refused("WM_EMALFORMED", "content_hash: not 32 bytes")
    canonical(h, payload, "header")
    if kind not in KINDS:
        raise Refused("WM_EMALFORMED", f"kind {kind} unknown")
    if created == 0:
        raise Refused("WM_EMALFORMED", "created_at is 0")
    if not group_ok(group):
        raise Refused("WM_EMALFORMED", f"group {group!r} is not a group name")
    if len(refs) > 16 or not all(len(r) == 32 for r in refs):
        raise Refused("WM_EMALFORMED", "refs: more than 16, or not 32 bytes each")
    if expires != 0 and expires <= created:
        raise Refused("WM_EMALFORMED", "expires_at is not after created_at")

    if not withheld:
        content_bytes = w[2]
        if hashlib.sha256(content_bytes).digest() != chash:
            raise Refused("WM_EHASH", "content: SHA-256 is not the header's content_hash")
        content = unpack_one(content_bytes, "content")
        if not isinstance(content, dict):
            raise Refused("WM_EMALFORMED", "content: not a map")
        for k, v in content.items():
            if not isinstance(k, str):
                raise Refused("WM_EMALFORMED", "content: a key is not a string")
            plain_value(v, f"content key '{k}'", outer=256 if (kind == 8 and k == "keep") else 0)
        canonical(content, content_bytes, "content")
        keys = [k.encode() for k in content]
        if keys != sorted(keys):
            raise Refused("WM_ECANONICAL", "content: keys not sorted")
        if len(content) > 32:
            raise Refused("WM_EMALFORMED", "content: more than 32 keys")
        for k in content:
            if not 1 <= len(k) <= 32 or not set(k) <= KEY_CHARS:
                raise Refused("WM_EMALFORMED", f"content key {k!r} is not a-z 0-9 _")
        check_content(kind, h, content)
    if network is not None and net != network:
        raise Refused("WM_ENETWORK", f"made in network {net.hex()}, not {network.hex()}")
    return h, eid, withheld


def open_sealed(wire, seed):
    """Section 6, as the reader whose Ed25519 seed is given: (topic, lang,
    text) of the box, its author's signature inside checked, or raises."""
    from nacl.bindings import (crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_box_seal_open,
                               crypto_sign_ed25519_pk_to_curve25519, crypto_sign_ed25519_sk_to_curve25519,
                               crypto_sign_seed_keypair)
    payload, _, content = msgpack.unpackb(wire, raw=False, strict_map_key=False)
    h = msgpack.unpackb(payload, raw=False)
    box = msgpack.unpackb(content, raw=False)["box"]
    kind, author, net, group = h[1], h[2], h[4], h[5].encode()
    pk, sk = crypto_sign_seed_keypair(seed)
    xpk, xsk = crypto_sign_ed25519_pk_to_curve25519(pk), crypto_sign_ed25519_sk_to_curve25519(sk)
    n = box[0]
    hdr = 1 + 24 + 80 * (n + 1)
    slots = range(n, n + 1) if pk == author else range(n)
    key = None
    for i in slots:
        try:
            key = crypto_box_seal_open(box[25 + 80 * i:25 + 80 * (i + 1)], xpk, xsk)
            break
        except nacl.exceptions.CryptoError:
            continue
    if key is None:
        raise ValueError("no slot opens for this key")
    ad = b"watchmesh sealed 2" + bytes([kind]) + net + author + bytes([len(group)]) + group
    m = crypto_aead_xchacha20poly1305_ietf_decrypt(box[hdr:], ad + box[:hdr], box[1:25], key)
    m = m.rstrip(b"\0")           # ISO/IEC 7816-4: 0x80, then zeros
    if not m.endswith(b"\x80"):
        raise ValueError("bad padding")
    m = m[:-1]
    sig, body = m[:64], m[64:]
    nacl.signing.VerifyKey(author).verify(hashlib.sha256(ad + body).digest(), sig)
    nto = body[0]
    if nto != n:
        raise ValueError("slot count and signed recipients differ")
    p = 1 + 32 * nto
    if pk != author and pk not in [body[1 + 32 * i:33 + 32 * i] for i in range(nto)]:
        raise ValueError("the signed recipients do not name this key")
    tl = body[p]
    topic = body[p + 1:p + 1 + tl].decode()
    p += 1 + tl
    ll = body[p]
    lang = body[p + 1:p + 1 + ll].decode()
    return topic, lang, body[p + 1 + ll:].decode()


def run_vectors(path):
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)
    failures = 0
    counts = {"valid": 0, "invalid": 0}
    for v in vectors:
        wire = bytes.fromhex(v["wire"])
        withheld = None
        try:
            _, eid, withheld = check_event(wire, bytes.fromhex(v["network"]))
            got, why = "ok", ""
        except Refused as r:
            got, why = r.code, r.why
        if v["valid"]:
            counts["valid"] += 1
            if got != "ok":
                failures += 1
                print(f"FAIL {v['name']}: valid vector refused: {got}: {why}")
            elif v.get("id") != eid.hex():
                failures += 1
                print(f"FAIL {v['name']}: id {eid.hex()} but the vector says {v.get('id')}")
            elif withheld != v.get("withheld", False):
                failures += 1
                print(f"FAIL {v['name']}: withheld is {withheld}, the vector says {v.get('withheld', False)}")
            elif "open_seed" in v:
                try:
                    topic, lang, text = open_sealed(wire, bytes.fromhex(v["open_seed"]))
                    if (topic, lang, hashlib.sha256(text.encode()).hexdigest()) != \
                            (v["open_topic"], v["open_lang"], v["open_text_sha256"]):
                        raise ValueError(f"opens to {topic!r} {lang!r} {text!r}")
                except (ValueError, nacl.exceptions.CryptoError) as e:
                    failures += 1
                    print(f"FAIL {v['name']}: the sealed box: {e}")
        else:
            counts["invalid"] += 1
            if got == "ok":
                failures += 1
                print(f"FAIL {v['name']}: invalid vector accepted (expected {v['error']})")
            elif got != v["error"]:
                failures += 1
                print(f"FAIL {v['name']}: refused as {got} ({why}), the vector says {v['error']} ({v['reason']})")
    print(f"{len(vectors)} vectors: {counts['valid']} valid, {counts['invalid']} invalid; {failures} failures")
    return failures == 0


def run_bundle(path):
    with open(path, "rb") as f:
        data = f.read()
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    start, n, bad = 0, 0, 0
    kinds = {}
    while start < len(data):
        try:
            unpacker.skip()
        except msgpack.OutOfData:
            print(f"byte {start}: the bundle ends inside an event")
            return False
        except Exception as e:  # noqa: BLE001 -- any parse failure ends the walk
            print(f"byte {start}: not a msgpack value ({e.__class__.__name__}); stopping")
            return False
        end = unpacker.tell()
        n += 1
        try:
            header, eid, _ = check_event(data[start:end])
            kinds[KINDS[header[1]]] = kinds.get(KINDS[header[1]], 0) + 1
        except Refused as r:
            bad += 1
            print(f"event {n} at byte {start}: {r.code}: {r.why}")
        start = end
    summary = ", ".join(f"{k} {c}" for k, c in sorted(kinds.items()))
    print(f"{n} events, {n - bad} ok, {bad} refused" + (f" ({summary})" if summary else ""))
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--vectors", help="a vectors JSON file")
    g.add_argument("--bundle", help="a bundle file")
    a = ap.parse_args()
    ok = run_vectors(a.vectors) if a.vectors else run_bundle(a.bundle)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
