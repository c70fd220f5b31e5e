"""
The handshake attacks of issue 8 item 9, against real `watchmesh run`
processes on 127.0.0.1 (the daemons and helpers of test_mesh.py).  A first
message is recorded from a real dial: node b dials a through a relay of
ours, which keeps the 73 bytes b sent.

    usage: test_handshake.py WATCHMESH CASE SOURCE_ROOT FORGER
    cases:
      replay   the recorded message 1 replayed to a gets no byte back, also
               after a was killed and started again; one that b made for
               a's key gets none from c either
      probes   1, 64, 65 and 200 bytes of garbage, a truncated message 1 (left
               open, and half-closed), a replayed one: no byte back, an
               orderly close, neither at once nor at one fixed instant
      slots1   issue 12 item 1: 500 silent connections from 127.0.0.1, opened
               again as soon as closed: an honest node from 127.0.0.1 links
               within 2 s, and an event posted meanwhile crosses the link
      slots50  the same with the 500 spread over 127.0.0.2 .. 127.0.0.51
      oversize issue 12 item 3: a member announces a frame of 2 MiB: its key is
               backed off (every later try refused), and a's events still
               reach b
      logflood issue 12 item 2: a local client sending garbage as fast as it
               can for 4 s: a few lines a minute in the log, and summary
               lines counting the rest, every connection once (counted
               after the node has taken and closed all of them)
"""
import calendar
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wmtest import Failure, check  # noqa: E402
from test_mesh import Daemon, G, has, linked_pair, run_cases, wait_up, wait_until  # noqa: E402

MSG1_LEN = 73
MSG2_LEN = 65


class Relay:
    """Listens on a free port, relays the first connection to `target`
    and keeps the first MSG1_LEN bytes the dialer sent."""

    def __init__(self, target_port):
        self.target = target_port
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.first = b""
        threading.Thread(target=self.serve, daemon=True).start()

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def serve(self):
        cli, _ = self.srv.accept()
        up = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self.pipe, args=(up, cli, False), daemon=True).start()
        self.pipe(cli, up, True)

    def pipe(self, src, dst, record):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if record and len(self.first) < MSG1_LEN:
                    self.first += b[:MSG1_LEN - len(self.first)]
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def node_pub(env, node):
    """A node's public key in hex, from its plain key file (seed || pub)."""
    with open(env.path(node, "node.key")) as f:
        for ln in f:
            if ln.startswith("secret "):
                return ln.split()[1][64:128]
    raise Failure("no plain secret in %s/node.key" % node)


def record_msg1(env, a, name="b", key=None):
    """Start node `name` dialing a through a relay (by address, or by a's key
    too); returns (its daemon, the message 1 it sent)."""
    relay = Relay(a.port)
    b = Daemon(env, name)
    b.configure(peers=[relay.addr() + ("@" + key if key else "")])
    b.start()
    wait_up(env, name, 1)
    check(len(relay.first) == MSG1_LEN, "the relay did not see a whole message 1")
    return b, relay.first


class Probe:
    """One connection to a daemon that sends `data`, maybe half-closes,
    then reads until the daemon closes."""

    def __init__(self, what, port, data, half_close=False):
        self.what = what
        self.got = b""
        self.end = None
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.t0 = time.monotonic()
        if data:
            self.s.sendall(data)
        if half_close:
            self.s.shutdown(socket.SHUT_WR)
        self.th = threading.Thread(target=self.read, daemon=True)
        self.th.start()

    def read(self):
        try:
            while True:
                b = self.s.recv(4096)
                if not b:
                    self.end = "EOF"
                    break
                self.got += b
        except ConnectionResetError:
            self.end = "reset"
        except OSError as e:
            self.end = str(e)
        self.secs = time.monotonic() - self.t0
        self.s.close()

    def wait(self):
        self.th.join(40)
        check(self.end is not None, "%s: the daemon never closed" % self.what)
        return self


def silent(probes, slowest=12.0):
    """No byte back, an orderly close, not at once (a's handshake timeout is
    10 s: the deadline is 5 to 10 s), and not at one fixed instant."""
    for p in probes:
        p.wait()
        print("%-36s closed after %5.2f s (%s), %d bytes back" % (p.what, p.secs, p.end, len(p.got)))
    for p in probes:
        check(p.got == b"", "%s: the daemon answered %d bytes" % (p.what, len(p.got)))
        check(p.end == "EOF", "%s: ended by %s, not an orderly close" % (p.what, p.end))
        check(4.5 <= p.secs <= slowest, "%s: closed after %.2f s" % (p.what, p.secs))
    if len(probes) > 1:
        secs = [p.secs for p in probes]
        check(max(secs) - min(secs) >= 0.2, "all closed at one instant: %r" % secs)


def t_replay(env):
    env.world(node="a", group=G)
    for n in ("b", "c"):
        env.run("init", n, "--network", "net", "--name", n)
    a, c = Daemon(env, "a"), Daemon(env, "c")
    a.configure()
    c.configure()
    a.start()
    c.start()
    b, m1 = record_msg1(env, a)

    # the recorded message 1 replayed to a: nothing back
    silent([Probe("replayed message 1", a.port, m1)])
    wait_until("a to log the replay", lambda: "message 1 is a replay" in a.log())

    # a killed (no clean shutdown) and started again: still nothing
    a.stop(sig=signal.SIGKILL)
    st = os.stat(env.path("a", "handshake.replay"))
    check(stat.S_IMODE(st.st_mode) == 0o600, "handshake.replay is %o" % stat.S_IMODE(st.st_mode))
    a.start()
    silent([Probe("replayed after a restart", a.port, m1)])
    wait_until("a to log the replay after its restart",
               lambda: "message 1 is a replay" in a.log().split("---- start")[-1])

    # b dials a by key through another relay: its message 1 is made for a,
    # so c does not answer it (and says why)
    b.stop()
    b2, m1a = record_msg1(env, a, name="b", key=node_pub(env, "a"))
    silent([Probe("message 1 made for a, sent to c", c.port, m1a)])
    wait_until("c to log a message 1 made for another node", lambda: "made for another node" in c.log())
    for d in (a, b2, c):
        check(d.stop() == 0, "%s: exit status" % d.name)


def t_probes(env):
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a = Daemon(env, "a")
    a.configure()
    a.start()
    b, m1 = record_msg1(env, a)
    junk = bytearray(os.urandom(200))
    junk[0] = m1[0]   # the version byte: garbage that looks like a start
    junk = bytes(junk)
    # at most 8 handshakes from one address at a time (b's link is up)
    probes = [Probe("1 byte", a.port, junk[:1]),
              Probe("64 bytes", a.port, junk[:64]),
              Probe("65 bytes", a.port, junk[:65]),
              Probe("200 bytes", a.port, junk),
              Probe("truncated message 1", a.port, m1[:MSG1_LEN - 1]),
              Probe("truncated message 1, half-closed", a.port, m1[:40], half_close=True),
              Probe("replayed message 1", a.port, m1)]
    silent(probes)
    log = a.log()
    for want in ("timed out waiting for message 1", "network secret does not match",
                 "connection closed before message 1", "message 1 is a replay"):
        check(want in log, "a's log lacks: " + want)
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def log_secs(line):
    """The time of a daemon's log line (2026-12-03T12:13:34.123Z ...)."""
    return calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S")) + int(line[20:23]) / 1000


def first_line(d, text):
    for ln in d.log().split("---- start")[-1].splitlines():
        if text in ln:
            return ln
    return None


def slots(env, naddrs):
    """An attacker keeps 500 silent connections open to a (from naddrs
    addresses); a node b that a does not know dials a from 127.0.0.1."""
    forger = os.path.abspath(sys.argv[4])
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a = Daemon(env, "a")
    a.configure()
    a.start()
    attack = subprocess.Popen([forger, env.path("a", "network"), a.addr(), "silent", "500", str(naddrs),
                               "20"], cwd=env.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t_attack = time.monotonic()
    try:
        time.sleep(3)   # the attack in full swing
        if attack.poll() is not None:
            raise Failure("the attacker exited early: %r" % (attack.communicate(),))
        lines0 = len(a.log().splitlines())
        t0 = time.monotonic()
        b = Daemon(env, "b")
        b.configure(peers=[a.addr()])
        b.start()
        print("b started %.1f s into the attack" % (time.monotonic() - t_attack))
        up = wait_until("b to link with a during the attack",
                        lambda: first_line(b, "connected (outbound)"), timeout=20)
        secs = log_secs(up) - log_secs(first_line(b, "listening on"))
        print("during an attack of 500 silent connections from %d address%s: an honest node linked "
              "after %.2f s" % (naddrs, "es" if naddrs > 1 else "", secs))
        check(secs <= 2.0, "b linked only after %.2f s" % secs)
        # the node stays responsive: an event posted on a crosses the link
        t1 = time.monotonic()
        eid = env.post("request", "a", "res1.key", "--group", G, "--topic", "other",
                       "--text", "posted during the attack")
        wait_until("a's event to reach b during the attack", lambda: has(env, "b", eid), timeout=20)
        print("an event posted on a reached b after %.2f s (%.1f s into the attack)" %
              (time.monotonic() - t1, time.monotonic() - t_attack))
        check(attack.poll() is None, "the attack (20 s) ended %.0f s after it began, before the checks "
              "did" % (time.monotonic() - t_attack))
        out, _ = attack.communicate(timeout=60)
        print("attacker: %s" % out.decode().strip())
        lines = len(a.log().splitlines()) - lines0
        print("a wrote %d log lines in the %.0f s of the attack after b started" %
              (lines, time.monotonic() - t0))
        check(lines <= 200, "a wrote %d lines during the attack" % lines)
    finally:
        if attack.poll() is None:
            attack.kill()
            attack.wait()
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def t_slots1(env):
    slots(env, 1)


def t_slots50(env):
    slots(env, 50)


def t_oversize(env):
    forger = os.path.abspath(sys.argv[4])
    a, b = linked_pair(env)
    p = subprocess.run([forger, env.path("a", "network"), a.addr(), "oversize", "-", "-", "4"],
                       cwd=env.dir, capture_output=True, timeout=60)
    out = p.stdout.decode().splitlines()
    env.log.append("$ forger oversize\n%s%s" % (p.stdout.decode(), p.stderr.decode()))
    print("forger: " + "; ".join(out))
    check(out[:1] == ["oversize sent"] and len(out) >= 4, "the forger's tries: %r" % out)
    check(all(ln.startswith("closed: refused: this peer is backed off for another ") for ln in out[1:]),
          "a took the key back after its oversize frame: %r" % out)
    wait_until("a to log the fault", lambda: "frame too large" in a.log())
    check(any("frame too large" in ln and "(backed off for 600 s)" in ln for ln in a.log().splitlines()),
          "a's log does not say the key was backed off")
    eid = env.post("request", "a", "res1.key", "--group", G, "--topic", "other", "--text", "after it")
    wait_until("a's event to reach b", lambda: has(env, "b", eid))
    check(a.stop() == 0 and b.stop() == 0, "exit status")


def node_backlog(port):
    """(connections waiting in the accept queue of the listener on
    127.0.0.1:port, connections on that port the node has not closed yet),
    from the kernel's table: for a listening socket, rx_queue is its accept
    queue."""
    local, queued, held = "0100007F:%04X" % port, 0, 0
    with open("/proc/net/tcp") as f:
        next(f)
        for ln in f:
            fields = ln.split()
            if fields[1] != local:
                continue
            if fields[3] == "0A":
                queued += int(fields[4].split(":")[1], 16)
            elif fields[3] in ("01", "08"):     # established, or closed by the client only
                held += 1
    return queued, held


def t_logflood(env):
    env.world(node="a", group=G)
    a = Daemon(env, "a")
    a.configure()
    a.start()
    lines0 = len(a.log().splitlines())
    sent = [0]
    stop = time.monotonic() + 4

    def flood():
        while time.monotonic() < stop:
            try:
                s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
                s.sendall(os.urandom(MSG1_LEN))
                s.close()
                sent[0] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # Under load the node takes the flood's connections from the kernel's
    # queue long after the flood ended: stopped before, the rest would die
    # with the listener, unseen, or be ended "shutting down".  So wait
    # until the node has taken and closed every one.
    wait_until("a to take and close every connection of the flood", lambda: node_backlog(a.port) == (0, 0))
    check(a.stop() == 0, "exit status")
    summary = re.compile(r"refused ([0-9,]+) more connections? from (127\.0\.0\.1|other addresses) in the last minute")
    lines, counted = [], 0
    for ln in a.log().splitlines()[lines0:]:
        m = summary.search(ln)
        if m:
            print(ln)
            counted += int(m.group(1).replace(",", ""))
        elif "127.0.0.1" in ln:
            lines.append(ln)
    print("%d connections of garbage in 4 s: %d log lines" % (sent[0], len(lines)))
    check(sent[0] >= 200, "the flood made only %d connections" % sent[0])
    check(len(lines) <= 12, "a wrote %d lines about the flood" % len(lines))
    check(not any("shutting down" in ln for ln in lines + [m for m in a.log().splitlines() if summary.search(m)]),
          "a stopped with connections of the flood still open")
    # a connection the kernel dropped from a full accept queue after the
    # client saw it open never reaches the node: 1% of slack for those
    check(counted + len(lines) >= sent[0] * 0.99, "%d connections, %d lines and %d counted" %
          (sent[0], len(lines), counted))


TESTS = {"replay": t_replay, "probes": t_probes, "slots1": t_slots1, "slots50": t_slots50,
         "logflood": t_logflood, "oversize": t_oversize}


if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "handshake", "SRC FORGER"))
