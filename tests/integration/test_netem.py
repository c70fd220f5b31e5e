"""
Failing networks (issue 12 item 10), with real daemons: three nodes in a
triangle, each link through a fault-injecting TCP proxy of this file, while
each node's residents post.  For a while the links delay and jitter every
chunk, stall now and then as TCP does after a lost packet (loss and
reordering on the wire reach the application as exactly that: delay and
stalls), and flap: all connections cut, or held open with nothing passing
(a black hole the keepalive must find), and new ones refused.  Then the
faults stop: every event must arrive everywhere, and the time that takes
is printed.

netem in network namespaces would fault the packets themselves; where this
kernel has it (`tc qdisc add ... netem`), the test says so, but it runs the
proxy either way, so that CI and a laptop run the same test.

    usage: test_netem.py WATCHMESH CASE SOURCE_ROOT
    cases: triangle
"""
import asyncio
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wmtest import check  # noqa: E402
from test_mesh import G, Daemon, free_port, ids, run_cases, wait_until, wait_up  # noqa: E402

FAULTY_S = 30       # how long the links misbehave
POSTS = 8           # events each node's residents post meanwhile


class FaultProxy:
    """127.0.0.1:port -> target, with faults while `faulty`: each chunk
    delayed by delay_ms plus up to jitter_ms, stalled 0.2-1.5 s with
    probability stall_p; flap() cuts every connection or black-holes them
    for a while, refusing new ones meanwhile."""

    def __init__(self, loop, target_port, rnd):
        self.loop, self.target_port, self.rnd = loop, target_port, rnd
        self.port = free_port()
        self.faulty = False
        self.delay_ms, self.jitter_ms, self.stall_p = 30, 120, 0.05
        self.down_until = 0.0        # refusing and black-holing until then (monotonic)
        self.conns = set()
        self.counts = {"conns": 0, "refused": 0, "cuts": 0, "holes": 0, "stalls": 0}
        asyncio.run_coroutine_threadsafe(self._listen(), loop).result()

    async def _listen(self):
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", self.port)

    async def _conn(self, cr, cw):
        if time.monotonic() < self.down_until:
            self.counts["refused"] += 1
            cw.transport.abort()
            return
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cw.transport.abort()
            return
        self.counts["conns"] += 1
        pair = (cw, sw)
        self.conns.add(pair)
        await asyncio.gather(self._pump(cr, sw), self._pump(sr, cw), return_exceptions=True)
        self.conns.discard(pair)
        for w in pair:
            w.transport.abort()

    async def _pump(self, r, w):
        while True:
            data = await r.read(4096)
            if not data:
                w.close()
                return
            if self.faulty:
                wait = (self.delay_ms + self.rnd.uniform(0, self.jitter_ms)) / 1000
                if self.rnd.random() < self.stall_p:
                    self.counts["stalls"] += 1
                    wait += self.rnd.uniform(0.2, 1.5)
                await asyncio.sleep(wait)
            while time.monotonic() < self.down_until:   # a black hole holds what it has
                await asyncio.sleep(0.05)
            w.write(data)
            await w.drain()

    def flap(self, seconds, hole):
        """Cut (hole=False) or black-hole (True) every connection, and
        refuse new ones, for `seconds`."""
        def go():
            self.down_until = time.monotonic() + seconds
            self.counts["holes" if hole else "cuts"] += 1
            if not hole:
                for pair in list(self.conns):
                    for w in pair:
                        w.transport.abort()
        self.loop.call_soon_threadsafe(go)


def netem_here():
    """Whether this kernel has netem (a throwaway namespace and veth pair)."""
    if os.geteuid() != 0:
        return "not root"
    ns = "wmnetem%d" % os.getpid()
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
            return "no network namespaces"
        subprocess.run(["ip", "-n", ns, "link", "add", "wmv0", "type", "veth", "peer", "name", "wmv1"],
                       capture_output=True)
        p = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "wmv0", "root",
                            "netem", "delay", "10ms"], capture_output=True, text=True)
        return "yes" if p.returncode == 0 else (p.stderr.strip() or "tc failed")
    except OSError as e:
        return str(e)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def t_triangle(env):
    print("netem in namespaces: %s; the faults come from a TCP proxy" % netem_here())
    seed = int(os.environ.get("WATCHMESH_NETEM_SEED", random.randrange(1 << 30)))
    print("netem: seed %d (WATCHMESH_NETEM_SEED=%d replays the faults' choices)" % (seed, seed))
    rnd = random.Random(seed)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("init", "c", "--network", "net", "--name", "c")
    a, b, c = Daemon(env, "a"), Daemon(env, "b"), Daemon(env, "c")
    ab, ac, bc = (FaultProxy(loop, b.port, rnd), FaultProxy(loop, c.port, rnd),
                  FaultProxy(loop, c.port, rnd))
    proxies = (ab, ac, bc)
    # a link silent 3 x keepalive (6 s) is closed: the longer black holes
    a.configure(peers=["127.0.0.1:%d" % ab.port, "127.0.0.1:%d" % ac.port], keepalive=2)
    b.configure(peers=["127.0.0.1:%d" % bc.port], keepalive=2)
    c.configure(keepalive=2)
    for d in (a, b, c):
        d.start()
    wait_up(env, "a", 2)
    wait_up(env, "c", 2)

    for p in proxies:
        p.faulty = True
    posted, t_end = [], time.monotonic() + FAULTY_S
    keys = {"a": "res1.key", "b": "res2.key", "c": "res1.key"}
    i = 0
    while time.monotonic() < t_end:
        i += 1
        for node, key in keys.items():
            if len(posted) < 3 * POSTS:
                posted.append(env.post("request", node, key, "--group", G, "--text",
                                       "断网测试 %s %d" % (node, i)))
        p = rnd.choice(proxies)
        p.flap(rnd.uniform(1, 10), hole=rnd.random() < 0.5)
        time.sleep(rnd.uniform(1, 3))
    for p in proxies:
        p.faulty = False
        p.down_until = 0.0
    t_calm = time.monotonic()
    counts = {k: sum(p.counts[k] for p in proxies) for k in proxies[0].counts}
    print("netem: %d s of faults: %d connections through the proxies, %d cut, %d black-holed, "
          "%d refused, %d stalls" % (FAULTY_S, counts["conns"], counts["cuts"], counts["holes"],
                                     counts["refused"], counts["stalls"]))
    check(counts["cuts"] > 0 and counts["holes"] > 0, "the faults did not happen: %s" % counts)

    want = set(posted)
    everywhere = wait_until("every event at every node",
                            lambda: all(want <= ids(env, n) for n in "abc") and
                            ids(env, "a") == ids(env, "b") == ids(env, "c"), timeout=120)
    print("netem: %d events posted during the faults reached all 3 nodes %.1f s after the faults stopped"
          % (len(want), time.monotonic() - t_calm))
    check(everywhere, "not converged")
    timeouts = sum(d.log().count("timed out: nothing received") for d in (a, b, c))
    print("netem: %d links closed by the keepalive in a black hole" % timeouts)
    for d in (a, b, c):
        check(d.stop() == 0, "%s: exit status" % d.name)
    loop.call_soon_threadsafe(loop.stop)


TESTS = {"triangle": t_triangle}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "netem", "SRC"))
