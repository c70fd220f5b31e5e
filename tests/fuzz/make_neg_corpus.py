#!/usr/bin/python3
"""Seed corpus of fuzz_negentropy: real messages between its two fixed sets.

usage: make_neg_corpus.py <negentropy-harness>   (from the repository root)

Each file is one selector byte (bit 0: our client reads it, else our
server; bit 1: frame limit 4096) and a message: the client's initiate and
follow-ups, the server's answers, at limits none and 4096, plus variants
of sets that overlap less so that IdLists and cut-short frames appear.
"""
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "negentropy")


def items(skip, n=60, extra=0):
    out = []
    for i in range(n + extra):
        if i < n and i % 10 == skip:
            continue
        out.append((1000 + i // 3, hashlib.sha256(b"watchmesh-%d" % i).hexdigest()))
    return out


def run(harness, lines, limit):
    env = dict(os.environ, FRAMESIZELIMIT=str(limit))
    p = subprocess.run([harness], input="".join(lines), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit("harness failed: " + p.stderr)
    return p.stdout.splitlines()


def conversation(harness, cset, sset, limit):
    """Client and server messages of a whole reconciliation."""
    cl = ["item,%d,%s\n" % it for it in cset] + ["seal\n", "initiate\n"]
    sl = ["item,%d,%s\n" % it for it in sset] + ["seal\n"]
    msgs = []
    while True:
        out = [l for l in run(harness, cl, limit) if l.startswith("msg,") or l == "done"]
        last = out[-1]
        if last == "done":
            break
        cmsg = last[4:]
        msgs.append((0, cmsg))
        smsg = [l for l in run(harness, sl + ["msg,%s\n" % cmsg], limit) if l.startswith("msg,")][-1][4:]
        msgs.append((1, smsg))
        cl.append("msg,%s\n" % smsg)
        if len(msgs) > 40:
            break
    return msgs


def main():
    harness = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    client, server = items(3), items(7)
    cases = [
        ("same-sets", client, server),
        ("client-empty", [], server),
        ("server-more", client, items(7, extra=400)),
        ("client-more", items(3, extra=400), server),
        ("disjoint", [(5000 + i, hashlib.sha256(b"x%d" % i).hexdigest()) for i in range(300)], server),
    ]
    n = 0
    for name, cset, sset in cases:
        for limit in (0, 4096):
            for k, (who, hexmsg) in enumerate(conversation(harness, cset, sset, limit)):
                sel = (1 if who == 1 else 0) | (2 if limit else 0)
                path = os.path.join(OUT, "%03d-%s-%s-%d-%s" % (n, name, "limit" if limit else "nolimit", k,
                                                             "to-client" if who else "to-server"))
                with open(path, "wb") as f:
                    f.write(bytes([sel]) + bytes.fromhex(hexmsg))
                n += 1
    for name, raw in [("version-2", "62"), ("empty", ""), ("bad-mode", "61000003"),
                      ("idlist-too-long", "610000020300")]:
        for sel in (0, 1):
            with open(os.path.join(OUT, "%03d-%s-%d" % (n, name, sel)), "wb") as f:
                f.write(bytes([sel]) + bytes.fromhex(raw))
            n += 1
    print("%d files in %s" % (n, OUT))


if __name__ == "__main__":
    main()
