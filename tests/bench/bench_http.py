#!/usr/bin/python3
"""bench_http: the node's HTTP API measured against real `watchmesh run`
daemons on 127.0.0.1 (issue 9's benchmarks; figures in BENCHMARKS.md).

    tests/bench/bench_http.py BUILD_DIR          (make bench BENCH=http)
    PARTS="stream post read" (which parts run)
    CLIENTS=2000 (SSE clients of the stream part; a 1-client run comes first)
    EVENTS=100 (events posted one at a time to the streams)
    IDLE=30 (seconds the node's CPU is measured with the streams open and
    nothing posted: the heartbeats, every 15-25 s, fall in it)
    POSTS=10000 (events of the POST throughput part)  POSTERS="4 8"
    SIZES="100000 1000000" (stores of the read part)
    DATA=DIR (where the generated bundles and imported stores stay, reused
    by later runs; default WORK/data, deleted unless KEEP=1)
    WORK=/tmp  KEEP=1 (keep the temporary directory and the daemons' logs)

1. stream: one node, CLIENTS clients of GET /api/v1/stream held in one
   process with epoll; EVENTS events POSTed one at a time.  Per event, the
   delay from just before the POST is sent to the moment the last client's
   socket has the event: the kernel's receive timestamp (SO_TIMESTAMPNS) of
   the read that completed the event on each socket, so the time this
   script takes to read 2,000 sockets one after the other is not counted
   (it is reported beside it).  The node's CPU (user + system, /proc) idle
   with the clients connected and over the posting, the time its threads
   waited for a CPU (the machine's other load), its RSS before and with the
   clients connected.  The same with one client first: the reference line.
2. post: POSTS events POSTed into a fresh node, over one keep-alive
   connection and from 4 and 8 processes at once, against `watchmesh import`
   of the same events into another fresh node, in the same run.
3. read: stores of SIZES events (tests/bench/bench_repair_gen's mix, imported
   once); listing by cursor, by group and search through the API, each
   next to the CLI's `feed` and `search` on the same store while the daemon
   runs.  Each request 5 times on a new connection: the first (cold) and
   the median of the other four.  Then, on the same store, the delay until
   one SSE client has an event POSTed while SEARCHES="0 4" searches for the
   2-character word run, 3 events each (from the generator's b_1.wmb,
   which the store does not hold yet, so each run adds 6 to it): searches
   and the streams' feed share libuv's thread pool.

The events come from tests/bench/bench_repair_gen (real signed events,
Chinese text).  Prints markdown tables.  Not a test.
"""
import http.client
import json
import multiprocessing
import os
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bench_repair import cpu_model, cpu_seconds, free_port, import_bundle, run  # noqa: E402
from wmtest import event_id, read_bundle  # noqa: E402

HEAD = 1000              # events every node holds before the posting starts
GROUP = "gaobu.station"  # one of the mix's five groups (tests/bench/mix.c)
# Linux's asm-generic/socket.h (Python's socket module does not name it): a
# struct timespec of when the kernel received the data comes with each read
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def die(msg):
    print("bench_http: " + msg, file=sys.stderr)
    sys.exit(1)


def env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        die("%s must be a whole number" % name)


def write_bundle(path, wires):
    with open(path, "wb") as f:
        for w in wires:
            f.write(w)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def runq_wait_s(pid):
    """Time the node's threads have waited for a CPU while runnable (Linux
    schedstat), in s: what the machine's other load added to its delays."""
    t = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                t += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return t / 1e9


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Node:
    """One `watchmesh run` with its HTTP API on a free port; log in DIR.log."""

    def __init__(self, wm, d, network=None):
        """The node in d, made there first when a network file is given."""
        self.wm = wm
        self.dir = d
        self.logpath = d + ".log"
        self.proc = None
        if network:
            run([wm, "init", d, "--network", network, "--name", os.path.basename(d)])

    def configure(self, **extra):
        self.port = free_port()
        keys = {"listen": "127.0.0.1:%d" % free_port(), "peers": "", "beacons": "off",
                "http": "127.0.0.1:%d" % self.port, "https": "off", "log_level": "warn"}
        keys.update({k: str(v) for k, v in extra.items()})
        path = os.path.join(self.dir, "watchmesh.conf")
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if ln.split("=", 1)[0].strip() not in keys]
        with open(path, "w") as f:
            f.write("\n".join(lines + ["%s = %s" % kv for kv in keys.items()]) + "\n")

    def start(self):
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([self.wm, "run", self.dir], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                die("%s exited at start (%d); log %s" % (self.dir, self.proc.returncode, self.logpath))
            try:
                if self.request("GET", "/api/v1/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        die("%s: no HTTP answer within 120 s; log %s" % (self.dir, self.logpath))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                die("%s did not exit within 60 s of SIGTERM" % self.dir)
            if self.proc.returncode != 0:
                die("%s exited with %d; log %s" % (self.dir, self.proc.returncode, self.logpath))
        self.proc = None
        self.log.close()

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def post_all(port, wires, out):
    """POST wires over one keep-alive connection; out gets a {status: count}."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    codes = {}
    for w in wires:
        c.request("POST", "/api/v1/events", body=w, headers={"Content-Type": "application/msgpack"})
        r = c.getresponse()
        r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    c.close()
    out.put(codes)


# --- 1. the live stream ----------------------------------------------------------------

class Client:
    """One SSE client: its socket, the chunked body taken apart as it comes."""

    def __init__(self, sock):
        self.sock = sock
        self.raw = b""
        self.body = b""
        self.head = None
        self.got = {}          # event id -> (kernel receive time, time this script read it)

    def feed(self, data, kts, now, want):
        self.raw += data
        if self.head is None:
            if b"\r\n\r\n" not in self.raw:
                return
            self.head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            if not self.head.startswith(b"HTTP/1.1 200"):
                die("stream refused: %r" % self.head[:100])
        while True:
            i = self.raw.find(b"\r\n")
            if i < 0:
                break
            size = int(self.raw[:i].split(b";")[0], 16)
            if size == 0:
                die("a stream ended")
            if len(self.raw) < i + 2 + size + 2:
                break
            self.body += self.raw[i + 2:i + 2 + size]
            self.raw = self.raw[i + 2 + size + 2:]
        for eid in want:
            if eid not in self.got and eid.encode() in self.body:
                self.got[eid] = (kts, now)
        # an event is one "id:"/"data:" pair; the rest of the body is not needed
        j = self.body.rfind(b"\n\n")
        if j >= 0:
            self.body = self.body[j + 2:]


def open_clients(port, n, ep, clients):
    """n stream clients, all answered 200 before this returns."""
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: bench\r\n\r\n")
        s.setblocking(False)
        clients[s.fileno()] = Client(s)
        ep.register(s.fileno(), select.EPOLLIN)
    end = time.monotonic() + 120
    while any(c.head is None for c in clients.values()):
        if time.monotonic() > end:
            die("%d streams not answered within 120 s" % sum(c.head is None for c in clients.values()))
        pump(ep, clients, (), 1.0)


def pump(ep, clients, want, timeout):
    """One read from each socket epoll finds readable within timeout s."""
    for fd, _ in ep.poll(timeout):
        c = clients[fd]
        try:
            data, anc, _, _ = c.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        except BlockingIOError:
            continue
        now = time.time()
        if not data:
            die("the node closed a stream")
        kts = now
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", d[:16])
                kts = sec + nsec / 1e9
        c.feed(data, kts, now, want)


def stream_run(wm, work, network, wires, nclients, nevents, idle):
    """One node, nclients streams, nevents posted one at a time."""
    node = Node(wm, os.path.join(work, "stream%d" % nclients), network)
    bundle = os.path.join(work, "head.wmb")
    import_bundle(wm, node.dir, bundle)
    node.configure(http_clients=nclients + 64, http_per_ip=nclients + 64, http_rate=100000)
    node.start()
    pid = node.proc.pid
    time.sleep(1)
    rss0 = rss_kib(pid)
    ep = select.epoll()
    clients = {}
    t = time.monotonic()
    open_clients(node.port, nclients, ep, clients)
    connect_s = time.monotonic() - t
    time.sleep(1)
    rss1 = rss_kib(pid)
    cpu0, t = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t < idle:
        pump(ep, clients, (), 0.5)
    idle_pct = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t)
    post = http.client.HTTPConnection("127.0.0.1", node.port, timeout=60)
    delays, firsts, reads, answers = [], [], [], []
    cpu0, own0, wall0, rq0 = cpu_seconds(pid), time.process_time(), time.monotonic(), runq_wait_s(pid)
    for w in wires[:nevents]:
        eid = event_id(w)
        t0 = time.time()
        post.request("POST", "/api/v1/events", body=w, headers={"Content-Type": "application/msgpack"})
        r = post.getresponse()
        r.read()
        answers.append(time.time() - t0)
        if r.status != 201:
            die("POST: %d" % r.status)
        end = time.monotonic() + 30
        while sum(eid in c.got for c in clients.values()) < nclients:
            if time.monotonic() > end:
                die("event %s reached %d of %d streams in 30 s" %
                    (eid[:8], sum(eid in c.got for c in clients.values()), nclients))
            pump(ep, clients, (eid,), 0.5)
        delays.append(max(c.got[eid][0] for c in clients.values()) - t0)
        firsts.append(min(c.got[eid][0] for c in clients.values()) - t0)
        reads.append(max(c.got[eid][1] for c in clients.values()) - t0)
        for c in clients.values():
            del c.got[eid]
        time.sleep(0.05)
    wall = time.monotonic() - wall0
    cpu, own, rq = cpu_seconds(pid) - cpu0, time.process_time() - own0, runq_wait_s(pid) - rq0
    rss2 = rss_kib(pid)
    post.close()
    for c in clients.values():
        c.sock.close()
    ep.close()
    node.stop()
    return {"clients": nclients, "events": nevents, "connect_s": connect_s,
            "first_median": pct(firsts, 50) * 1000, "runq_ms_event": 1000 * rq / nevents,
            "median": pct(delays, 50) * 1000, "p99": pct(delays, 99) * 1000, "max": max(delays) * 1000,
            "read_median": pct(reads, 50) * 1000, "read_p99": pct(reads, 99) * 1000,
            "answer_median": pct(answers, 50) * 1000,
            "cpu_pct": 100 * cpu / wall, "idle_pct": idle_pct, "cpu_ms_event": 1000 * cpu / nevents,
            "own_ms_event": 1000 * own / nevents,
            "rss0": rss0, "rss1": rss1, "rss2": rss2}


def part_stream(wm, work, network, wires):
    n = env_int("CLIENTS", 2000)
    e = env_int("EVENTS", 100)
    idle = env_int("IDLE", 30)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 256:
        if hard < n + 256:
            die("open files are limited to %d (hard); %d clients need %d: raise it (ulimit -Hn)"
                % (hard, n, n + 256))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, hard))
    rows = [stream_run(wm, work, network, wires, 1, e, idle),
            stream_run(wm, work, network, wires, n, e, idle)]
    print("\n### SSE: one event to every client (%d events posted one at a time)\n" % e)
    print("| clients | median to all | p99 to all | max | to the first (median) "
          "| seen by this script: median / p99 | POST answered (median) "
          "| node CPU: idle (%d s) / while posting " % idle +
          "| node CPU / event | node waiting for a CPU / event | this script's CPU / event "
          "| node RSS: before / connected / after | connecting |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f / %.1f ms | %.1f ms "
              "| %.2f%% / %.1f%% of a core "
              "| %.2f ms | %.2f ms | %.2f ms | %.1f / %.1f / %.1f MiB | %.2f s |"
              % (r["clients"], r["median"], r["p99"], r["max"], r["first_median"], r["read_median"],
                 r["read_p99"], r["answer_median"], r["idle_pct"], r["cpu_pct"], r["cpu_ms_event"],
                 r["runq_ms_event"], r["own_ms_event"],
                 r["rss0"] / 1024, r["rss1"] / 1024, r["rss2"] / 1024, r["connect_s"]))
    sys.stdout.flush()


# --- 2. POST throughput ----------------------------------------------------------------

def part_post(wm, work, network, wires):
    n = env_int("POSTS", 10000)
    posters = [int(x) for x in os.environ.get("POSTERS", "4 8").split()]
    body = wires[:n]
    if len(body) < n:
        die("POSTS=%d: only %d events generated" % (n, len(body)))
    bundle = os.path.join(work, "post.wmb")
    write_bundle(bundle, body)
    rows = []
    ref = Node(wm, os.path.join(work, "post-import"), network)
    import_bundle(wm, ref.dir, os.path.join(work, "head.wmb"))
    stored, dt = import_bundle(wm, ref.dir, bundle)
    rows.append(("`watchmesh import` (reference)", stored, dt, "stored %d" % stored, None, None))
    for p in [1] + posters:
        node = Node(wm, os.path.join(work, "post%d" % p), network)
        import_bundle(wm, node.dir, os.path.join(work, "head.wmb"))
        node.configure(http_rate=100000, http_per_ip=256, http_clients=256)
        node.start()
        cpu0, rq0 = cpu_seconds(node.proc.pid), runq_wait_s(node.proc.pid)
        q = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=post_all, args=(node.port, body[i::p], q))
                 for i in range(p)]
        t = time.monotonic()
        for pr in procs:
            pr.start()
        codes = {}
        for _ in procs:
            for k, v in q.get(timeout=3600).items():
                codes[k] = codes.get(k, 0) + v
        dt = time.monotonic() - t
        cpu, rq = cpu_seconds(node.proc.pid) - cpu0, runq_wait_s(node.proc.pid) - rq0
        for pr in procs:
            pr.join()
        node.stop()
        rows.append(("POST, %s" % ("1 connection, one after another" if p == 1
                                   else "%d processes at once" % p), n, dt,
                     ", ".join("%d: %d" % kv for kv in sorted(codes.items())), cpu, rq))
    print("\n### POST /api/v1/events against `watchmesh import` of the same %d events\n" % n)
    print("| how | events | time | rate | of import | answers | node CPU / event "
          "| node waiting for a CPU / event |")
    print("|---|---|---|---|---|---|---|---|")
    imp = rows[0][1] / rows[0][2]
    for how, k, dt, answers, cpu, rq in rows:
        print("| %s | %d | %.2f s | %.0f /s | %.0f%% | %s | %s | %s |"
              % (how, k, dt, k / dt, 100 * k / dt / imp, answers,
                 "-" if cpu is None else "%.3f ms" % (1000 * cpu / k),
                 "-" if rq is None else "%.3f ms" % (1000 * rq / k)))
    sys.stdout.flush()


# --- 3. listing and search -------------------------------------------------------------

def store_for(wm, gen, data, n):
    """DATA/N/store: N events of bench_repair_gen's mix, generated and
    imported once, then reused."""
    d = os.path.join(data, str(n))
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "common.wmb")):
        print("generating %d events..." % n, file=sys.stderr)
        run([gen, d, str(n), "1"])
    store = os.path.join(d, "node")
    if not os.path.exists(os.path.join(store, "imported")):
        shutil.rmtree(store, ignore_errors=True)
        run([wm, "init", store, "--network", os.path.join(d, "bench.network"), "--name", "read"])
        t = time.monotonic()
        for b in ("common.wmb", "a_1.wmb"):
            import_bundle(wm, store, os.path.join(d, b))
        print("imported %d events in %.1f s" % (n, time.monotonic() - t), file=sys.stderr)
        open(os.path.join(store, "imported"), "w").close()
    return store


def timed(fn, reps=5):
    """(first, median of the rest) in ms; fn returns a count to report."""
    ts, k = [], None
    for _ in range(reps):
        t = time.monotonic()
        k = fn()
        ts.append((time.monotonic() - t) * 1000)
    return ts[0], sorted(ts[1:])[len(ts[1:]) // 2], k


def stream_under_searches(node, bundle, searches):
    """[(searches, [delay ms of 3 events])]: one SSE client, events POSTed
    while that many searches for a 2-character word are in flight."""
    fresh = [w for w in read_bundle(bundle)
             if node.request("GET", "/api/v1/events/" + event_id(w))[0] == 404]
    if len(fresh) < 3 * len(searches):
        die("%s: too few events the store does not hold; delete the store (DATA/N/node) "
            "to import it again" % bundle)
    ep, clients = select.epoll(), {}
    open_clients(node.port, 1, ep, clients)
    c = next(iter(clients.values()))
    out = []
    for k in searches:
        delays = []
        for _ in range(3):
            w = fresh.pop()
            eid = event_id(w)
            th = [threading.Thread(target=node.request, args=("GET", "/api/v1/search?q=" + quote("诈骗")))
                  for _ in range(k)]
            for t in th:
                t.start()
            time.sleep(0.1)
            t0 = time.time()
            st = node.request("POST", "/api/v1/events", body=w,
                              headers={"Content-Type": "application/msgpack"})[0]
            if st != 201:
                die("POST: %d" % st)
            end = time.monotonic() + 120
            while eid not in c.got:
                if time.monotonic() > end:
                    die("a POSTed event did not reach the stream within 120 s")
                pump(ep, clients, (eid,), 0.5)
            delays.append((c.got.pop(eid)[0] - t0) * 1000)
            for t in th:
                t.join()
        out.append((k, delays))
    c.sock.close()
    ep.close()
    return out


def part_read(wm, gen, work, data):
    sizes = [int(x) for x in os.environ.get("SIZES", "100000 1000000").split()]
    print("\n### Listing and search: the API next to the CLI, same store, same run\n")
    print("| events | request | API: first / median | results | CLI | CLI: first / median | results |")
    print("|---|---|---|---|---|---|---|")
    searches = [int(x) for x in os.environ.get("SEARCHES", "0 4").split()]
    stalls = []
    for n in sizes:
        store = store_for(wm, gen, data, n)
        node = Node(wm, store)
        node.configure(http_rate=100000)
        node.start()
        try:
            def api(path):
                def f():
                    st, body = node.request("GET", path)
                    if st != 200:
                        die("GET %s: %d %s" % (path, st, body[:200]))
                    return len(json.loads(body)["events"])
                return f

            def cli(*args):
                def f():
                    out = run([wm] + list(args) + ["--dir", store, "--json"])
                    return len(json.loads(out))
                return f

            nxt = json.loads(node.request("GET", "/api/v1/events?limit=1")[1])["next"]
            # what the store holds, not n: each run's stream part below POSTs
            # 3 events a row into the kept store
            held = json.loads(run([wm, "status", "--dir", store, "--json"]))["store"]["events"]
            rows = [("events?after=0&limit=100", api("/api/v1/events?after=0&limit=100"),
                     "feed --limit 100 (newest)", cli("feed", "--limit", "100", "--all"))]
            for x in (held // 2, held - 50):
                rows.append(("events?after=%d&limit=100" % (nxt - 1 + x),
                             api("/api/v1/events?after=%d&limit=100" % (nxt - 1 + x)), "", None))
            rows.append(("events?group=%s&limit=50" % GROUP, api("/api/v1/events?group=%s&limit=50" % GROUP),
                         "feed --group %s --limit 50" % GROUP, cli("feed", "--group", GROUP, "--limit", "50")))
            for q in ("诈骗", "电信诈骗"):
                rows.append(("search?q=%s" % q, api("/api/v1/search?q=" + quote(q)),
                             "search %s" % q, cli("search", q)))
            for what, f, cwhat, cf in rows:
                a1, am, ak = timed(f)
                if cf is None:
                    print("| %d | `%s` | %.1f / %.1f ms | %d | | | |" % (n, what, a1, am, ak))
                else:
                    c1, cm, ck = timed(cf)
                    print("| %d | `%s` | %.1f / %.1f ms | %d | `%s` | %.1f / %.1f ms | %d |"
                          % (n, what, a1, am, ak, cwhat, c1, cm, ck))
                sys.stdout.flush()
            stalls.append((n, stream_under_searches(node, os.path.join(data, str(n), "b_1.wmb"), searches)))
        finally:
            node.stop()
    print("\n### A POSTed event to one SSE client while searches for 诈骗 run\n")
    print("| events | searches in flight | delay to the stream, 3 events |")
    print("|---|---|---|")
    for n, rows in stalls:
        for k, delays in rows:
            print("| %d | %d | %s |" % (n, k, ", ".join("%.0f ms" % d for d in delays)))


def main():
    if len(sys.argv) != 2:
        die("usage: bench_http.py BUILD_DIR")
    build = sys.argv[1]
    wm = os.path.join(build, "node", "cli", "watchmesh")
    gen = os.path.join(build, "tests", "bench", "bench_repair_gen")
    for f in (wm, gen):
        if not os.access(f, os.X_OK):
            die("%s is not built (run make first)" % f)
    parts = os.environ.get("PARTS", "stream post read").split()
    work = tempfile.mkdtemp(prefix="wm-bench-http-", dir=os.environ.get("WORK", "/tmp"))
    data = os.environ.get("DATA", os.path.join(work, "data"))
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    print("machine: %d cores, %s; load average %.2f %.2f %.2f; commit %s; %s"
          % ((os.cpu_count(), cpu_model()) + os.getloadavg() +
             (commit or "?", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))))
    try:
        if "stream" in parts or "post" in parts:
            # the small set: its first HEAD events in every node, the rest posted
            small = os.path.join(data, "posts")
            os.makedirs(small, exist_ok=True)
            if not os.path.exists(os.path.join(small, "common.wmb")):
                run([gen, small, str(HEAD + env_int("POSTS", 10000) + env_int("EVENTS", 100) + 2000), "1"])
            wires = read_bundle(os.path.join(small, "common.wmb"))
            if len(wires) < HEAD + max(env_int("POSTS", 10000), env_int("EVENTS", 100)):
                die("%s holds %d events, too few for POSTS and EVENTS: delete it to make more"
                    % (small, len(wires)))
            write_bundle(os.path.join(work, "head.wmb"), wires[:HEAD])
            network = os.path.join(small, "bench.network")
            if "stream" in parts:
                part_stream(wm, work, network, wires[HEAD:])
            if "post" in parts:
                part_post(wm, work, network, wires[HEAD:])
        if "read" in parts:
            part_read(wm, gen, work, data)
    finally:
        if os.environ.get("KEEP") == "1":
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
