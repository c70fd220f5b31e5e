"""
Helpers for the integration tests: run the real `watchmesh` binary in a
temporary directory, keep a log of every command and its output, and print
that log (and keep the directory) when a test fails.

Also a small, independent reader/writer of the wire format (python3-msgpack
and python3-nacl), used to craft events no node would sign.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import msgpack
import nacl.signing


class Failure(Exception):
    pass


class Env:
    """One test's world: a temp dir, the binary, a log."""

    def __init__(self, binary, name):
        self.binary = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix="wm-" + name + "-")
        self.log = []
        self.env = dict(os.environ)
        self.env["WATCHMESH_TEST_FAST_KDF"] = "1"
        self.env.setdefault("TZ", "Asia/Shanghai")
        self.passfile = self.path("pass.txt")
        with open(self.passfile, "w") as f:
            f.write("correct horse battery staple\n")

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def run(self, *args, rc=0, stdin=None):
        """Run watchmesh ARGS in the test dir; check the exit status (None:
        any, "nonzero": any but 0).  Returns (stdout, stderr)."""
        cmd = [self.binary] + [str(a) for a in args]
        p = subprocess.run(cmd, cwd=self.dir, env=self.env, capture_output=True,
                           stdin=subprocess.DEVNULL if stdin is None else None,
                           input=stdin, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        self.log.append("$ watchmesh " + " ".join(str(a) for a in args) +
                        "\n[exit %d]\n%s%s" % (p.returncode, out, err))
        if p.returncode < 0 or p.returncode >= 128:
            raise Failure("watchmesh crashed (status %d): %s" % (p.returncode, " ".join(cmd)))
        if rc == "nonzero":
            if p.returncode == 0:
                raise Failure("expected failure, got exit 0: %s" % " ".join(cmd))
        elif rc is not None and p.returncode != rc:
            raise Failure("expected exit %s, got %d: %s\n%s" % (rc, p.returncode, " ".join(cmd), err))
        return out, err

    def json(self, *args):
        out, _ = self.run(*args)
        return json.loads(out)

    def post(self, kind, node, key, *args, rc=0):
        """post KIND into node (a dir name) or, node None, nowhere (use --out;
        the network file is net unless args give --network)."""
        a = ["post", kind, "--key", key]
        if key_encrypted(self.path(key)):
            a += ["--passphrase-file", self.passfile]
        if node:
            a += ["--dir", node]
        elif "--network" not in args:
            a += ["--network", "net"]
        out, err = self.run(*(a + list(args)), rc=rc)
        return out.strip()

    def network(self, name="testnet", vouched=None):
        extra = ["--vouched", vouched] if vouched else []
        self.run("network", "create", "--name", name, "--out", "net", "--passphrase-file", self.passfile,
                 *extra)

    def key(self, name, encrypted=False):
        if encrypted:
            out, _ = self.run("key", "new", "--out", name, "--passphrase-file", self.passfile)
        else:
            out, _ = self.run("key", "new", "--out", name, "--no-passphrase")
        return out.strip()

    def cert(self, issuer, subject, role, name, groups, node=None, out=None):
        a = ["cert", "issue", "--issuer", issuer, "--subject", subject, "--role", role,
             "--name", name, "--groups", groups]
        if key_encrypted(self.path(issuer)):
            a += ["--passphrase-file", self.passfile]
        if node:
            a += ["--dir", node]
        if out:
            a += ["--out", out] + ([] if node else ["--network", "net"])
        o, _ = self.run(*a)
        return o.strip()

    def world(self, node="village", group="gaobu.xinhua", vouched=None):
        """Network, root, station, officer, two residents, a node, the certs."""
        self.network(vouched=vouched)
        self.run("init", node, "--network", "net", "--name", node)
        self.key("station.key", encrypted=True)
        self.key("officer.key", encrypted=True)
        self.key("res1.key")
        self.key("res2.key")
        self.cert("net.root.key", "station.key", "station", "高埔派出所", "*", node=node)
        self.cert("station.key", "officer.key", "officer", "王警官", group, node=node)
        self.cert("station.key", "res1.key", "resident", "李阿姨", group, node=node)
        self.cert("station.key", "res2.key", "resident", "陈先生", group, node=node)

    def feed_ids(self, node):
        evs = self.json("feed", "--dir", node, "--json", "--all", "--limit", "0")
        return [e["id"] for e in evs]

    def done(self, ok):
        if ok:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            sys.stderr.write("---- log of watchmesh commands ----\n")
            sys.stderr.write("\n".join(self.log))
            sys.stderr.write("\n---- test directory kept: %s\n" % self.dir)


def key_encrypted(path):
    try:
        with open(path) as f:
            return "argon2id" in f.read()
    except OSError:
        return False


def key_seed(path):
    """The Ed25519 seed of a plain key file (watchmesh-key 1 / secret <128 hex>)."""
    with open(path) as f:
        for line in f:
            if line.startswith("secret "):
                return bytes.fromhex(line.split()[1])[:32]
    raise Failure("no plain secret in " + path)


def network_id(path):
    """The 16-byte id of a network file (its line id <32 hex>)."""
    with open(path) as f:
        for line in f:
            if line.startswith("id "):
                return bytes.fromhex(line.split()[1])
    raise Failure("no id line in " + path)


def read_bundle(path):
    """Split a bundle into wire events (raw bytes), by msgpack's own reader."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        u = msgpack.Unpacker(raw=True)
        u.feed(data[pos:pos + 70000])
        u.unpack()
        n = u.tell()
        out.append(data[pos:pos + n])
        pos += n
    return out


def wrap(payload, seed, content):
    """Sign header bytes as the author whose seed is given; the canonical
    wrapper [payload, sig, content], or [payload, sig] (withheld) when
    content is None."""
    ident = hashlib.sha256(payload).digest()
    sig = nacl.signing.SigningKey(seed).sign(ident).signature
    parts = [payload, sig] if content is None else [payload, sig, content]
    return msgpack.packb(parts, use_bin_type=True), ident.hex()


def event(seed, kind, created_at, group, content, refs=(), expires_at=0, prev=b"", network=bytes(16)):
    """A v2 event (proto/PROTOCOL.md section 2) by the author whose seed is
    given: the canonical header over the content's hash, signed and wrapped.
    Returns (wire, id hex)."""
    author = bytes(nacl.signing.SigningKey(seed).verify_key)
    cbytes = msgpack.packb(dict(sorted(content.items())), use_bin_type=True)
    header = [2, kind, author, created_at, network, group, prev, list(refs), expires_at,
              hashlib.sha256(cbytes).digest()]
    return wrap(msgpack.packb(header, use_bin_type=True), seed, cbytes)


def unwrap(wire):
    """[payload, sig, content] (content None when withheld)."""
    w = msgpack.unpackb(wire, raw=True)
    return w[0], w[1], w[2] if len(w) > 2 else None


def event_id(wire):
    return hashlib.sha256(unwrap(wire)[0]).hexdigest()


def main(tests):
    if len(sys.argv) < 3 or sys.argv[2] not in tests:
        sys.stderr.write("usage: %s WATCHMESH TEST (one of: %s)\n" % (sys.argv[0], " ".join(tests)))
        return 2
    name = sys.argv[2]
    env = Env(sys.argv[1], name)
    ok = False
    try:
        r = tests[name](env)
        if r == 77:
            env.done(True)
            return 77
        ok = True
        print("%s: ok" % name)
    except Exception:
        traceback.print_exc()
    finally:
        env.done(ok)
    return 0 if ok else 1


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def sleep_ms(n=5):
    time.sleep(n / 1000.0)
