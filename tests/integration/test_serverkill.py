"""
The serving side killed (issue 12 item 11), with real daemons on
127.0.0.1: b catches up on N events that a holds, and a is killed with
SIGKILL in the middle of it, again and again.  b must notice (the peer
down in its log), back off and dial again, and end with every event: from a
when a returns (case returns), or from c, another node holding them, when a
stays dead (case other).  b must never crash, and a's store must survive
each kill.  Prints how many kills fell inside the catch-up and how long b
took in all.

    usage: test_serverkill.py WATCHMESH CASE SOURCE_ROOT
    cases: returns other
"""
import os
import random
import signal
import sqlite3
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import check  # noqa: E402
from test_mesh import G, Daemon, run_cases, status, wait_until  # noqa: E402

N = 20000
KILLS = 5


def stored(env, node):
    return status(env, node)[1].get("store", {}).get("events", -1)


def bundle_of_requests(env, n):
    """A bundle of n requests by res1, made here from the shape of one the
    CLI signs (its content, the text changed), created over the last hour."""
    out = env.path("one.bundle")
    env.post("request", None, "res1.key", "--group", G, "--text", "样本", "--out", out)
    with open(out, "rb") as f:
        payload, _, cbytes = wmtest.unwrap(f.read())
    header = msgpack.unpackb(payload, raw=False)
    content = msgpack.unpackb(cbytes, raw=False)
    seed = wmtest.key_seed(env.path("res1.key"))
    now = int(time.time() * 1000)
    path = env.path("many.bundle")
    with open(path, "wb") as f:
        for i in range(n):
            content["text"] = "第%d条：路灯坏了" % i
            wire, _ = wmtest.event(seed, header[1], now - 3600 * 1000 + i * 100, G, content,
                                   network=header[4])
            f.write(wire)
    return path


def servers(env, names):
    """Nodes holding the certificates and N requests; b empty."""
    env.world(node=names[0], group=G)
    bundle = bundle_of_requests(env, N)
    for name in names[1:]:
        env.run("init", name, "--network", "net", "--name", name)
    env.run("export", "--dir", names[0], "--out", env.path("certs.bundle"))
    for name in names:
        if name != names[0]:
            env.run("import", "--dir", name, env.path("certs.bundle"))
        env.run("import", "--dir", name, bundle)
    env.run("init", "b", "--network", "net", "--name", "b")
    total = stored(env, names[0])
    check(total >= N, "%s holds %d events, not %d and the certificates" % (names[0], total, N))
    return total


def kill_during_catchup(env, a, b, total, kills, restart, rnd):
    """SIGKILL a a moment after b's store starts growing again (b fetching
    from a, its only source while a runs), `kills` times; start it again
    after a second when restart.  A wait for b's link to come up is not
    enough: on a quiet machine b fetches the 20,000 in well under a second,
    and a fixed pause after the link came up let b finish before the third
    kill.  Returns the kills that fell before b held everything."""
    inside, held = 0, 0
    for i in range(kills):
        until_fetching(env.path("b"), held)
        time.sleep(rnd.uniform(0, 0.05))
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        a.kill()
        now = stored(env, "b")
        inside += now < total
        print("kill %d of a: b held %d of %d" % (i + 1, now, total))
        check(not b.died(), "b exited when a was killed")
        if restart:
            # a runs again after every kill, the last one too: the test
            # stops it and reads its store afterwards
            time.sleep(1)
            held = held_count(env.path("b"))    # b's last batches from a committed by now
            a.start()
        if now >= total:
            break
    return inside


def held_count(node_dir):
    """Events the node holds now, read while it runs (read-only: never the last
    connection, so nothing is checkpointed); 0 when the store is busy."""
    try:
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(node_dir, "store.db"), uri=True, timeout=0.05)
        try:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def until_fetching(node_dir, some):
    """Back once the node holds more than `some` events: its catch-up is
    under way.  Polled every 10 ms: on a quiet machine a node fetches the
    20,000 in well under a second, and a kill after that would miss it."""
    deadline = time.monotonic() + 120
    while held_count(node_dir) <= some:
        check(time.monotonic() < deadline, "%s fetched nothing past %d events in 120 s"
              % (os.path.basename(node_dir), some))
        time.sleep(0.01)


def integrity(env, node):
    db = sqlite3.connect(env.path(node, "store.db"))
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def noticed(b, a):
    """b logged a's link going down, and a redial backed off."""
    lines = b.log().splitlines()
    return (any(" %s down: " % a.addr() in ln for ln in lines) and
            any("peer %s" % a.addr() in ln and "retrying in" in ln for ln in lines))


def seeded():
    seed = int(os.environ.get("WATCHMESH_SERVERKILL_SEED", random.randrange(1 << 30)))
    print("serverkill: seed %d (WATCHMESH_SERVERKILL_SEED=%d replays the moments of the kills)"
          % (seed, seed))
    return random.Random(seed)


def t_returns(env):
    total = servers(env, ["a"])
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    b.configure(peers=[a.addr()])
    a.start()
    t0 = time.monotonic()
    b.start()
    inside = kill_during_catchup(env, a, b, total, KILLS, True, seeded())
    wait_until("b to hold all %d events" % total, lambda: stored(env, "b") == total, timeout=240)
    print("b caught up on %d events in %.1f s through %d kills of a inside the catch-up"
          % (total, time.monotonic() - t0, inside))
    check(inside >= 3, "only %d kills fell inside the catch-up: the test did not test" % inside)
    check(noticed(b, a), "b's log does not say a went down and the redial backed off")
    check(stored(env, "a") == total, "a's store after %d kills holds %d" % (inside, stored(env, "a")))
    for d in (a, b):
        check(d.stop() == 0, "%s: exit status" % d.name)
    check(integrity(env, "a") == "ok", "a's store after the kills: %s" % integrity(env, "a"))


def t_other(env):
    total = servers(env, ["a", "c"])
    a, b, c = Daemon(env, "a"), Daemon(env, "b"), Daemon(env, "c")
    a.configure()
    c.configure()
    b.configure(peers=[a.addr(), c.addr()])
    a.start()
    t0 = time.monotonic()
    b.start()
    inside = kill_during_catchup(env, a, b, total, 1, False, seeded())
    check(inside == 1, "a was killed after b had caught up: the test did not test")
    c.start()
    wait_until("b to hold all %d events from c" % total, lambda: stored(env, "b") == total, timeout=240)
    print("b caught up on %d events in %.1f s, from c after a was killed" % (total, time.monotonic() - t0))
    check(noticed(b, a), "b's log does not say a went down and the redial backed off")
    for d in (b, c):
        check(d.stop() == 0, "%s: exit status" % d.name)


TESTS = {"returns": t_returns, "other": t_other}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "serverkill", "SRC"))
