"""
Integration tests of the mesh with real `watchmesh run` processes on
127.0.0.1: each node in its own directory under the test's temporary
directory, on free ports, beacons off.  Every wait is bounded and says what
it was waiting for; every daemon is killed at the end, even on failure, and
the logs of all daemons are printed when a test fails (the directory is
kept).  Tests assert outcomes (what is stored where, what is logged), never
how fast.

    usage: test_mesh.py WATCHMESH CASE SOURCE_ROOT FORGER
    cases: line restart wrongnet forged sighup beacons beacon_attacks flood slowread eclipse
"""
import fcntl
import re
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import Failure, check  # noqa: E402

G = "gaobu.xinhua"
WAIT = 60          # seconds: generous, the machine may be busy with other tests
DAEMONS = []       # every daemon started, for the cleanup


PORTS = []         # the lock files of the ports this process took


def free_port():
    """A port for a daemon to listen on later, never one another test of
    the same run takes meanwhile.  Ports below the kernel's ephemeral range
    (32768-60999), so no outgoing connection is given it as its own port,
    and each held by a lock file kept open until this process ends, so two
    tests running side by side never pick the same one."""
    rnd = random.Random()
    while True:
        port = rnd.randrange(20000, 32000)
        f = open(os.path.join(tempfile.gettempdir(), "watchmesh-test-port-%d.lock" % port), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            f.close()
            continue
        PORTS.append(f)
        return port


def wait_until(what, cond, timeout=WAIT):
    """Poll cond() until it returns something true; Failure after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() > deadline:
            raise Failure("timed out after %d s waiting for: %s" % (timeout, what))
        time.sleep(0.2)


class Daemon:
    """One `watchmesh run DIR` process; its stderr goes to DIR.log."""

    def __init__(self, env, name):
        self.env = env
        self.name = name
        self.dir = env.path(name)
        self.port = free_port()
        self.logpath = env.path(name + ".log")
        self.proc = None
        self.logf = None

    def configure(self, peers=(), **extra):
        path = os.path.join(self.dir, "watchmesh.conf")
        with open(path) as f:
            lines = f.read().splitlines()
        keys = {"listen": "127.0.0.1:%d" % self.port, "peers": ",".join(peers),
                "beacons": "off", "repair_interval": "5", "backoff_max": "2", "http": "off"}
        keys.update({k: str(v) for k, v in extra.items()})
        out = [ln for ln in lines if ln.split("=", 1)[0].strip() not in keys]
        out += ["%s = %s" % kv for kv in keys.items()]
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.logf.write(b"---- start\n")
        self.logf.flush()
        # WATCHMESH_DAEMON_WRAPPER: a command to run the daemon under
        # (`make valgrind` gives valgrind's memcheck)
        wrapper = os.environ.get("WATCHMESH_DAEMON_WRAPPER", "").split()
        self.proc = subprocess.Popen(wrapper + [self.env.binary, "run", self.dir], cwd=self.env.dir,
                                     env=self.env.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        if self not in DAEMONS:
            DAEMONS.append(self)
        wait_until("%s to listen" % self.name,
                   lambda: "listening on" in self.log().split("---- start")[-1] or self.died())
        if self.died():
            raise Failure("%s exited at start (status %s)" % (self.name, self.proc.returncode))

    def died(self):
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the daemon and wait; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("%s did not exit within %d s of signal %d" % (self.name, timeout, sig))
        rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def log(self):
        try:
            with open(self.logpath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def quiet(env, *args):
    """Run watchmesh without adding to the command log (for polling)."""
    p = subprocess.run([env.binary] + [str(a) for a in args], cwd=env.dir, env=env.env,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    if p.returncode < 0 or p.returncode >= 128:
        raise Failure("watchmesh crashed (status %d): %s" % (p.returncode, " ".join(map(str, args))))
    return p.returncode, p.stdout.decode("utf-8", "replace")


def has(env, node, eid):
    rc, out = quiet(env, "show", eid, "--dir", node)
    return rc == 0


def ids(env, node):
    rc, out = quiet(env, "feed", "--dir", node, "--json", "--all", "--limit", "0")
    if rc != 0:
        raise Failure("feed --dir %s failed" % node)
    return set(e["id"] for e in json.loads(out))


def status(env, node):
    rc, out = quiet(env, "status", "--dir", node, "--json")
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {}


def peers_up(env, node):
    rc, st = status(env, node)
    return sorted(p.get("name") or p.get("key", "")[:8] for p in st.get("peers", [])
                  if p.get("state") == "up")


def wait_up(env, node, n):
    wait_until("%s to have %d peers up (status)" % (node, n),
               lambda: len(peers_up(env, node)) >= n)


def line(env):
    """Three villages in a line A - B - C; A holds the certificates."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("init", "c", "--network", "net", "--name", "c")
    a, b, c = Daemon(env, "a"), Daemon(env, "b"), Daemon(env, "c")
    a.configure()
    b.configure(peers=[a.addr()])
    c.configure(peers=[b.addr()], log_level="debug")      # c logs every repair session
    for d in (a, b, c):
        d.start()
    wait_up(env, "a", 1)
    wait_up(env, "b", 2)
    wait_up(env, "c", 1)
    return a, b, c


def converged(env, nodes):
    sets = [ids(env, n) for n in nodes]
    return sets[0] if all(s == sets[0] for s in sets) else None


def alert(env, node, headline="寻找走失老人"):
    return env.post("alert", node, "officer.key", "--group", G, "--headline", headline,
                    "--text", "78岁男性，身穿蓝色外套，于新华村口走失。", "--area", "新华村",
                    "--expires", "6h")


# --- the cases -------------------------------------------------------------------------

def t_line(env):
    a, b, c = line(env)
    # the certificates travel by repair (group "network" first)
    want = ids(env, "a")
    wait_until("the certificates to reach c", lambda: want <= ids(env, "c"))
    # one summary line per repair session: c fetched the certificates from b
    summary = re.compile(r"repair with [0-9a-f]{8} \(b\): scope network, (\d+) round trips, "
                         r"(\d+)/(\d+) bytes, need (\d+), have (\d+), fetched (\d+) in (\d+) ms$", re.M)
    # (how many it fetched in that session depends on what b announced first)
    wait_until("c to log the network repair with b", lambda: summary.search(c.log()))
    check(re.search(r"repair with [0-9a-f]{8} \((a|b|c)\): scope groups, \d+ round trips", c.log()),
          "no summary of a groups session")
    # ... which at log_level info shows only when it fetched something
    check(re.search(r"scope groups, .* fetched 0 in", c.log()) and
          not re.search(r"repair with .* fetched 0 in", a.log() + b.log()),
          "a repair that fetched nothing logged at info")
    t0 = time.monotonic()
    aid = alert(env, "a")
    check(len(aid) == 64, "post alert printed no id")
    wait_until("the alert posted at a (while a runs) to be in c's store", lambda: has(env, "c", aid))
    print("alert a -> c in %.2f s" % (time.monotonic() - t0))
    out, _ = env.run("show", aid, "--dir", "c")
    check("寻找走失老人" in out, "c shows the alert's headline")
    check("local alert %s published" % aid[:16] in a.log(), "a did not log publishing the alert")
    check("published to the mesh" not in b.log() + c.log(), "b or c pushed a received event as local")
    # status shows the peers up, in text and JSON
    out, _ = env.run("status", "--dir", "b")
    check("peers: 2 up" in out, "status of b does not show 2 peers up:\n" + out)
    check(re.search(r"last repair: with .* \d+ round trips, \d+ bytes sent, \d+ received", out),
          "status of b does not show the cost of the last repair:\n" + out)
    rc, st = status(env, "b")
    check(rc == 0 and st.get("running") is True, "status --json: not running")
    check(sorted(peers_up(env, "b")) == ["a", "c"], "b's peers up: %s" % peers_up(env, "b"))
    check(all(p.get("push") in ("eager", "lazy") for p in st["peers"] if p["state"] == "up"),
          "status lacks eager/lazy")
    for d in (a, b, c):
        rc = d.stop()
        check(rc == 0, "%s exited %s on SIGTERM" % (d.name, rc))
        check("SIGTERM: shutting down" in d.log() and "stopped" in d.log(), "%s: no clean stop" % d.name)
    rc, st = status(env, "b")
    check(rc == 1 and st.get("running") is False, "status after stop should say not running")


def t_restart(env):
    a, b, c = line(env)
    wait_until("a, b and c to converge", lambda: converged(env, ["a", "b", "c"]))
    rc = b.stop()
    check(rc == 0, "b exited %s on SIGTERM" % rc)
    wait_until("a and c to see b down", lambda: not peers_up(env, "a") and not peers_up(env, "c"))
    e1 = env.post("bulletin", "a", "officer.key", "--group", G, "--title", "防诈骗提醒",
                  "--text", "近日有人冒充公检法诈骗，请勿向陌生账户转账。", "--category", "fraud")
    e2 = alert(env, "a", "第二次寻人")
    e3 = env.post("request", "c", "res1.key", "--group", G, "--topic", "dispute",
                  "--text", "楼上漏水，协商不成，希望调解。")
    e4 = env.post("ack", "c", "res2.key", "--group", G, "--ref", e2, "--what", "helping")
    # c does not hold e2 yet: its ack arrives before the alert it refers to
    t0 = time.monotonic()
    b.start()
    final = wait_until("a, b and c to converge after b restarted",
                       lambda: converged(env, ["a", "b", "c"]))
    print("converged %.2f s after b restarted (%d events)" % (time.monotonic() - t0, len(final)))
    for e in (e1, e2, e3, e4):
        check(e in final, "event %s missing after convergence" % e[:8])
    # nothing was posted at b: what it got from peers is not pushed again as
    # its own
    check("published to the mesh" not in b.log(), "b pushed events it received as local ones")
    for d in (a, b, c):
        check(d.stop() == 0, "%s: exit status" % d.name)


def t_wrongnet(env):
    env.world(node="a", group=G)
    env.run("network", "create", "--name", "testnet", "--out", "othernet",
            "--root-key", "other.root.key", "--passphrase-file", env.passfile)
    env.run("init", "x", "--network", "othernet", "--name", "x")
    a, x = Daemon(env, "a"), Daemon(env, "x")
    a.configure()
    x.configure(peers=[a.addr()], keepalive=2)
    a.start()
    x.start()
    # a hears something it cannot verify; x never gets an answer
    wait_until("a to log a refused handshake",
               lambda: any(("127.0.0.1" in ln and "handshake" in ln.lower()) or "network secret" in ln
                           for ln in a.log().splitlines()))
    wait_until("x to log a failed handshake to a",
               lambda: any(a.addr() in ln and ("handshake" in ln.lower() or "timed out" in ln)
                           for ln in x.log().splitlines()), timeout=90)
    check(" up (" not in a.log() and " up (" not in x.log(), "a link came up across networks")
    check(peers_up(env, "a") == [] and peers_up(env, "x") == [], "peers up across networks")
    check(len(ids(env, "x")) == 0, "x received events from another network")
    if os.environ.get("WM_SHOW_LOGS"):
        print(a.log(), x.log())
    check(a.stop() == 0 and x.stop() == 0, "exit status")


def forge(env, forger, a, mode):
    p = subprocess.run([forger, env.path("a", "network"), a.addr(), mode, G,
                        env.path("res1.key"), "30"], cwd=env.dir,
                       capture_output=True, timeout=90)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    env.log.append("$ forger ... %s\n[exit %d]\n%s%s" % (mode, p.returncode, out, err))
    check(p.returncode == 0, "forger (%s) was not disconnected (exit %d)" % (mode, p.returncode))
    key = [ln.split()[1] for ln in out.splitlines() if ln.startswith("key ")]
    eid = [ln.split()[1] for ln in out.splitlines() if ln.startswith("id ")]
    check(key and eid, "forger printed no key/id")
    return key[0], eid[0]


def linked_pair(env):
    """Nodes a and b of a new world, b dialing a, up and converged: the
    stage the hostile-peer cases start from (the forger dials a)."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    b.configure(peers=[a.addr()])
    a.start()
    b.start()
    wait_up(env, "b", 1)
    wait_until("a and b to converge", lambda: converged(env, ["a", "b"]))
    return a, b


def t_forged(env):
    forger = os.path.abspath(sys.argv[4])
    a, b = linked_pair(env)
    for mode in ("badsig", "othernet", "nonofficial"):
        key, eid = forge(env, forger, a, mode)
        wait_until("a to log the forger's (%s) disconnect" % mode,
                   lambda: any(key[:16] in ln and "down" in ln for ln in a.log().splitlines()))
        # a legitimate event after the forgery reaches b: anything forwarded
        # from the forger would have got there first
        good = env.post("request", "a", "res1.key", "--group", G, "--topic", "other",
                        "--text", "after the forgery (%s)" % mode)
        wait_until("a's event after the forgery to reach b", lambda: has(env, "b", good))
        check(not has(env, "a", eid), "a stored the forged event (%s)" % mode)
        check(not has(env, "b", eid), "b got the forged event (%s)" % mode)
        check(any(eid[:16] in ln for ln in a.log().splitlines()) or "refused" in a.log()
              or "not stored" in a.log(), "a did not log the refusal (%s)" % mode)
        if mode == "othernet":
            check("made in another network" in a.log(), "a's log does not say the event was of "
                  "another network:\n" + a.log())
    check(peers_up(env, "a") == ["b"], "a's peers after the forgeries: %s" % peers_up(env, "a"))
    # status shows the forgers as backing off, with the reason
    wait_until("a's status to show the last forger backing off",
               lambda: any(p.get("key") == key and p.get("state") == "backing off"
                           and "signed by an official" in p.get("last_error", "")
                           for p in status(env, "a")[1].get("peers", [])), timeout=20)
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def t_flood(env):
    """Issue 8 item 6: a member pushes 1,000 valid events as EVENT push=0,
    answers to an IWANT nobody sent, to slip past the rate limits (which
    held push=1 to the author's burst of 100).  The first is a protocol
    fault: the peer is cut off and backed off, and what it sent is neither
    stored beyond the rate's worth nor passed on."""
    forger = os.path.abspath(sys.argv[4])
    a, b = linked_pair(env)
    before = ids(env, "a")
    key, first = forge(env, forger, a, "flood0")
    wait_until("a to log the flooder's disconnect",
               lambda: any(key[:16] in ln and "down" in ln for ln in a.log().splitlines()))
    check("not asked for" in a.log(), "a did not say why it cut the flooder off")
    good = env.post("request", "a", "res1.key", "--group", G, "--topic", "other",
                    "--text", "after the flood")
    wait_until("a's event after the flood to reach b", lambda: has(env, "b", good))
    new = ids(env, "a") - before - {good}
    check(len(new) <= 100, "a stored %d of the 1000 events pushed unasked" % len(new))
    check(not has(env, "b", first), "b got a flooded event")
    check(peers_up(env, "a") == ["b"], "a's peers after the flood: %s" % peers_up(env, "a"))
    wait_until("a's status to show the flooder backing off",
               lambda: any(p.get("key") == key and p.get("state") == "backing off"
                           for p in status(env, "a")[1].get("peers", [])), timeout=20)
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise Failure("no VmRSS for pid %d" % pid)


def t_slowread(env):
    """Issue 8 item 15: a member asks for a 12 KB event 1024 times a second
    and reads what comes back a few KiB at a time, pinging all along.  The
    node queues at most 2 MiB for it, and closes the link once the backlog
    has not halved in 30 s (its key kept away as long); its memory stays
    bounded meanwhile and the node serves its other peers."""
    forger = os.path.abspath(sys.argv[4])
    a, b = linked_pair(env)
    rss0 = rss_kib(a.proc.pid)
    t0 = time.monotonic()
    p = subprocess.Popen([forger, env.path("a", "network"), a.addr(), "slowread", G,
                          env.path("res1.key"), "90"], cwd=env.dir,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = rss0
    while p.poll() is None and time.monotonic() - t0 < 100:
        peak = max(peak, rss_kib(a.proc.pid))
        time.sleep(0.5)
    out, err = p.communicate(timeout=30)
    took = time.monotonic() - t0
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    env.log.append("$ forger ... slowread\n[exit %d after %.1f s; a's RSS %d KiB, at most %d]\n%s%s"
                   % (p.returncode, took, rss0, peak, out, err))
    print("slow reader closed after %.1f s; a's RSS %d KiB before, at most %d KiB while it was up"
          % (took, rss0, peak))
    check(p.returncode == 0, "the slow reader was not disconnected (exit %d)" % p.returncode)
    check("too slow" in a.log(), "a did not say why it closed the slow reader")
    check(took < 42, "the slow reader stayed %.0f s" % took)
    # AddressSanitizer's quarantine and shadow memory make RSS mean nothing
    if os.environ.get("WATCHMESH_TEST_SANITIZED") != "1":
        check(peak - rss0 < 8 * 1024, "a's memory grew by %d KiB while the slow reader was up"
              % (peak - rss0))
    good = env.post("request", "a", "res1.key", "--group", G, "--topic", "other",
                    "--text", "after the slow reader")
    wait_until("a's event after the slow reader to reach b", lambda: has(env, "b", good))
    check(peers_up(env, "a") == ["b"], "a's peers after the slow reader: %s" % peers_up(env, "a"))
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def hold(env, forger, a):
    """A throwaway key that links with a and holds the link (forger hold)."""
    return subprocess.Popen([forger, env.path("a", "network"), a.addr(), "hold", G,
                             env.path("res1.key"), "300"], cwd=env.dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def t_eclipse(env):
    """Issue 8 item 7: throwaway keys that connect first filled max_peers,
    and the configured neighbours were refused, inbound and outbound.  Now
    configured peers have their slots kept (strangers get max_peers minus
    them), and one address holds at most 4 inbound links."""
    forger = os.path.abspath(sys.argv[4])
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("init", "c", "--network", "net", "--name", "c")
    a, b, c = Daemon(env, "a"), Daemon(env, "b"), Daemon(env, "c")
    # a keeps b (a dials it) and c (by key, at an address where nothing
    # listens: c dials a), so 2 of its 4 slots are kept
    rc, c_pub = quiet(env, "key", "show", env.path("c", "node.key"))
    check(rc == 0 and len(c_pub.strip()) == 64, "key show c/node.key: %r" % c_pub)
    a_peers = [b.addr(), "127.0.0.1:%d@%s" % (free_port(), c_pub.strip())]
    a.configure(peers=a_peers, max_peers=4)
    b.configure()
    c.configure(peers=[a.addr()])
    holders = []
    try:
        a.start()
        holders += [hold(env, forger, a) for _ in range(3)]
        wait_until("throwaway keys to link with a",
                   lambda: peers_up(env, "a").count("forger") >= 2)
        b.start()
        c.start()
        wait_until("a to link with b (outbound) and c (inbound)",
                   lambda: "b" in peers_up(env, "a") and "c" in peers_up(env, "a"))
        check(peers_up(env, "a").count("forger") == 2, "a's peers: %s" % peers_up(env, "a"))
        check("too many peers" in a.log(), "a did not refuse the third throwaway key")
        good = env.post("request", "a", "res1.key", "--group", G, "--topic", "other",
                        "--text", "past the throwaway keys")
        wait_until("a's event to reach b and c",
                   lambda: has(env, "b", good) and has(env, "c", good))
        # room for 30 strangers now, but one address links at most 4 times
        check(a.stop() == 0, "a's exit status")
        a.configure(peers=a_peers, max_peers=32)
        a.start()
        holders += [hold(env, forger, a) for _ in range(3)]
        wait_until("four throwaway keys from 127.0.0.1 to link with a",
                   lambda: peers_up(env, "a").count("forger") >= 4)
        wait_until("a to refuse a fifth from that address",
                   lambda: "too many links from 127.0.0.1" in a.log().split("---- start")[-1])
        wait_until("a to link with b and c again",
                   lambda: "b" in peers_up(env, "a") and "c" in peers_up(env, "a"))
        check(peers_up(env, "a").count("forger") == 4, "a's peers: %s" % peers_up(env, "a"))
    finally:
        for p in holders:
            p.kill()
            p.wait()
    check(a.stop() == 0 and b.stop() == 0 and c.stop() == 0, "exit status")


def t_sighup(env):
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Daemon(env, "a"), Daemon(env, "b")
    a.configure()
    b.configure()
    a.start()
    b.start()
    check(peers_up(env, "b") == [], "b has peers without any configured")
    b.configure(peers=[a.addr()])
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to log the reload", lambda: "peers reloaded: 1 added" in b.log())
    wait_up(env, "b", 1)
    b.configure(peers=[])
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to log the removal", lambda: "peers reloaded: 0 added, 1 removed" in b.log())
    wait_until("b's link to a to close", lambda: peers_up(env, "b") == [])
    # other settings: log_level at once, the rest named as waiting for a restart
    b.configure(peers=[], log_level="debug", repair_interval=7, http="127.0.0.1:0")
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to apply log_level", lambda: "SIGHUP: log_level is now debug" in b.log())
    wait_until("b to name what needs a restart",
               lambda: "applied only after a restart of the node: repair_interval, http" in b.log())
    # a broken config on SIGHUP keeps the old peers and says why
    with open(env.path("b", "watchmesh.conf"), "a") as f:
        f.write("bogus_key = 1\n")
    b.proc.send_signal(signal.SIGHUP)
    wait_until("b to log the bad config", lambda: "unknown key 'bogus_key'" in b.log())
    check(not b.died(), "b died on a bad config at SIGHUP")
    check(b.stop() == 0 and a.stop() == 0, "exit status")
    # ... and refuses to start with it, in one line
    _, err = env.run("run", "b", rc=1)
    check("unknown key 'bogus_key'" in err and "line" in err, "start with a bad config: " + err)
    # a port in use
    a.start()
    with open(env.path("b", "watchmesh.conf")) as f:
        text = f.read().replace("bogus_key = 1\n", "")
    text = text.replace("listen = 127.0.0.1:%d" % b.port, "listen = 127.0.0.1:%d" % a.port)
    with open(env.path("b", "watchmesh.conf"), "w") as f:
        f.write(text)
    _, err = env.run("run", "b", rc=1)
    check("cannot listen" in err, "port in use: " + err)
    check(a.stop() == 0, "exit status")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def t_beacons(env):
    """Two members find each other by LAN beacons alone; a node of another
    network on the same beacon port is neither dialed nor dialing.  Skipped
    (77) where this machine cannot broadcast at all."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("network", "create", "--name", "testnet", "--out", "othernet",
            "--root-key", "other.root.key", "--passphrase-file", env.passfile)
    env.run("init", "x", "--network", "othernet", "--name", "x")
    bport = free_udp_port()
    nodes = [Daemon(env, n) for n in ("a", "b", "x")]
    for d in nodes:
        d.configure(listen="0.0.0.0:%d" % d.port, beacons="on", beacon_port=bport,
                    beacon_interval=1, log_level="debug")
        d.start()
    a, b, x = nodes
    heard = lambda: "beacon: member" in a.log() + b.log()
    wait_until("a beacon to be heard (or a send to fail)",
               lambda: heard() or "beacon not sent" in a.log(), timeout=15)
    if not heard():
        print("mesh beacons: this machine cannot broadcast; skipped")
        return 77
    wait_up(env, "a", 1)
    wait_up(env, "b", 1)
    check(peers_up(env, "a") == ["b"] and peers_up(env, "b") == ["a"],
          "a and b should be each other's only peer: %s %s" % (peers_up(env, "a"), peers_up(env, "b")))
    check(peers_up(env, "x") == [], "x (another network) got a peer: %s" % peers_up(env, "x"))
    check("beacon: member" not in x.log(), "x acted on a beacon of another network")
    check("beacon dropped: not a beacon of this network" in x.log(), "x did not see the others' beacons")
    wait_until("b to get a's certificates", lambda: ids(env, "a") <= ids(env, "b"))
    # b goes away: once it is neither connected nor heard for 3 beacon
    # intervals, a stops dialing it
    check(b.stop() == 0, "b: exit status")
    wait_until("a to drop its dialer of b", lambda: re.search(
        r"beacon: member [0-9a-f]+ at \S+ not heard for \d+ s; no longer dialing it", a.log()), timeout=20)
    # a node on a loopback address hears beacons but announces nothing:
    # nobody on another machine could dial 127.0.0.1
    env.run("init", "l", "--network", "net", "--name", "l")
    lo = Daemon(env, "l")
    lo.configure(beacons="on", beacon_port=bport, beacon_interval=1, log_level="debug")
    lo.start()
    lkey = status(env, "l")[1].get("key", "")[:16]
    check(lkey and "listening only" in lo.log(), "l's beacons: %s" % lo.log())
    time.sleep(3.5)
    check("beacon: member %s" % lkey not in a.log(), "a heard a beacon of the loopback node l")
    for d in (a, x, lo):
        check(d.stop() == 0, "%s: exit status" % d.name)


def beacon_packet(netpath, seed, port, addrs, ts_ms):
    """A beacon as a member makes one (PROTOCOL.md section 17), here in
    Python: an attacker that holds the network secret, or keys of its own."""
    import hashlib
    import struct
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt
    from nacl.signing import SigningKey
    name = secret = None
    with open(netpath) as f:
        for line in f:
            if line.startswith("name "):
                name = line.split(None, 1)[1].strip().encode()
            elif line.startswith("secret "):
                secret = bytes.fromhex(line.split()[1])
    sk = SigningKey(seed)
    plain = (b"WMB\x02" + bytes([len(name)]) + name + bytes(sk.verify_key) +
             struct.pack(">HQ", port, ts_ms) + bytes([len(addrs)]) +
             b"".join(socket.inet_aton(a) for a in addrs))
    plain += sk.sign(hashlib.sha256(b"watchmesh beacon v1\x00" + plain).digest()).signature
    key = hashlib.blake2b(b"watchmesh beacon v1", key=secret, digest_size=32).digest()
    nonce = os.urandom(24)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plain, None, nonce, key)


def udp_from(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    return s


def udp_spoofed(src, dst, dport, payload):
    """Send one UDP datagram with a forged source address through a raw
    socket; False where raw sockets are not allowed (not root)."""
    import struct
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError:
        return False
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload   # no checksum
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
    s.close()
    return True


def t_beacon_attacks(env):
    """Issue 8 item 10 as an attacker does it, against a real daemon: b's
    beacon recorded off the air and sent to a again, from another address
    (a must not dial it) and from b's own after a restarts (a must not dial
    either); a member found while another address floods a's beacon port
    with 1,000 junk packets a second; members made up by the dozen are
    dialed 8 at most; where raw sockets are allowed, a beacon from an
    address off a's subnets is not acted on.  Skipped (77) where this
    machine cannot broadcast."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("init", "c", "--network", "net", "--name", "c")
    a, b, c = (Daemon(env, n) for n in ("a", "b", "c"))
    aport, bport = free_udp_port(), free_udp_port()
    a.configure(beacons="on", beacon_port=aport, beacon_interval=30, log_level="debug")
    b.configure(listen="0.0.0.0:%d" % b.port, beacons="on", beacon_port=bport, beacon_interval=1)
    c.configure()
    # the recording: a listener on b's beacon port, as anyone on the LAN
    rec = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rec.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rec.bind(("0.0.0.0", bport))
    rec.settimeout(15)
    a.start()
    b.start()
    try:
        recorded, (src, _) = rec.recvfrom(1024)
    except socket.timeout:
        print("mesh beacon_attacks: this machine cannot broadcast; skipped")
        return 77
    finally:
        rec.close()
    check(b.stop() == 0, "b: exit status")
    dialed = lambda d: re.findall(r"beacon: member ([0-9a-f]+) at (\S+); dialing it", d.log())

    # 1. the recording from an address it does not name: never dialed
    forger = udp_from("127.0.0.2")
    forger.sendto(recorded, ("127.0.0.1", aport))
    wait_until("a to drop the beacon sent from 127.0.0.2 (or dial it)",
               lambda: "sent from 127.0.0.2, an address it does not name" in a.log() or dialed(a))
    check(dialed(a) == [], "a dialed a recorded beacon sent from 127.0.0.2: %s" % dialed(a))
    # 2. a restarts; the recording from b's own address: not fresh
    check(a.stop() == 0, "a: exit status")
    a.start()
    replayer = udp_from(src)
    replayer.sendto(recorded, ("127.0.0.1", aport))
    wait_until("a to drop the recording as dated before it started (or dial it)",
               lambda: "dated before we listened for this key" in a.log() or dialed(a))
    check(dialed(a) == [], "a dialed a recorded beacon: %s" % dialed(a))

    # 3. a fresh beacon naming 198.51.100.7, from 198.51.100.7 (forged): off
    # every subnet of a's, dropped without a line; the next packet from
    # 127.0.0.2 shows a has judged it
    unnamed = "sent from 127.0.0.2, an address it does not name"
    if udp_spoofed("198.51.100.7", "127.0.0.1", aport,
                   beacon_packet(env.path("net"), os.urandom(32), 9, ["198.51.100.7"],
                                 int(time.time() * 1000))):
        forger.sendto(recorded, ("127.0.0.1", aport))
        wait_until("a to judge the packet after the off-subnet one",
                   lambda: unnamed in a.log().split("---- start")[-1] or dialed(a))
        check(dialed(a) == [], "a dialed an address off its subnets: %s" % dialed(a))
    else:
        print("mesh beacon_attacks: no raw sockets here; the off-subnet beacon is not tried")

    # 4. junk from 127.0.0.2 at 1,000 packets a second, c's beacons from
    # 127.0.0.1 (made with c's node key, naming c's real listen port)
    c.start()
    cseed = wmtest.key_seed(env.path("c/node.key"))
    member = udp_from("127.0.0.1")
    end = time.monotonic() + 10
    sent = 0
    while time.monotonic() < end and not dialed(a):
        for _ in range(50):
            forger.sendto(os.urandom(60 + sent % 200), ("127.0.0.1", aport))
            sent += 1
        if sent % 1000 == 0:
            member.sendto(beacon_packet(env.path("net"), cseed, c.port, ["127.0.0.1"],
                                        int(time.time() * 1000)), ("127.0.0.1", aport))
        time.sleep(0.05)
    check(dialed(a) and dialed(a)[0][1] == c.addr(),
          "c was not found through %d junk packets: %s" % (sent, dialed(a)))
    wait_up(env, "a", 1)

    # 5. 12 made-up members, each from its own loopback address: 8 dialers
    # at most (c's among them)
    for i in range(12):
        ip = "127.0.0.%d" % (10 + i)
        s = udp_from(ip)
        s.sendto(beacon_packet(env.path("net"), os.urandom(32), 9, [ip], int(time.time() * 1000)),
                 ("127.0.0.1", aport))
        s.close()
    wait_until("a to refuse the 9th member (or dial it)",
               lambda: "not dialed: already dialing 8" in a.log() or len(dialed(a)) > 8)
    time.sleep(1)
    check(len(dialed(a)) == 8, "a dials %d members heard by beacon" % len(dialed(a)))
    for s in (forger, replayer, member):
        s.close()
    for d in (a, c):
        check(d.stop() == 0, "%s: exit status" % d.name)


TESTS = {"line": t_line, "restart": t_restart, "wrongnet": t_wrongnet, "forged": t_forged,
         "sighup": t_sighup, "beacons": t_beacons, "beacon_attacks": t_beacon_attacks,
         "flood": t_flood, "slowread": t_slowread, "eclipse": t_eclipse}


def run_cases(tests, what, args):
    """Run the case sys.argv[2] of tests with daemons: every daemon started
    is killed at the end, and their logs printed when the case failed.
    `what` names the suite ("mesh"), `args` the usage's arguments."""
    if len(sys.argv) < 3 or sys.argv[2] not in tests:
        sys.stderr.write("usage: %s WATCHMESH CASE %s (cases: %s)\n" %
                         (sys.argv[0], args, " ".join(tests)))
        return 2
    name = sys.argv[2]
    env = wmtest.Env(sys.argv[1], "%s-%s" % (what, name))
    ok = False
    try:
        if tests[name](env) == 77:
            ok = True
            return 77
        ok = True
        print("%s %s: ok" % (what, name))
    except Exception:
        import traceback
        traceback.print_exc()
    finally:
        for d in DAEMONS:
            d.kill()
        if not ok:
            for d in DAEMONS:
                sys.stderr.write("---- log of %s (%s)\n%s\n" % (d.name, d.logpath, d.log()))
        env.done(ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "mesh", "SRC FORGER"))
