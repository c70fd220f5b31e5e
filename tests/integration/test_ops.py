"""
Integration tests of what an operator reads and types (issue 13): status
that shows each peer once with its own last error and says when the mesh
is in sync; the data directory and key found without --dir and --key;
certificates listed with their keys in hex, keys taken by name or prefix
(in the peers setting too);
`run`'s errors and warnings (what `meson install` puts: test_install.py).
Real `watchmesh run` processes on 127.0.0.1, through the helpers of
test_mesh.py.

    usage: test_ops.py WATCHMESH CASE SOURCE_ROOT FORGER
    cases: status_peers status_sync dirs keys run_errors conf_gone peers_names
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import (G, Daemon, forge, linked_pair, peers_up, quiet, run_cases, status,  # noqa: E402
                       wait_up, wait_until)
from wmtest import Failure, check  # noqa: E402


def peer_entries(env, node):
    return status(env, node)[1].get("peers", [])


def t_status_peers(env):
    """Two nodes configured with each other's address only (no key), so
    each dials the other and is dialed: one entry per peer, joined with
    the key its dialer learned, up, and no link event as its last error.
    Stopped, the peer is down with the failure of its own link."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure(peers=[b.addr()])
    b.configure(peers=[a.addr()])
    a.start()
    b.start()
    bkey = status(env, "b")[1].get("key")
    for node, other, addr in (("a", "b", b.addr()), ("b", "a", a.addr())):
        wait_until("%s's status to show %s up" % (node, other),
                   lambda: any(p.get("state") == "up" for p in peer_entries(env, node)))
        # both links settle (one of the two is closed as a duplicate)
        wait_until("%s's dialer to learn %s's key" % (node, other),
                   lambda: any(p.get("addr") == addr and p.get("key") for p in peer_entries(env, node)))
        ps = peer_entries(env, node)
        check(len(ps) == 1, "%s lists %d peers for one: %s" % (node, len(ps), ps))
        p = ps[0]
        check(p.get("state") == "up" and p.get("configured") and p.get("addr") == addr,
              "%s's peer entry: %s" % (node, p))
        check("connected (" not in p.get("last_error", ""),
              "%s keeps a link event as the last error: %s" % (node, p))
        rc, out = quiet(env, "status", "--dir", node)
        check("peers: 1 up of 1 known" in out, "%s's status:\n%s" % (node, out))
    check(peer_entries(env, "a")[0].get("key") == bkey, "a's entry has not b's key")
    check(b.stop() == 0, "b: exit status")
    wait_until("a to show b down with the failure of its own link",
               lambda: [p for p in peer_entries(env, "a") if p.get("state") != "up"
                        and p.get("last_error")])
    wait_until("a's dialer to fail on b's closed port",
               lambda: "connect failed" in peer_entries(env, "a")[0].get("last_error", ""))
    ps = peer_entries(env, "a")
    check(len(ps) == 1 and ps[0].get("key") == bkey, "a's peers with b down: %s" % ps)
    rc, out = quiet(env, "status", "--dir", "a")
    check("peers: 0 up of 1 known" in out and "last error: connect failed" in out,
          "a's status with b down:\n%s" % out)
    check(a.stop() == 0, "a: exit status")


def t_status_sync(env):
    """A forged event a refused and remembers counts as held on a alone:
    repair must not report it as a difference on either side, so both say
    "in sync" after the next repairs, and the text status says so."""
    forger = os.path.abspath(sys.argv[4])
    a, b = linked_pair(env)
    forge(env, forger, a, "nonofficial")
    after = time.time() * 1000

    def in_sync(node):
        return [p for p in peer_entries(env, node) if p.get("state") == "up"
                and p.get("last_repair_at", 0) > after and p.get("in_sync")]

    wait_until("a to be in sync with b after the forgery", lambda: in_sync("a"))
    wait_until("b to be in sync with a after the forgery", lambda: in_sync("b"))
    rc, out = quiet(env, "status", "--dir", "a")
    check("in sync with 1 of 1" in out, "a's status:\n%s" % out)
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def wm(env, *args, cwd=None, extra=None, user=False):
    """watchmesh ARGS in cwd (the test dir) with extra environment
    variables and none of WATCHMESH_DIR/KEY otherwise; user=True runs it as
    another user (nobody) when we are root.  (exit status, stdout + stderr)."""
    e = {k: v for k, v in env.env.items() if k not in ("WATCHMESH_DIR", "WATCHMESH_KEY")}
    e.update(extra or {})
    cmd = [env.binary] + [str(a) for a in args]
    if user:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    p = subprocess.run(cmd, cwd=cwd or env.dir, env=e, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    env.log.append("$ %s%s (in %s)\n[exit %d]\n%s" % (
        " ".join("%s=%s " % kv for kv in (extra or {}).items()), " ".join(cmd), cwd or ".",
        p.returncode, out))
    if p.returncode < 0 or p.returncode >= 128:
        raise Failure("watchmesh crashed (status %d): %s" % (p.returncode, " ".join(cmd)))
    return p.returncode, out


def t_dirs(env):
    """WATCHMESH_DIR, the current directory and --dir for run/init/status
    (same as DIR), WATCHMESH_KEY, and "permission denied" for another
    user's node."""
    env.world(node="a", group=G)
    a = env.path("a")
    n = len(env.feed_ids("a"))
    # no directory anywhere: one line saying how to give one
    for args in (["status"], ["export", "--out", "x.bundle"]):
        rc, out = wm(env, *args)
        check(rc == 2 and "give --dir DIR or set WATCHMESH_DIR" in out, "%s without a directory" % args)
    for how in ({"extra": {"WATCHMESH_DIR": a}}, {"cwd": a}):
        rc, out = wm(env, "feed", "--json", "--all", "--limit", "0", **how)
        check(rc == 0 and out.count('"id"') >= n, "feed with %s: %s" % (how, out))
        rc, out = wm(env, "status", **how)
        check(rc == 1 and "node a" in out and "not running" in out, "status with %s" % how)
    # --dir on the command line wins over the environment
    rc, out = wm(env, "export", "--out", env.path("x.bundle"), "--dir", a,
                 extra={"WATCHMESH_DIR": env.path("nowhere")})
    check(rc == 0 and os.path.getsize(env.path("x.bundle")) > 0, "export --dir over WATCHMESH_DIR")
    # init and run take --dir as they take DIR; not both
    rc, out = wm(env, "init", "--dir", "b", "--network", "net", "--name", "b")
    check(rc == 0 and os.path.exists(env.path("b", "node.key")), "init --dir")
    rc, out = wm(env, "init", "--network", "net", "--name", "c", extra={"WATCHMESH_DIR": env.path("c")})
    check(rc == 0 and os.path.exists(env.path("c", "node.key")), "init with WATCHMESH_DIR")
    rc, out = wm(env, "run", "b", "--dir", "b")
    check(rc == 2 and "DIR or --dir DIR" in out, "run DIR --dir DIR: %s" % out)
    Daemon(env, "b").configure()
    with open(env.path("b.log"), "wb") as log:
        p = subprocess.Popen([env.binary, "run", "--dir", "b"], cwd=env.dir, env=env.env,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_until("run --dir b to listen",
                   lambda: "listening on" in open(env.path("b.log")).read() or p.poll() is not None)
        check(p.poll() is None, "run --dir b exited")
        rc, out = wm(env, "status", "--dir", "b")
        check(rc == 0 and "daemon: running" in out, "status --dir b of run --dir b")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    # WATCHMESH_KEY stands for --key
    rc, out = wm(env, "post", "request", "--dir", a, "--group", G, "--topic", "other",
                 "--text", "signed with WATCHMESH_KEY", extra={"WATCHMESH_KEY": env.path("res1.key")})
    check(rc == 0 and len(out.strip()) == 64, "post with WATCHMESH_KEY: %s" % out)
    rc, out = wm(env, "post", "request", "--dir", a, "--group", G, "--topic", "other", "--text", "x")
    check(rc == 2 and "--key" in out, "post without a key: %s" % out)
    # another user's node: permission denied, not "not a data directory"
    if os.geteuid() == 0:
        rc, out = wm(env, "feed", "--dir", a, user=True)
    else:
        os.chmod(a, 0)
        try:
            rc, out = wm(env, "feed", "--dir", a)
        finally:
            os.chmod(a, 0o700)
    check(rc == 1 and "permission denied" in out and "not a watchmesh" not in out,
          "another user's node: %s" % out)


def t_keys(env):
    """certs (and cert list) show every certificate with its subject's
    whole key in hex and its state; show --json gives the subject in hex;
    --to and --subject take a certificate's name or a key prefix of 6+
    digits, and say so when a name is not unique, revoked (--to), or a
    prefix too short; --subject prefers the certificate that holds now and
    else takes an expired or revoked one's."""
    env.world(node="a", group=G)
    keys = {f: env.run("key", "show", f)[0].strip() for f in
            ("station.key", "officer.key", "res1.key", "res2.key")}
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", "res2.key", "--dir", "a", "--yes")
    certs = env.json("certs", "--dir", "a", "--json")
    check(certs == env.json("cert", "list", "--dir", "a", "--json"), "cert list differs from certs")
    by = {c["subject"]: c for c in certs}
    check(set(by) == set(keys.values()) and len(certs) == 4, "certs lists: %s" % certs)
    for f, name, role, state in (("station.key", "高埔派出所", "station", "valid"),
                                 ("officer.key", "王警官", "officer", "valid"),
                                 ("res2.key", "陈先生", "resident", "revoked")):
        c = by[keys[f]]
        check((c["name"], c["role"], c["state"], c["revoked"]) == (name, role, state, state == "revoked"),
              "certs: %s" % c)
    check(by[keys["officer.key"]]["groups"] == [G] and
          by[keys["officer.key"]]["issuer"] == keys["station.key"], "certs: officer's groups, issuer")
    out, _ = env.run("certs", "--dir", "a")
    line = [ln for ln in out.splitlines() if "王警官" in ln]
    check(line and keys["officer.key"] in line[0] and "valid" in line[0], "certs text:\n" + out)
    shown = env.json("show", by[keys["station.key"]]["id"], "--dir", "a", "--json")
    check(shown["content"]["subject"] == keys["station.key"], "show --json subject: %s" % shown)

    def to(who, rc=0):
        out, err = env.run("post", "request", "--dir", "a", "--key", "res1.key", "--group", G,
                           "--topic", "other", "--text", "请王警官回电话", "--to", who, rc=rc)
        return out.strip(), err

    sealed = [to("王警官")[0], to(keys["officer.key"][:6])[0]]
    opened = {e["id"]: e for e in env.json("feed", "--dir", "a", "--key", "officer.key",
                                           "--passphrase-file", env.passfile, "--json")}
    for eid in sealed:
        check(opened.get(eid, {}).get("private_text") == "请王警官回电话",
              "the officer cannot read what was sealed to his name or prefix: %s" % opened.get(eid))
    _, err = to(keys["officer.key"][:5], rc=2)
    check("at least 6 hex digits" in err, "a 5-digit prefix: " + err)
    _, err = to("王", rc=2)
    check("not a key, a key file or the name of a valid certificate" in err, "an unknown name: " + err)
    _, err = to("陈先生", rc=2)
    check("not a key" in err, "a revoked key's name: " + err)
    env.cert("station.key", "res1.key", "resident", "王警官", G, node="a")
    _, err = to("王警官", rc=2)
    check("matches 2 keys" in err and keys["officer.key"][:16] in err and keys["res1.key"][:16] in err,
          "an ambiguous name: " + err)

    # --subject: by prefix (cert renew, post revoke), refused when ambiguous,
    # then by the name only one valid certificate still has
    def cert(*args, rc=0):
        return env.run("cert", *args, "--issuer", "station.key", "--passphrase-file", env.passfile,
                       "--dir", "a", rc=rc)[1]
    cert("renew", "--subject", keys["officer.key"][:6])
    certs = env.json("certs", "--dir", "a", "--json")
    check(sum(c["subject"] == keys["officer.key"] for c in certs) == 2, "renew by prefix: %s" % certs)
    err = cert("revoke", "--subject", "王警官", "--yes", rc=2)
    check("matches 2 keys" in err, "revoke of an ambiguous name: " + err)
    err = cert("revoke", "--subject", keys["res1.key"][:5], "--yes", rc=2)
    check("at least 6 hex digits" in err, "revoke by a 5-digit prefix: " + err)
    env.run("post", "revoke", "--key", "station.key", "--passphrase-file", env.passfile, "--dir", "a",
            "--subject", keys["res1.key"][:6])
    cert("revoke", "--subject", "王警官", "--yes")
    by = {c["subject"]: c["state"] for c in env.json("certs", "--dir", "a", "--json")}
    check(by[keys["res1.key"]] == "revoked" and by[keys["officer.key"]] == "revoked",
          "revoked by prefix and then by name: %s" % by)
    # no valid certificate left of that name: the revoked ones name the keys
    err = cert("revoke", "--subject", "王警官", "--yes", rc=2)
    check("matches 2 keys" in err, "a name only revoked certificates share: " + err)
    cert("revoke", "--subject", "陈先生", "--yes")


def run_fails(env, node):
    rc, out = wm(env, "run", node)
    check(rc == 1 and len(out.strip().splitlines()) == 1, "run %s: exit %d, not one line:\n%s" % (node, rc, out))
    return out


def t_run_errors(env):
    """`run`'s start-up errors name the setting, its file (and line) and
    what to change; a missing watchmesh.conf is refused saying how to make
    one; a node key others may read is a warning that says what to do."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    a.start()
    conf = env.path("b", "watchmesh.conf")
    b.configure(listen=a.addr())
    out = run_fails(env, "b")
    check("already in use" in out and "`listen` in b/watchmesh.conf" in out and "free port" in out,
          "port in use: " + out)
    b.configure(listen="7799")
    out = run_fails(env, "b")
    check("b/watchmesh.conf: line " in out and "listen must be an address and a port" in out and
          "0.0.0.0:7700" in out,
          "listen without a port: " + out)
    b.configure()
    with open(conf, "a") as f:
        f.write("repair_interval = soon\n")
    lines = open(conf).read().splitlines()
    out = run_fails(env, "b")
    check("b/watchmesh.conf: line %d" % len(lines) in out and "repair_interval" in out, "a bad value: " + out)
    b.configure()
    with open(conf, "w") as f:
        f.write("\n".join(lines[:-1]) + "\n")
    os.chmod(env.path("b", "node.key"), 0o644)
    b.start()
    check("chmod 600 %s" % env.path("b", "node.key") in b.log(), "no warning about node.key:\n" + b.log())
    check("watchmesh.conf is missing" not in b.log(), "a warning about a conf that is there")
    b.stop()
    os.chmod(env.path("b", "node.key"), 0o600)
    os.unlink(conf)
    out = run_fails(env, "b")
    check("b/watchmesh.conf is missing" in out and "watchmesh init --dir NEWDIR --network b/network" in out,
          "a missing watchmesh.conf: " + out)
    check(a.stop() == 0, "exit status")


def t_conf_gone(env):
    """SIGHUP with watchmesh.conf deleted keeps the settings the node runs
    on (its peers stay) and says in one line how to restore the file; the
    file put back, the next SIGHUP applies it."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    a.start()
    b.configure(peers=[a.addr()])
    b.start()
    wait_up(env, "b", 1)
    conf = env.path("b", "watchmesh.conf")
    os.rename(conf, conf + ".away")
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to say its config is gone",
               lambda: "b/watchmesh.conf is missing; the node keeps its current settings" in b.log())
    check("peers reloaded" not in b.log() and not b.died(), "b reloaded without a config:\n" + b.log())
    check(len(peers_up(env, "b")) == 1, "b's peers after a SIGHUP without a config: %s" % peers_up(env, "b"))
    os.rename(conf + ".away", conf)
    b.configure(peers=[a.addr()], log_level="debug")
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to apply the file put back", lambda: "SIGHUP: log_level is now debug" in b.log())
    check(len(peers_up(env, "b")) == 1, "b's peers after the file came back: %s" % peers_up(env, "b"))
    check(b.stop() == 0 and a.stop() == 0, "exit status")


def t_peers_names(env):
    """The `peers` setting takes a node's key by its certificate's name or a
    prefix of 6+ digits, as every CLI option does; an unknown or ambiguous
    one is an error naming the file, the line and what matched: `run`
    refuses to start, SIGHUP changes nothing."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    akey = env.run("key", "show", env.path("a", "node.key"))[0].strip()
    env.cert("station.key", akey, "node", "东风村节点", G, node="a")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    a.start()

    def peers_line():
        with open(env.path("b", "watchmesh.conf")) as f:
            return [i + 1 for i, ln in enumerate(f.read().splitlines()) if ln.startswith("peers =")][0]
    # b joins by address first, and so holds the network's certificates
    b.configure(peers=[a.addr()])
    b.start()
    wait_until("b to hold a's node certificate",
               lambda: akey in [c["subject"] for c in env.json("certs", "--dir", "b", "--json")])
    # by name: b dials a and accepts only a's key there
    b.configure(peers=["%s@东风村节点" % a.addr()])
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to reload its peers", lambda: "peers reloaded: 1 added, 1 removed" in b.log())
    wait_up(env, "b", 1)
    check([p.get("key") for p in peer_entries(env, "b")] == [akey], "b's peers: %s" % peer_entries(env, "b"))
    # unknown: SIGHUP says where and why, and keeps the link
    b.configure(peers=["%s@西村节点" % a.addr()])
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to refuse the unknown name", lambda: "nothing changed" in b.log())
    check("b/watchmesh.conf line %d: peers: %s: '西村节点' is not a key, a key file or the name of a "
          "valid certificate here" % (peers_line(), a.addr()) in b.log(), "b's log:\n" + b.log())
    check(len(peers_up(env, "b")) == 1, "b's link after an unknown name: %s" % peers_up(env, "b"))
    # the name of another node's certificate: a's key is not the one it names
    env.key("other.key")
    other = env.run("key", "show", env.path("other.key"))[0].strip()
    env.cert("station.key", "other.key", "node", "西村节点", G, node="b")
    b.configure(peers=["%s@西村节点" % a.addr()])
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to reload its peers again",
               lambda: len(re.findall("peers reloaded: 1 added, 1 removed", b.log())) == 2)
    time.sleep(3)
    check(peers_up(env, "b") == [] and [p.get("key") for p in peer_entries(env, "b") if p.get("configured")] == [other],
          "b's peers with a's address under another node's name: %s" % peer_entries(env, "b"))
    check(b.stop() == 0, "exit status")
    # a prefix of 8 digits, after a restart
    b.configure(peers=["%s@%s" % (a.addr(), akey[:8])])
    b.start()
    wait_up(env, "b", 1)
    check(b.stop() == 0, "exit status")
    # ambiguous: a second key certified under the same name
    env.cert("station.key", "other.key", "node", "东风村节点", G, node="b")
    b.configure(peers=["%s@东风村节点" % a.addr()])
    rc, out = wm(env, "run", "b")
    lines = out.strip().splitlines()
    check(rc == 1 and len(lines) == 1 and
          "b/watchmesh.conf line %d: peers: %s: '东风村节点' matches 2 keys" % (peers_line(), a.addr()) in lines[0]
          and akey[:16] in lines[0] and other[:16] in lines[0],
          "run with an ambiguous name: exit %d, not the one line that says why:\n%s" % (rc, out))
    check(a.stop() == 0, "exit status")


TESTS = {"status_peers": t_status_peers, "status_sync": t_status_sync, "dirs": t_dirs, "keys": t_keys,
         "run_errors": t_run_errors, "conf_gone": t_conf_gone, "peers_names": t_peers_names}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "ops", "SRC FORGER"))
