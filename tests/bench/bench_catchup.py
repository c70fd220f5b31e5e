#!/usr/bin/python3
"""bench_catchup: an empty node catches up with a peer holding N events,
two real `watchmesh run` daemons on 127.0.0.1, against the single-core
Ed25519 verification rate measured in the same run (bench_import).

    tests/bench/bench_catchup.py BUILD_DIR [OTHER_WATCHMESH...]
    N=100000 RUNS=3 WORK=/tmp (where the temporary directory goes) KEEP=1 (keep it)
    PERF=1 (record daemon A, the one catching up, with `perf record -g` into
    WORK/perf.a.data; keep it with KEEP=1)
    CALLGRIND=1 (run daemon A under valgrind --tool=callgrind, one file a
    thread in WORK/cg.a.PID-NN, and print its instructions an event: the
    loop thread and the rest; use a small N, e.g. 5000, and KEEP=1 to read
    the files with callgrind_annotate)

BUILD_DIR gives bench_import (the bundle and the reference rate) and a
watchmesh; each OTHER_WATCHMESH (e.g. a copy of an older build's binary)
runs the same catch-ups, alternating with it, so that the machine's load
is shared fairly.  B imports the bundle once per build (its store is copied
for each run); A starts empty and dials B.  Catch-up runs from A's start to A's store
holding all N; CPU is user + system until then (/proc), A's split into
its loop thread and the rest (libuv's pool, where it verifies).  On a
loaded machine wall times mean little; the last column does not depend on
load: A on two free cores is held back by its loop thread or by its CPU
shared over both, whichever is longer, as a share of the one-core verify
rate per CPU second (bench_import's verify_per_cpu_s).
Prints a markdown table.  Not a test.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def die(msg):
    print("bench_catchup: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def node(wm, work, name, network, port, peer_port, store=None):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([wm, "init", d, "--network", network, "--name", name], check=True,
                   stdout=subprocess.DEVNULL)
    if store:
        os.unlink(os.path.join(d, "store.db"))
        shutil.copyfile(store, os.path.join(d, "store.db"))
    with open(os.path.join(d, "watchmesh.conf"), "a") as f:
        f.write("listen = 127.0.0.1:%d\npeers = %s\nbeacons = off\nhttp = off\n"
                "repair_interval = 3600\n" % (port, "127.0.0.1:%d" % peer_port if peer_port else ""))
    return d


def events(wm, d):
    r = subprocess.run([wm, "status", "--dir", d, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    try:
        return json.loads(r.stdout)["store"]["events"]
    except (ValueError, KeyError, TypeError):
        return -1


def cpu_seconds(pid, tid=None):
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_cpu(pid):
    """CPU of the loop (the main thread) and of all the others (libuv's pool)."""
    loop = cpu_seconds(pid, pid)
    return loop, cpu_seconds(pid) - loop


def wait_listening(log, proc):
    end = time.monotonic() + 60
    while time.monotonic() < end:
        with open(log, errors="replace") as f:
            if "listening on" in f.read():
                return
        if proc.poll() is not None:
            die("daemon exited; log " + log)
        time.sleep(0.05)
    die("daemon did not start; log " + log)


def catchup(wm, work, network, store, n):
    pb, pa = free_port(), free_port()
    b = node(wm, work, "b", network, pb, 0, store)
    a = node(wm, work, "a", network, pa, pb)
    procs = []
    try:
        with open(os.path.join(work, "b.log"), "w") as f:
            procs.append(subprocess.Popen([wm, "run", b], stdout=f, stderr=subprocess.STDOUT))
        wait_listening(os.path.join(work, "b.log"), procs[0])
        t0 = time.time()
        cg = []
        if os.environ.get("CALLGRIND"):
            cg = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                  "--callgrind-out-file=" + os.path.join(work, "cg.a.%p")]
        with open(os.path.join(work, "a.log"), "w") as f:
            procs.append(subprocess.Popen(cg + [wm, "run", a], stdout=f, stderr=subprocess.STDOUT))
        if os.environ.get("PERF"):
            procs.append(subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-q", "-p",
                                           str(procs[1].pid), "-o", os.path.join(work, "perf.a.data")]))
        end = time.monotonic() + max(600, n / 100) * (20 if cg else 1)
        while time.monotonic() < end:
            if events(wm, a) >= n:
                break
            for p in procs[:2]:
                if p.poll() is not None:
                    die("a daemon exited; logs in " + work)
            time.sleep(0.25)
        else:
            die("A did not catch up; logs in " + work)
        dt = time.time() - t0
        return dt, threads_cpu(procs[1].pid), cpu_seconds(procs[0].pid), procs[1].pid
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(600)


def instructions(work, pid):
    """Instructions (Ir) of A's loop thread and of its other threads, from
    callgrind's files, one a thread (the loop is the first)."""
    loop = rest = 0
    for name in sorted(os.listdir(work)):
        if not name.startswith("cg.a.%d-" % pid):
            continue
        with open(os.path.join(work, name)) as f:
            ir = sum(int(ln.split()[1]) for ln in f if ln.startswith("totals:"))
        if name.endswith("-01"):
            loop += ir
        else:
            rest += ir
    return loop, rest


def main():
    if len(sys.argv) < 2:
        die("usage: bench_catchup.py BUILD_DIR [OTHER_WATCHMESH...]")
    build = sys.argv[1]
    wms = [os.path.join(build, "node/cli/watchmesh")] + sys.argv[2:]
    gen = os.path.join(build, "tests/bench/bench_import")
    n = int(os.environ.get("N", "100000"))
    runs = int(os.environ.get("RUNS", "3"))
    work = tempfile.mkdtemp(prefix="wm-catchup.", dir=os.environ.get("WORK", "/tmp"))
    try:
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        out = subprocess.run(pin + [gen, work, str(n)], check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        ref = dict(ln.split()[:2] for ln in out.splitlines())
        verify, verify_cpu = float(ref["verify_per_s"]), float(ref["verify_per_cpu_s"])
        network = os.path.join(work, "bench.network")
        stores = {}
        for i, wm in enumerate(wms):
            # B's store made by the same build as A: an older build cannot
            # open a store of a newer schema
            src = node(wm, work, "src%d" % i, network, free_port(), 0)
            subprocess.run([wm, "import", "--dir", src, os.path.join(work, "bench.wmb")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([wm, "status", "--dir", src], stdout=subprocess.DEVNULL)
            stores[wm] = os.path.join(work, "store%d.db" % i)
            shutil.copyfile(os.path.join(src, "store.db"), stores[wm])
            total = events(wm, src)
        print("%d events; verify on one core %.0f /s, %.0f per CPU second; load %.1f; %d cores"
              % (total, verify, verify_cpu, os.getloadavg()[0], os.cpu_count()))
        print()
        print("| watchmesh | run | catch-up | rate | of one-core verify | CPU A: loop + pool | CPU B "
              "| A's CPU / event | 2 free cores: bound, of verify |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in range(runs):
            for wm in wms:
                dt, (loop, pool), cb, pid = catchup(wm, work, network, stores[wm], total)
                if os.environ.get("CALLGRIND"):
                    il, ir = instructions(work, pid)
                    print("| %s | %d | instructions an event: loop %.0f, other threads %.0f, all %.0f |"
                          % (wm, r + 1, il / total, ir / total, (il + ir) / total))
                    continue
                # on two idle cores A is held back by its loop thread or by
                # both cores' worth of its CPU, whichever is longer: a
                # figure the machine's other load does not move
                bound = max(loop, (loop + pool) / 2)
                print("| %s | %d | %.2f s | %.0f /s | %.2f | %.2f + %.2f s | %.2f s | %.0f µs | %.2f |"
                      % (wm, r + 1, dt, total / dt, total / dt / verify, loop, pool, cb,
                         1e6 * (loop + pool) / total, total / bound / verify_cpu))
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)


main()
