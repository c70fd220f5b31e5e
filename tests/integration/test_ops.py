"""
Integration tests of what an operator reads and types (issue 13): status
that shows each peer once with its own last error and says when the mesh
is in sync.  Real `watchmesh run` processes on 127.0.0.1, through the
helpers of test_mesh.py.

    usage: test_ops.py WATCHMESH CASE SOURCE_ROOT FORGER
    cases: status_peers status_sync
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import (G, Daemon, forge, linked_pair, quiet, run_cases, status,  # noqa: E402
                       wait_until)
from wmtest import check  # noqa: E402


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


TESTS = {"status_peers": t_status_peers, "status_sync": t_status_sync}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "ops", "SRC FORGER"))
