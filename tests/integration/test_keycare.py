"""
Integration tests of key care (issue 13 item 9), with real daemons through
test_mesh.py's helpers.

  renew    `status` warns of the certificates of DIR/node.key and of other
           key files in DIR that end within 30 days (text and JSON), not of
           those further off; `cert renew` issues the same role, name and
           groups for --days more, and the warning goes; a revoked key is
           never renewed
  rotate   `key rotate` refuses while the daemon runs; after it, a neighbour
           that pinned the old key follows by itself: the old key's statement
           comes after the handshake, the neighbour links, logs one line and
           records the new key in its DIR/pins, and dials the new key after a
           restart; a second rotation is followed the same way
  rotatefake  a node whose statement is forged is not admitted by the
           neighbour that pinned its old key: signed by another key, for
           another network, or older than the rotation it follows (replayed)
  rotaterevoked  the attack of a thief holding a stolen node key: its node
           certificate is revoked (with --compromised-since), then the key
           signs a rotation to a fresh key; the neighbour that pinned it
           refuses to follow, logs why, and keeps its pins as they were
  rotaterevokedchain  the same through a key between: K0 -> K1 -> K2 while
           the neighbour pinning K0 is away, K1 revoked by the network's root
           (it held no certificate); the neighbour refuses the chain
  rotatethenrevoked  the thief was quicker: the neighbour followed K0 -> K1
           (K1 without a node certificate), then receives the revocation of
           K0's: it drops the link, dials K0 and refuses its rotation, marks
           its pins line dropped, says why, and again after a restart; once
           a station certifies K1 it follows again
  rotatethenrevokedchain  the same through a key between, followed in two
           steps K0 -> K1 -> K2 (DIR/pins keeps K1), K1 then revoked by root
  rotateretire  the honest case of docs/keys.md: K0 -> K1 with K1 certified,
           then K0's certificate revoked: the link to K1 stays
  stolen   the stolen-laptop procedure of docs/keys.md, command by command:
           revoke with --compromised-since, a new key, a new certificate
           under the same name; the thief's later posts are refused, the
           officer's earlier ones and new ones are kept

    usage: test_keycare.py WATCHMESH CASE SOURCE_ROOT FORGER
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import G, Daemon, ids, peers_up, run_cases, wait_until  # noqa: E402
from wmtest import check  # noqa: E402

DAY_MS = 86400 * 1000


def warnings(env, node):
    out, _ = env.run("status", "--dir", node, "--json", rc=None)
    return {w["name"]: w for w in json.loads(out).get("certificates_ending", [])}


def t_renew(env):
    env.world(node="v")
    node_pub = env.run("key", "show", env.path("v", "node.key"))[0].strip()
    env.key("v/duty.key")           # an officer's key kept in the data directory
    env.key("far.key")              # a key elsewhere: not this node's care

    def issue(subject, role, name, days):
        env.run("cert", "issue", "--issuer", "station.key", "--passphrase-file", env.passfile,
                "--subject", subject, "--role", role, "--name", name, "--groups", G, "--days", days,
                "--dir", "v")

    issue(node_pub, "node", "村委会节点", "5")
    issue("v/duty.key", "officer", "赵警官", "29")
    issue("far.key", "officer", "钱警官", "3")
    w = warnings(env, "v")
    check(set(w) == {"村委会节点", "赵警官"}, "warnings: %s" % sorted(w))
    check(w["村委会节点"]["days_left"] == 5 and w["村委会节点"]["role"] == "node", "warning: %r" % w["村委会节点"])
    check(w["赵警官"]["days_left"] == 29 and w["赵警官"]["key"] != node_pub, "warning: %r" % w["赵警官"])
    out, _ = env.run("status", "--dir", "v", rc=None)
    check(re.search(r"warning: the certificate of 赵警官 \(officer, v/duty\.key\) ends in 29 days, on "
                    r"\d{4}-\d\d-\d\d; renew it: watchmesh cert renew --issuer ISSUER\.key --subject "
                    + w["赵警官"]["key"] + " --dir v", out), "status text:\n" + out)
    check("钱警官" not in out, "status warns of a key not in DIR:\n" + out)
    # one 31 days from its end is not warned of
    issue("v/duty.key", "officer", "赵警官", "31")
    check(set(warnings(env, "v")) == {"村委会节点"}, "a certificate 31 days from its end is warned of")
    # renewed: the same role, name and groups, for --days more; the warning goes
    env.run("cert", "renew", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", node_pub, "--days", "400", "--dir", "v")
    check(not warnings(env, "v"), "still warned after the renewal: %s" % warnings(env, "v"))
    certs = [c for c in env.json("certs", "--dir", "v", "--json") if c["subject"] == node_pub]
    newest = max(certs, key=lambda c: c["not_after"])
    check(len(certs) == 2 and newest["role"] == "node" and newest["name"] == "村委会节点" and
          newest["groups"] == [G] and newest["state"] == "valid", "the renewal: %r" % certs)
    left = (newest["not_after"] - time.time() * 1000) / DAY_MS
    check(399 < left <= 400, "renewed for %.1f days, not 400" % left)
    # a revoked key is never renewed
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", "res2.key", "--yes", "--dir", "v")
    _, err = env.run("cert", "renew", "--issuer", "station.key", "--passphrase-file", env.passfile,
                     "--subject", env.run("key", "show", "res2.key")[0].strip(), "--dir", "v", rc=1)
    check("revoked" in err and "never renewed" in err, "renewing a revoked key: " + err)


def pub_of(env, path):
    return env.run("key", "show", path)[0].strip()


def rotated_line(log, old, new):
    return re.search("peer 127.0.0.1:[0-9]+ rotated its key from %s to %s .*recorded in .*/pins" % (old, new), log)


def pinned_pair(env):
    """Nodes a and b running, b linked to a by a's key pinned in its peers
    line: (a, b, a's key)."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    pinned = pub_of(env, env.path("a", "node.key"))
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    b.configure(peers=["%s@%s" % (a.addr(), pinned)])
    a.start()
    b.start()
    wait_until("b to link to a, pinned by its key", lambda: peers_up(env, "b"))
    return a, b, pinned


def t_rotate(env):
    a, b, old = pinned_pair(env)
    _, err = env.run("key", "rotate", "--dir", "a", rc=1)
    check("daemon is running" in err, "key rotate with the daemon running: " + err)
    a.stop()
    out, err = env.run("key", "rotate", "--dir", "a")
    new = out.strip()
    check(re.fullmatch("[0-9a-f]{64}", new) and new != old, "key rotate printed %r" % out)
    check(pub_of(env, env.path("a", "node.key")) == new, "node.key is not the new key")
    kept = [f for f in os.listdir(env.path("a")) if f.startswith("node.key.old-")]
    check(len(kept) == 1 and pub_of(env, env.path("a", kept[0])) == old,
          "the old key was not kept: %s" % kept)
    check("follow by themselves" in err and "ADDR@" + new in err, "key rotate does not say what happens: " + err)
    check(os.path.getsize(env.path("a", "rotation")) == 178, "a/rotation is not one statement")
    # b's peers line still names the old key: b follows by itself
    a.start()
    wait_until("b to follow a's rotation, logging a line naming both keys", lambda: rotated_line(b.log(), old, new))
    wait_until("b to link to a's new key", lambda: "%.16s): connected" % new in b.log())
    with open(env.path("b", "pins")) as f:
        pins = f.read().split()
    check(pins[:3] == [a.addr(), old, new] and len(pins) == 4, "b/pins: %r" % pins)
    check(ids(env, "a") == ids(env, "b") or wait_until("a and b to converge",
                                                        lambda: ids(env, "a") == ids(env, "b")), "no sync")
    # after a restart b dials the new key at once (no statement needed)
    b.stop()
    b.start()
    wait_until("b to link again after a restart",
               lambda: "%.16s): connected" % new in b.log().split("---- start")[-1])
    check(len(re.findall("rotated its key", b.log())) == 1, "b followed the rotation twice")
    # a second rotation: b follows from the key it recorded
    a.stop()
    newer = env.run("key", "rotate", "--dir", "a")[0].strip()
    check(os.path.getsize(env.path("a", "rotation")) == 2 * 178, "a/rotation does not hold both statements")
    a.start()
    wait_until("b to follow a's second rotation", lambda: rotated_line(b.log(), new, newer))
    wait_until("b to link to a's newest key", lambda: "%.16s): connected" % newer in b.log())
    with open(env.path("b", "pins")) as f:
        check(f.read().split()[:3] == [a.addr(), old, newer], "b/pins after the second rotation")


def statement(netid, old, new, at, signer_seed):
    """A rotation record as PROTOCOL.md §10 has it, made here independently."""
    import hashlib
    import msgpack
    import nacl.signing
    st = msgpack.packb(["watchmesh-rotate", 1, netid, old, new, at], use_bin_type=True)
    return st + nacl.signing.SigningKey(signer_seed).sign(hashlib.sha256(st).digest()).signature


def key_seed(path):
    with open(path) as f:
        return bytes.fromhex(re.search(r"^secret ([0-9a-f]{128})$", f.read(), re.M).group(1))[:32]


def t_rotatefake(env):
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    with open(env.path("a", "network")) as f:
        netid = bytes.fromhex(re.search(r"^id ([0-9a-f]{32})$", f.read(), re.M).group(1))
    old = pub_of(env, env.path("a", "node.key"))
    old_seed = key_seed(env.path("a", "node.key"))
    new = env.run("key", "rotate", "--dir", "a")[0].strip()
    env.key("other.key")            # another key, and a key b followed to earlier
    env.key("mid.key")
    other_seed, mid = key_seed(env.path("other.key")), pub_of(env, env.path("mid.key"))
    now = int(time.time() * 1000)
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    b.configure(peers=["%s@%s" % (a.addr(), old)])
    cases = [
        ("signed by another key", statement(netid, bytes.fromhex(old), bytes.fromhex(new), now, other_seed),
         None, "signature does not verify"),
        ("for another network", statement(b"\x55" * 16, bytes.fromhex(old), bytes.fromhex(new), now, old_seed),
         None, "for another network"),
        # b followed old to mid at `now`; an older statement of mid's is replayed
        ("replayed older", statement(netid, bytes.fromhex(mid), bytes.fromhex(new), now - 60000,
                                     key_seed(env.path("mid.key"))),
         "%s %s %s %d\n" % (a.addr(), old, mid, now), "older than the rotation we follow"),
    ]
    for what, rec, pins, fault in cases:
        with open(env.path("a", "rotation"), "wb") as f:
            f.write(rec)
        if pins:
            with open(env.path("b", "pins"), "w") as f:
                f.write(pins)
        a.start()
        b.start()
        refused = "refused: the peer's key rotation does not verify from [0-9a-f]{16}\\.\\.\\.: [^\\n]*" + fault
        wait_until("b to refuse a's statement %s (twice) or follow it" % what,
                   lambda: len(re.findall(refused, b.log())) >= 2 or "rotated its key" in b.log())
        check(not peers_up(env, "b") and not peers_up(env, "a"), "a statement %s was followed" % what)
        check("rotated its key" not in b.log(), "b logged a rotation %s" % what)
        if pins:
            with open(env.path("b", "pins")) as f:
                check(f.read() == pins, "b/pins changed by a statement %s" % what)
        else:
            check(not os.path.exists(env.path("b", "pins")), "b/pins written for a statement %s" % what)
        a.stop()
        b.stop()


def t_rotaterevoked(env):
    a, b, old = pinned_pair(env)
    env.run("cert", "issue", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", old, "--role", "node", "--name", "a 的节点", "--groups", G, "--days", "300", "--dir", "a")
    # stolen at t: revoked keeping what it signed before, as docs/keys.md says
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile, "--subject", old,
            "--compromised-since", str(int(time.time() * 1000)), "--reason", "machine stolen", "--yes", "--dir", "a")

    def revoked_at_b():
        return [c["state"] for c in env.json("certs", "--dir", "b", "--json") if c["subject"] == old] == ["revoked"]
    wait_until("b to hold the revocation of a's node certificate", revoked_at_b)
    # the thief's copy of the key hands its place to a fresh key
    a.stop()
    env.run("key", "rotate", "--dir", "a")
    a.start()
    refused = ("refused: the peer's key rotation is signed by a revoked key: the node certificate of key %.16s is "
               "revoked" % old)
    wait_until("b to refuse the revoked key's rotation (twice) or follow it",
               lambda: len(re.findall(refused, b.log())) >= 2 or "rotated its key" in b.log())
    check("rotated its key" not in b.log(), "b followed the rotation of a revoked key")
    check(not peers_up(env, "b") and not peers_up(env, "a"), "b linked to the revoked key's successor")
    check(not os.path.exists(env.path("b", "pins")), "b/pins written for a revoked key's rotation")


def t_rotaterevokedchain(env):
    a, b, k0 = pinned_pair(env)
    wait_until("b to hold the station's certificate",
               lambda: any(c["role"] == "station" for c in env.json("certs", "--dir", "b", "--json")))
    a.stop()
    b.stop()
    # a rotates twice while b is away; the key between was stolen, and the
    # network's root revoked it (it held no certificate)
    # (two rotations within one second, each old key kept under its own name)
    k1 = env.run("key", "rotate", "--dir", "a")[0].strip()
    env.run("key", "rotate", "--dir", "a")
    kept = sorted(pub_of(env, env.path("a", f)) for f in os.listdir(env.path("a")) if f.startswith("node.key.old-"))
    check(kept == sorted([k0, k1]), "the two old keys kept: %s" % kept)
    env.run("cert", "revoke", "--issuer", "net.root.key", "--passphrase-file", env.passfile, "--subject", k1,
            "--reason", "machine stolen", "--yes", "--dir", "b")
    a.start()
    b.start()
    refused = "refused: the peer's key rotation is signed by a revoked key: the network's root revoked key %.16s" % k1
    wait_until("b to refuse a chain through a revoked key (twice) or follow it",
               lambda: len(re.findall(refused, b.log())) >= 2 or "rotated its key" in b.log())
    check("rotated its key" not in b.log(), "b followed a chain through a revoked key")
    check(not os.path.exists(env.path("b", "pins")), "b/pins written for a chain through a revoked key")


def node_cert(env, subject, node):
    env.run("cert", "issue", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", subject, "--role", "node", "--name", "a 的节点", "--groups", G,
            "--days", "300", "--dir", node)


def cert_states(env, node, subject):
    certs = env.json("certs", "--dir", node, "--json")
    return [c["state"] for c in certs if c["subject"] == subject]


def followed_pair(env, certify_new):
    """pinned_pair, a's key K0 with a node certificate that b holds, then a
    rotated to K1 (certified at a first if certify_new) and b following:
    (a, b, K0, K1)."""
    a, b, k0 = pinned_pair(env)
    node_cert(env, k0, "a")
    wait_until("b to hold a's node certificate", lambda: cert_states(env, "b", k0) == ["valid"])
    a.stop()
    k1 = env.run("key", "rotate", "--dir", "a")[0].strip()
    if certify_new:
        node_cert(env, k1, "a")
    a.start()
    wait_until("b to follow a's rotation", lambda: rotated_line(b.log(), k0, k1))
    wait_until("b to link to a's new key",
               lambda: "%.16s): connected" % k1 in b.log() and peers_up(env, "b"))
    return a, b, k0, k1


def no_longer_counts(log, addr, k0, k1):
    return re.search("peer %s: its key rotation from %s to %s no longer counts: the node "
                     "certificate of key %.16s is revoked, and key %.16s holds no node "
                     "certificate; .*remove the peer or change its peers line"
                     % (re.escape(addr), k0, k1, k0, k1), log)


def t_rotatethenrevoked(env):
    a, b, k0, k1 = followed_pair(env, certify_new=False)
    # the thief's node dials b too
    a.stop()
    a.configure(peers=[b.addr()])
    a.start()
    wait_until("b to link to K1 again", lambda: peers_up(env, "b"))
    # a thief rotated the stolen K0 to K1 before b held K0's revocation;
    # now it does (as an import, or from another neighbour, would bring it)
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", k0, "--reason", "machine stolen", "--yes", "--dir", "b")
    wait_until("b to drop the rotation to K1", lambda: no_longer_counts(b.log(), a.addr(), k0, k1))
    wait_until("b's link to K1 to go", lambda: not peers_up(env, "b"))
    refused = ("refused: the peer's key rotation is signed by a revoked key: the node certificate "
               "of key %.16s is revoked" % k0)
    wait_until("b to dial K0 again and refuse its rotation (twice)",
               lambda: len(re.findall(refused, b.log())) >= 2)
    wait_until("b to refuse K1 dialing in (twice)",
               lambda: len(re.findall("key %.16s is refused: peer %s rotated to it, and that "
                                      "rotation no longer counts" % (k1, re.escape(a.addr())),
                                      b.log())) >= 2)
    check(not peers_up(env, "b") and not peers_up(env, "a"), "b linked to K1 after dropping it")
    with open(env.path("b", "pins")) as f:
        pins = f.read()
    check(pins == "dropped %s %s %s %s\n" % (a.addr(), k0, k1, pins.split()[4]),
          "b/pins: %r" % pins)
    # after a restart too: told again, K1 refused, the pins line as it was
    b.stop()
    b.start()
    wait_until("b to refuse K0's rotation after a restart",
               lambda: refused in b.log().split("---- start")[-1])
    check(no_longer_counts(b.log().split("---- start")[-1], a.addr(), k0, k1),
          "not told again at the start")
    check(not peers_up(env, "b"), "b linked to K1 after a restart")
    with open(env.path("b", "pins")) as f:
        check(f.read() == pins, "b/pins changed by a restart")
    # had the rotation been the node's own, its station certifies K1: b follows again
    node_cert(env, k1, "b")
    again = "peer %s: its key rotation from %s to %s counts again" % (re.escape(a.addr()), k0, k1)
    wait_until("b to follow K1 again", lambda: re.search(again, b.log()))
    wait_until("b to link to K1 again", lambda: peers_up(env, "b"))
    with open(env.path("b", "pins")) as f:
        check(f.read() == pins[len("dropped "):], "b/pins once K1 is certified")


def t_rotatethenrevokedchain(env):
    a, b, k0 = pinned_pair(env)
    keys = [k0]
    for _ in range(2):              # K0 -> K1, then K1 -> K2, each followed
        a.stop()
        keys.append(env.run("key", "rotate", "--dir", "a")[0].strip())
        a.start()
        wait_until("b to follow a's rotation", lambda: rotated_line(b.log(), keys[-2], keys[-1]))
        wait_until("b to link to a's new key", lambda: "%.16s): connected" % keys[-1] in b.log())
    k1, k2 = keys[1:]
    with open(env.path("b", "pins")) as f:
        pins = f.read().split()
    check(pins[:3] == [a.addr(), k0, k2] and pins[4:] == [k1], "b/pins keeps the chain: %r" % pins)
    # the key between was stolen; the network's root revokes it (it held no certificate)
    env.run("cert", "revoke", "--issuer", "net.root.key", "--passphrase-file", env.passfile,
            "--subject", k1, "--reason", "machine stolen", "--yes", "--dir", "b")
    dropped = ("its key rotation from %s to %s no longer counts: the network's root revoked key "
               "%.16s, and key %.16s holds no node certificate" % (k0, k2, k1, k2))
    wait_until("b to drop the rotation to K2", lambda: re.search(dropped, b.log()))
    wait_until("b's link to K2 to go", lambda: not peers_up(env, "b"))
    with open(env.path("b", "pins")) as f:
        check(f.read().split() == ["dropped"] + pins, "b/pins after the drop")


def t_rotateretire(env):
    a, b, k0, k1 = followed_pair(env, certify_new=True)
    downs = b.log().count(" down: ")
    # docs/keys.md: the old key's certificate is revoked once the neighbours followed
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", k0, "--reason", "key retired", "--yes", "--dir", "a")
    wait_until("b to hold K0's revocation and K1's certificate",
               lambda: cert_states(env, "b", k0) == ["revoked"] and
               cert_states(env, "b", k1) == ["valid"])
    time.sleep(3 * 2)                   # three status ticks, each judging the rotation
    check("no longer counts" not in b.log() and b.log().count(" down: ") == downs,
          "b dropped the honest rotation:\n" + b.log())
    check(peers_up(env, "b"), "b's link to K1 went")
    with open(env.path("b", "pins")) as f:
        check(f.read().split()[:3] == [a.addr(), k0, k1], "b/pins after K0's retirement")
    b.stop()
    b.start()
    wait_until("b to link to K1 after a restart",
               lambda: "%.16s): connected" % k1 in b.log().split("---- start")[-1])


def t_stolen(env):
    env.world(node="v", group=G)
    post = ["post", "bulletin", "--dir", "v", "--group", G, "--passphrase-file", env.passfile]
    before = env.run(*(post + ["--key", "officer.key", "--title", "巡逻", "--text", "今晚巡逻。"]))[0].strip()
    time.sleep(0.01)
    # the laptop is gone at T; the thief posts with its copy after
    t = int(time.time() * 1000)
    time.sleep(0.01)
    thief = env.run(*(post + ["--key", "officer.key", "--title", "通知", "--text", "请转账到安全账户。"]))[0].strip()
    # 1. the key, from the certificates' list; revoked, keeping only what
    # arrived before T
    key = [c["subject"] for c in env.json("certs", "--dir", "v", "--json") if c["name"] == "王警官"]
    check(len(key) == 1, "certs lists %d keys named 王警官" % len(key))
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", key[0], "--compromised-since", str(t), "--reason", "laptop stolen", "--yes",
            "--dir", "v")
    # 2. a new key, 3. a certificate for it under the same name and groups
    env.key("officer2.key", encrypted=True)
    env.cert("station.key", "officer2.key", "officer", "王警官", G, node="v")
    after = env.run(*(post + ["--key", "officer2.key", "--title", "提醒", "--text", "新钥匙已启用。"]))[0].strip()
    held = ids(env, "v")
    check(before in held and after in held, "the officer's posts before the theft or with the new key are gone")
    check(thief not in held, "the thief's post after the theft is still shown")
    _, err = env.run(*(post + ["--key", "officer.key", "--title", "x", "--text", "再试一次。"]), rc=1)
    check("revoked" in err, "the stolen key still signs: " + err)


TESTS = {"renew": t_renew, "rotate": t_rotate, "rotatefake": t_rotatefake, "rotaterevoked": t_rotaterevoked,
         "rotaterevokedchain": t_rotaterevokedchain, "rotatethenrevoked": t_rotatethenrevoked,
         "rotatethenrevokedchain": t_rotatethenrevokedchain, "rotateretire": t_rotateretire,
         "stolen": t_stolen}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "keycare", "SRC FORGER"))
