#!/usr/bin/python3
"""bench_web: the web app (node/web) in Chromium against a real `watchmesh
run` daemon on 127.0.0.1 (issue 10's benchmarks; figures in BENCHMARKS.md).

    tests/bench/bench_web.py BUILD_DIR          (make bench BENCH=web)
    SIZES="10000 100000" (events of the group the page opens)  RUNS=3
    HTTP_RATE=100000 (the node's http_rate: by default lifted, so that the
    page's own cost is measured; at the node's default of 50 requests a
    second the first sync takes at least one second per 50 events)
    PROFILE=1 (one more throttled run at the largest size, with the page's
    CPU profile: where the time goes)
    DATA=DIR (where the generated events and imported stores stay, reused by
    later runs; default WORK/data, deleted unless KEEP=1)  WORK=/tmp  KEEP=1

1. first sync: a node whose store holds SIZES events of one group (and the
   certificates); a fresh page each run (a new browser context: nothing
   kept), 360 x 740 pixels, its CPU slowed 4 times (CDP
   Emulation.setCPUThrottlingRate, as for a cheap phone), and the same
   unthrottled, the reference, in the same run.  Wall time from navigation
   until the group can be picked (the certificates checked in the page),
   until the feed's first card shows (the page draws as each page of the
   listing is checked), and until the first sync is over (the group listed
   to its end and every event fetched and checked in the page); and how
   many cards the page then holds (it draws a window of the newest).
2. size: the page opened twice in one context (a resident coming back, the
   service worker running), unthrottled, through a proxy here that counts
   the bytes the node sends, by what was asked for: the app's files, the
   listing, the events' wire bytes, the stream.  The page keeps what it
   checked and reads a later visit from its kept cursor.

The events come from tests/bench/bench_repair_gen (real signed events,
Chinese text): about 5.5 times SIZE of its mix of five groups, of which the
first SIZE of one group are kept, with the certificates and one more
officer certificate naming that group (the generator's say "*", which the
page does not offer as a community).  Prints markdown tables.  Not a test.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from bench_http import Node, die, env_int  # noqa: E402
from bench_repair import import_bundle, run  # noqa: E402
from wmtest import event, read_bundle, unwrap  # noqa: E402

GROUP = "gaobu.xinhua-village"   # one of the mix's five groups (tests/bench/mix.c)
MIX = {"gaobu.xinhua-village", "gaobu.dongfeng", "gaobu.park-3", "gaobu.station", "gaobu.riverside"}
# tests/fixture's fx_cast_numbered: seeds { role, n (4 bytes) }
STATION_SEED = bytes([2]) + bytes(31)
OFFICER_SEED = bytes([3]) + bytes(31)
DRIVER = os.path.join(HERE, "bench_web.mjs")
RATE = 4


def group_cert():
    """The officer certified for GROUP by the generator's station."""
    now = int(time.time() * 1000) - 60000
    officer = bytes(nacl.signing.SigningKey(OFFICER_SEED).verify_key)
    wire, _ = event(STATION_SEED, 7, now, "network",
                    {"subject": officer, "role": "officer", "name": "王警官", "groups": [GROUP],
                     "not_before": now, "not_after": now + 365 * 86400000})
    return wire


def store_for(wm, gen, data, n):
    """DATA/web-N/node: N events of GROUP and the certificates, imported once."""
    d = os.path.join(data, "web-%d" % n)
    os.makedirs(d, exist_ok=True)
    store = os.path.join(d, "node")
    if os.path.exists(os.path.join(store, "imported")):
        return store
    print("generating %d events..." % (n * 11 // 2), file=sys.stderr)
    run([gen, d, str(n * 11 // 2), "1"])
    kept, mine = [], 0
    for b in ("common.wmb", "a_1.wmb"):
        for w in read_bundle(os.path.join(d, b)):
            g = msgpack.unpackb(unwrap(w)[0])[5]
            if g not in MIX or (g == GROUP and mine < n):
                kept.append(w)
                mine += g == GROUP
    if mine < n:
        die("only %d events of %s generated" % (mine, GROUP))
    kept.append(group_cert())
    with open(os.path.join(d, "web.wmb"), "wb") as f:
        f.write(b"".join(kept))
    shutil.rmtree(store, ignore_errors=True)
    run([wm, "init", store, "--network", os.path.join(d, "bench.network"), "--name", "web"])
    import_bundle(wm, store, os.path.join(d, "web.wmb"))
    for b in ("common.wmb", "a_1.wmb", "b_1.wmb"):
        os.unlink(os.path.join(d, b))
    open(os.path.join(store, "imported"), "w").close()
    return store


def driver(*args, env=None, on_visit=None):
    """Run bench_web.mjs; its JSON line.  on_visit() is called when it says
    a visit is over, as it says it."""
    p = subprocess.Popen(["node", DRIVER] + [str(a) for a in args], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=dict(os.environ, **(env or {})))
    last = None
    for ln in p.stdout:
        if ln.startswith("{"):
            last = json.loads(ln)
        elif on_visit and ln.startswith("visit "):
            on_visit()
        else:
            sys.stderr.write(ln)
    if p.wait() != 0 or last is None:
        die("bench_web.mjs %s failed (%d)" % (args[0], p.returncode))
    return last


# --- the proxy that counts ---------------------------------------------------------------

def kind_of(path):
    if not path.startswith("/api/"):
        return "app"
    if path.startswith("/api/v1/stream"):
        return "stream"
    if path.endswith("/raw"):
        return "raw"
    if path.startswith("/api/v1/events?"):
        return "list"
    return "api"


class Counter:
    """A TCP proxy on a free port to the node: bytes from the node to the
    browser by what the connection last asked for (HTTP/1.1, which Chromium
    does not pipeline: one response after each request)."""

    def __init__(self, port):
        self.up = port
        self.lock = threading.Lock()
        self.bytes = {}
        self.asked = {}
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return dict(self.bytes), dict(self.asked)

    def accept(self):
        while True:
            c, _ = self.ls.accept()
            s = socket.create_connection(("127.0.0.1", self.up))
            conn = {"kind": "app"}
            threading.Thread(target=self.pump, args=(c, s, conn, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, conn, False), daemon=True).start()

    def pump(self, src, dst, conn, asking):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if asking:
                        line = data.split(b"\r\n", 1)[0].split(b" ")
                        if len(line) == 3 and line[2].startswith(b"HTTP/"):
                            conn["kind"] = kind_of(line[1].decode("latin-1"))
                            self.asked[conn["kind"]] = self.asked.get(conn["kind"], 0) + 1
                    else:
                        self.bytes[conn["kind"]] = self.bytes.get(conn["kind"], 0) + len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# --- the figures -------------------------------------------------------------------------

def mmm(xs):
    return "%.1f / %.1f / %.1f s" % (min(xs) / 1000, statistics.median(xs) / 1000, max(xs) / 1000)


def part_time(node, n, runs, profile):
    url = "http://127.0.0.1:%d/" % node.port
    res = {1: [], RATE: []}
    for _ in range(runs):
        for rate in (1, RATE):      # the reference beside each throttled run
            r = driver("time", url, GROUP, rate)
            print("  %d events, CPU / %d: %s" % (n, rate, json.dumps(r)), file=sys.stderr)
            if r["refused"]:
                die("the page refused events of the generated store: the times are not of a sync")
            res[rate].append(r)
    print("\n### first sync of %d events, runs: %d\n" % (n, runs))
    print("| page | group offered | first card | first sync over | requests for wire bytes | cards in the page | "
          "throttled / reference (sync) |")
    print("|---|---|---|---|---|---|---|")
    ref = statistics.median(r["sync"] for r in res[1])
    for rate in (1, RATE):
        rs = res[rate]
        print("| %s | %s | %s | %s | %d | %d | %s |" % (
            "unthrottled (reference)" if rate == 1 else "CPU / %d, 360 x 740" % rate,
            mmm([r["groups"] for r in rs]), mmm([r["feed"] for r in rs]), mmm([r["sync"] for r in rs]),
            rs[0]["raw"], rs[0]["cards"], "" if rate == 1 else "%.1f x" % (statistics.median(r["sync"] for r in rs) / ref)))
    if profile:
        r = driver("time", url, GROUP, RATE, env={"PROFILE": "1"})
        print("\nWhere a throttled first sync's time goes (%.1f s; CDP Profiler, own time of the "
              "page's functions, the largest):\n" % (r["sync"] / 1000))
        print("| function | own time |")
        print("|---|---|")
        for f in r["profile"]:
            print("| `%s` | %.1f s |" % (f["name"], f["ms"] / 1000))
    sys.stdout.flush()


def part_size(node, n):
    proxy = Counter(node.port)
    snaps = []
    r = driver("visits", "http://127.0.0.1:%d/" % proxy.port, GROUP,
               on_visit=lambda: snaps.append(proxy.snapshot()))
    if len(snaps) != 2:
        die("bench_web.mjs visits: %d visits marked" % len(snaps))
    (b1, a1), (b2, a2) = snaps
    seen = [(b1, a1), ({k: v - b1.get(k, 0) for k, v in b2.items()}, {k: v - a1.get(k, 0) for k, v in a2.items()})]
    print("\n### transferred, %d events in the group\n" % n)
    print("| visit | app files | listing | events' wire bytes | stream | all, from the node | "
          "the page's CDP Network (encodedDataLength) | served by the worker | until synced | kept on the device |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (b, a), v in (("first", seen[0], r["first"]), ("later", seen[1], r["later"])):
        def cell(k):
            return "%.1f KiB (%d)" % (b.get(k, 0) / 1024, a.get(k, 0))
        print("| %s | %s | %s | %s | %s | %.1f KiB | %.1f KiB (%d responses) | %d | %.1f s | %.1f MiB |" % (
            name, cell("app"), cell("list"), cell("raw"), cell("stream"), sum(b.values()) / 1024,
            v["bytes"] / 1024, v["requests"], v["fromWorker"], v["ms"] / 1000, v["stored"] / 1048576))
    sys.stdout.flush()


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    build = os.path.abspath(sys.argv[1])
    wm = os.path.join(build, "node", "cli", "watchmesh")
    gen = os.path.join(build, "tests", "bench", "bench_repair_gen")
    web = os.path.join(build, "node", "web")
    for f in (wm, gen, os.path.join(web, "app.js")):
        if not os.path.exists(f):
            die("%s is missing: build it first (ninja -C %s; the app needs `make web-deps`)" % (f, build))
    if not os.path.exists("/usr/bin/chromium"):
        die("/usr/bin/chromium is missing: apt-get install chromium")
    sizes = [int(s) for s in os.environ.get("SIZES", "10000 100000").split()]
    runs = env_int("RUNS", 3)
    work = tempfile.mkdtemp(prefix="wm-bench-web.", dir=os.environ.get("WORK"))
    data = os.environ.get("DATA") or os.path.join(work, "data")
    try:
        for n in sizes:
            store = store_for(wm, gen, data, n)
            node = Node(wm, os.path.join(work, "node-%d" % n))
            node.dir = store
            node.configure(web_dir=web, http_rate=env_int("HTTP_RATE", 100000))
            node.start()
            try:
                part_time(node, n, runs, os.environ.get("PROFILE") == "1" and n == max(sizes))
                part_size(node, n)
            finally:
                node.stop()
    finally:
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept %s" % work, file=sys.stderr)


if __name__ == "__main__":
    main()
