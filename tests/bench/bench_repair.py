#!/usr/bin/python3
"""bench_repair: two real `watchmesh run` daemons on 127.0.0.1 repair the
difference between two stores of N real signed events.

    tests/bench/bench_repair.py BUILD_DIR
    N=1000000 (default) LEVELS="1 10 100" (per mille of N that differ)
    WORK=/tmp (where the temporary directory goes)  KEEP=1 (keep it)
    REUSE=DIR (a directory KEEP=1 kept, with the same N: its bundles and
    imported common part are used again, nothing is generated or deleted)
    CHECK=1 (a test, not a measurement: fail unless every level ends with
    both stores holding the union and A's negentropy messages equal, round
    trips and bytes, the reference's at the mesh's frame limit; the suite's
    mesh_catchup runs N=20000 LEVELS=100 this way)
    LOG_LEVEL=debug (the daemons' log level; debug lines say which frames
    took longer than 10 ms to handle)
    PERF=1 (record daemons B and A with `perf record -e cpu-clock -g -k
    CLOCK_REALTIME` into WORK/perf.b.data and perf.a.data: `perf report
    --time` takes the times of the logs' lines, seconds since 1970)
    STRACE=1 (trace daemon B's system calls with their times, `strace -f
    -ttt`, into WORK/strace.b.txt: count those of A's session from the
    'up' line to A's 'repair cost' line)
    RESULTS=FILE (append one JSON line per level: what tests/bench/run.py
    puts in BENCHMARKS.md)
    TIMEOUT=seconds a level may take (default N/500, at least 600); a failed
    run keeps its directory and the daemons' logs

For each level the two stores hold N events each and differ in LEVEL/1000
of N, half only on side A, half only on side B (tests/bench/bench_repair_gen.c
makes the events; the common part is imported once and its store.db copied
into fresh data directories, then each side imports its own part).  Then B
starts, A starts with B as its peer; A (the dialer) reconciles as client at
once, B answers, A fetches what it lacks and announces to B what B lacks,
which B fetches; B runs its own session after A's (proto/PROTOCOL.md §13),
usually finding nothing left.

Reported per level, from the daemons' log lines ("repair cost", logged by
node/mesh/mesh.c) and `watchmesh status --json`: round trips, negentropy
bytes each way, time to the first reply of the sync session of the shared
groups (the server opens its view of the 1M store and answers),
reconciliation time, the time until both stores hold the union (fetch,
verify, store), and the CPU both daemons used until then (user + system,
from /proc: the figure other load on the machine moves least); the
daemons' peak resident set and their WAL files (the largest seen while
they repaired, and at the end), their read system calls while A
reconciles (pages their store readers lacked, and the socket's); next to the reference figures for the
same two sets (neg_vec in process, printed by bench_repair_gen: round
trips, bytes and the time of the reconciliation alone in memory, the
reference the daemons' reconciliation is measured against).
Prints a markdown table.  Not a test: `make bench BENCH=repair`.
"""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
COST = re.compile(r"repair cost: groups (\d+) round trips, (\d+) bytes sent, (\d+) received, "
                  r"first reply (\d+) ms; network (\d+) round trips, (\d+) bytes sent, "
                  r"(\d+) received, first reply (\d+) ms; (\d+) ms in all")


def die(msg):
    print("bench_repair: " + msg, file=sys.stderr)
    sys.exit(1)


def log_time(line):
    m = LOG_TS.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        die("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def import_bundle(wm, d, bundle):
    t = time.monotonic()
    out = run([wm, "import", "--dir", d, bundle])
    dt = time.monotonic() - t
    m = re.search(r"(\d+) events: (\d+) stored", out)
    if not m or m.group(1) != m.group(2):
        die("import of %s: %s" % (bundle, out))
    return int(m.group(2)), dt


def make_node(wm, work, name, network, base, bundle, port, peer_port):
    d = os.path.join(work, name)
    run([wm, "init", d, "--network", network, "--name", name])
    os.unlink(os.path.join(d, "store.db"))
    for suffix in ("", "-wal"):
        src = os.path.join(base, "store.db" + suffix)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(d, "store.db" + suffix))
    n, dt = import_bundle(wm, d, bundle)
    conf = os.path.join(d, "watchmesh.conf")
    with open(conf) as f:
        lines = f.read().splitlines()
    settings = {
        "listen": "127.0.0.1:%d" % port,
        "peers": "127.0.0.1:%d" % peer_port if peer_port else "",
        "beacons": "off",
        "http": "off",
        "repair_interval": "3600",      # only the repair on connect is measured
        "log_level": os.environ.get("LOG_LEVEL", "info"),
    }
    out = []
    for ln in lines:
        k = ln.split("=", 1)[0].strip()
        if not ln.lstrip().startswith("#") and k in settings:
            ln = "%s = %s" % (k, settings.pop(k))
        out.append(ln)
    out += ["%s = %s" % kv for kv in settings.items()]
    with open(conf, "w") as f:
        f.write("\n".join(out) + "\n")
    return d, n, dt


def store_events(wm, d):
    r = subprocess.run([wm, "status", "--dir", d, "--json"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    try:
        return json.loads(r.stdout)["store"]["events"]
    except (ValueError, KeyError, TypeError):
        return -1


def wait_line(path, pattern, timeout, proc):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(path, errors="replace") as f:
            for ln in f:
                if re.search(pattern, ln):
                    return ln
        if proc.poll() is not None:
            die("daemon exited (%d); log %s" % (proc.returncode, path))
        time.sleep(0.05)
    die("no line /%s/ in %s within %d s" % (pattern, path, timeout))


def fetched_total(path):
    n = 0
    for ln in lines(path):
        m = re.search(r"repair fetched (\d+) events", ln)
        if m:
            n += int(m.group(1))
    return n


def vm_kib(pid, field):
    """A /proc/PID/status field in KiB (VmHWM: the peak resident set)."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    return 0


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def one_level(wm, work, network, base, per, n, h, timeout):
    pa, pb = free_port(), free_port()
    a, _, ta = make_node(wm, work, "a%d" % per, network, base,
                         os.path.join(work, "a_%d.wmb" % per), pa, pb)
    b, _, tb = make_node(wm, work, "b%d" % per, network, base,
                         os.path.join(work, "b_%d.wmb" % per), pb, 0)
    for d in (a, b):
        c = store_events(wm, d)
        if c != n:
            die("%s holds %d events, not %d" % (d, c, n))
    union = n + h
    la, lb = os.path.join(work, "a%d.log" % per), os.path.join(work, "b%d.log" % per)
    procs = []
    try:
        with open(lb, "w") as f:
            procs.append(subprocess.Popen([wm, "run", b], stdout=f, stderr=subprocess.STDOUT))
        wait_line(lb, r"listening on", 120, procs[0])
        if os.environ.get("PERF") == "1":
            procs.append(subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-q",
                                           "-k", "CLOCK_REALTIME", "-p", str(procs[0].pid),
                                           "-o", os.path.join(work, "perf.b.data")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(1)
        if os.environ.get("STRACE") == "1":
            procs.append(subprocess.Popen(["strace", "-f", "-ttt", "-p", str(procs[0].pid),
                                           "-o", os.path.join(work, "strace.b.txt")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(1)
        # The daemons' CPU while A reconciles: sampled every 5 ms from A's
        # start, counted from the last sample before A's "listening on"
        # line to the last before its cost line (neither daemon fetches
        # before its sessions end); the figure the machine's other load
        # moves least.  The script asks for the CPU first meanwhile (as
        # root), so that a loaded machine does not make it see the lines
        # late and count A's start or the fetching after.
        try:
            old_nice = os.nice(0)
            os.nice(-10)
        except OSError:
            old_nice = None
        t_launch = time.time()
        with open(la, "w") as f:
            procs.insert(1, subprocess.Popen([wm, "run", a], stdout=f, stderr=subprocess.STDOUT))
        if os.environ.get("PERF") == "1":
            procs.append(subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-q",
                                           "-k", "CLOCK_REALTIME", "-p", str(procs[1].pid),
                                           "-o", os.path.join(work, "perf.a.data")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cpu0, cpu_recon, t_listen, reads_recon = 0, None, None, None
        with open(la, errors="replace") as f:
            seen = ""
            while cpu_recon is None and time.time() < t_launch + timeout:
                c = sum(task_cpu(p.pid) for p in procs[:2])
                seen += f.read()
                if t_listen is None and "listening on" in seen:
                    t_listen = time.time()
                    reads0 = sum(read_calls(p.pid) for p in procs[:2])
                if t_listen is None:
                    cpu0 = c
                elif "repair cost:" in seen:
                    cpu_recon = c - cpu0
                    reads_recon = sum(read_calls(p.pid) for p in procs[:2]) - reads0
                elif "repair abandoned" in seen:
                    break           # the wait for the union below says what failed
                if procs[1].poll() is not None:
                    die("daemon A exited (%d); log %s" % (procs[1].returncode, la))
                time.sleep(0.005)
        if old_nice is not None:
            os.setpriority(os.PRIO_PROCESS, 0, old_nice)
        if t_listen is None:
            die("A did not start listening within %d s; log %s" % (timeout, la))
        # Wait on the log lines (reading two files is cheap; polling
        # `watchmesh status` often would take CPU from the daemons on a
        # 2-core machine), then confirm the union with the store counts.
        end = time.monotonic() + timeout
        t_done, ca, cb, it = None, -1, -1, 0
        wal_paths = [os.path.join(d, "store.db-wal") for d in (a, b)]
        wal_peak = [0, 0]
        while time.monotonic() < end:
            it += 1
            wal_peak = [max(x, file_size(w)) for x, w in zip(wal_peak, wal_paths)]
            if (fetched_total(la) >= h and fetched_total(lb) >= h) or it % 25 == 0:
                ca, cb = store_events(wm, a), store_events(wm, b)
                if ca == union and cb == union:
                    t_done = time.time()
                    break
            for p in procs:
                if p.poll() is not None:
                    die("a daemon exited (%d); logs in %s" % (p.returncode, work))
            time.sleep(0.2)
        if t_done is None:
            die("level %d: no union within %d s (A %d, B %d of %d); logs in %s"
                % (per, timeout, ca, cb, union, work))
        cpu = sum(cpu_seconds(p.pid) for p in procs[:2])
        # memory and WAL at the end of the repair, before the daemons stop
        # (a stop checkpoints the WAL away)
        peak = [vm_kib(p.pid, "VmHWM") for p in (procs[1], procs[0])]
        rss = [vm_kib(p.pid, "VmRSS") for p in (procs[1], procs[0])]
        wal = [file_size(w) for w in wal_paths]
        wal_peak = [max(x, y) for x, y in zip(wal_peak, wal)]
        print("  level %d: the daemons' read system calls while A reconciled: %s"
              % (per, reads_recon))
        print("  level %d: daemons' RSS a %.0f MiB, b %.0f MiB at the peak, %.0f / %.0f MiB at the "
              "end; WAL a %.0f MiB, b %.0f MiB at the largest seen, %.0f / %.0f MiB at the end"
              % (per, peak[0] / 1024, peak[1] / 1024, rss[0] / 1024, rss[1] / 1024,
                 wal_peak[0] / 2**20, wal_peak[1] / 2**20, wal[0] / 2**20, wal[1] / 2**20))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
    r = {"per": per, "h": h, "import_s": ta + tb, "launch_to_listen": t_listen - t_launch,
         "cpu_s": cpu, "recon_cpu_ms": None if cpu_recon is None else cpu_recon * 1000,
         "recon_reads": reads_recon, "rss_peak_kib": peak, "rss_end_kib": rss, "wal_peak": wal_peak,
         "wal_end": wal}
    for side, log in (("a", la), ("b", lb)):
        ls = lines(log)
        up = [log_time(x) for x in ls if re.search(r"peer \S+ \S+ up \(", x)]
        cost = [(log_time(x), COST.search(x)) for x in ls if COST.search(x)]
        fetched = [log_time(x) for x in ls if "repair fetched" in x]
        # B's own session runs after A's (the dialer repairs first) and
        # usually finds nothing left: its cost line is then a debug line
        if not up or (not cost and side == "a"):
            die("%s: no 'up' or 'repair cost' line; log %s" % (side, log))
        t_cost, m = cost[0] if cost else (None, None)
        g = [int(v) for v in m.groups()] if m else [None] * 9
        r[side] = {
            "up": up[0], "rt": g[0], "out": g[1], "in": g[2], "first": g[3],
            "net_rt": g[4], "net_out": g[5], "net_in": g[6], "net_first": g[7],
            "recon_ms": g[8], "recon_end": t_cost,
            "fetched_end": max(fetched) if fetched else None,
        }
    t_up = min(r["a"]["up"], r["b"]["up"])
    ends = [r[s]["fetched_end"] for s in "ab" if r[s]["fetched_end"]]
    r["catchup_log_s"] = (max(ends) - t_up) if len(ends) == 2 else None
    r["catchup_poll_s"] = t_done - t_up     # an upper bound: seen by the script
    return r


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    sys.stdout.reconfigure(line_buffering=True)
    build = sys.argv[1]
    wm = os.path.join(build, "node", "cli", "watchmesh")
    gen = os.path.join(build, "tests", "bench", "bench_repair_gen")
    for f in (wm, gen):
        if not os.access(f, os.X_OK):
            die("%s is not built (run ninja -C %s first)" % (f, build))
    n = int(os.environ.get("N", "1000000"))
    levels = [int(x) for x in os.environ.get("LEVELS", "1 10 100").split()]
    reuse = os.environ.get("REUSE")
    if reuse and not os.path.exists(os.path.join(reuse, "gen.txt")):
        die("REUSE=%s: no gen.txt there (keep a run with KEEP=1 first)" % reuse)
    work = reuse or tempfile.mkdtemp(prefix="wm-bench-repair.", dir=os.environ.get("WORK", "/tmp"))
    keep = os.environ.get("KEEP") == "1" or bool(reuse)
    ok = False
    try:
        print("N = %d events per store; levels (per mille) %s; work dir %s" % (n, levels, work))
        print("machine: %d cores, %s; load average %s" % (
            os.cpu_count(), cpu_model(), " ".join("%.2f" % x for x in os.getloadavg())))
        gen_out = os.path.join(work, "gen.txt")
        if reuse:
            print("reusing the bundles and the common store of %s" % work)
            if os.path.exists(os.path.join(work, "sets.bin")):
                # the references measured again, in this run
                out = run([gen, "--ref", work, str(n)] + [str(x) for x in levels])
            else:
                with open(gen_out) as f:
                    out = f.read()
        else:
            t = time.monotonic()
            out = run([gen, work, str(n)] + [str(x) for x in levels])
            print("generated and signed the bundles in %.1f s" % (time.monotonic() - t))
            with open(gen_out, "w") as f:
                f.write(out)
        ref, ref512, h = {}, {}, {}
        for ln in out.splitlines():
            p = ln.split()
            if p[0] == "ref":
                ref[int(p[1])] = [int(x) for x in p[2:]]
            elif p[0] == "ref512":
                ref512[int(p[1])] = [int(x) for x in p[2:]]
            elif p[0] == "level":
                h[int(p[1])] = int(p[3])
        network = os.path.join(work, "bench.network")
        base = os.path.join(work, "base")
        if not reuse:
            run([wm, "init", base, "--network", network, "--name", "base"])
            nc, dt = import_bundle(wm, base, os.path.join(work, "common.wmb"))
            print("imported the common part: %d events in %.1f s (%.0f /s)" % (nc, dt, nc / dt))
        results = []
        for per in levels:
            if per not in h:
                die("level %d was not generated in %s" % (per, work))
            for s in "ab":
                shutil.rmtree(os.path.join(work, "%s%d" % (s, per)), ignore_errors=True)
            r = one_level(wm, work, network, base, per, n, h[per], timeout=int(os.environ.get("TIMEOUT", max(600, n // 500))))
            r["ref"] = ref[per]
            r["ref512"] = ref512.get(per)
            results.append(r)
            if os.environ.get("CHECK") == "1":
                got = [r["a"]["rt"], r["a"]["out"], r["a"]["in"]]
                if r["ref512"] is None or got != r["ref512"][:3]:
                    die("level %d: A's session took %s (round trips, bytes out, in), the reference "
                        "%s" % (per, got, r["ref512"]))
            report_one(r)
            if os.environ.get("RESULTS"):
                with open(os.environ["RESULTS"], "a") as f:
                    f.write(json.dumps({"n": n, "per": per, "h": h[per], "a": r["a"], "b": r["b"],
                                        "cpu_s": r["cpu_s"], "catchup_s": catchup(r),
                                        "ref_ms": ref_ms(r), "ref512": r["ref512"],
                                        "ref_cpu_ms": ref_ms(r, True),
                                        "recon_cpu_ms": r["recon_cpu_ms"],
                                        "rss_peak_kib": r["rss_peak_kib"],
                                        "rss_end_kib": r["rss_end_kib"],
                                        "wal_peak": r["wal_peak"], "wal_end": r["wal_end"],
                                        "load": os.getloadavg()[0]}) + "\n")
            sys.stdout.flush()
            if not keep:
                for s in "ab":
                    shutil.rmtree(os.path.join(work, "%s%d" % (s, per)), ignore_errors=True)
        print()
        table(n, results)
        print("\nload average at the end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
        ok = True
    finally:
        if keep or not ok:      # a failed run keeps its logs
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def ms(v):
    return "-" if v is None else "%d ms" % v


def task_cpu(pid):
    """CPU time of every thread of a process so far (schedstat, ns), in s."""
    t = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def read_calls(pid):
    """Read system calls of a process so far (/proc/PID/io syscr): the
    socket's reads, and, with the store readers' mmap off, one pread for
    each page a reader's cache lacks (a commit by the writer empties the
    cache of every reader: WAL mode keeps no finer record of what changed)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("syscr:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """User + system CPU a process has used so far (Linux /proc), in s:
    unlike the wall clock, hardly moved by other load on the machine."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ref_ms(r, cpu=False):
    """The same reconciliation in memory at the mesh's frame limit, in ms
    of wall time (of CPU time: cpu); None from bundles generated before
    bench_repair_gen timed it."""
    r5, k = r["ref512"], 6 if cpu else 5
    return r5[k] / 1000 if r5 and len(r5) > k else None


def ratio(r, cpu=False):
    rm, got = ref_ms(r, cpu), r["recon_cpu_ms"] if cpu else r["a"]["recon_ms"]
    return "-" if not rm or got is None else "%.1fx" % (got / rm)


def catchup(r):
    return r["catchup_log_s"] if r["catchup_log_s"] is not None else r["catchup_poll_s"]


def report_one(r):
    a, b = r["a"], r["b"]
    if b["rt"] is None:
        print("level %d/1000: B's own session found nothing left (A's announced it all)" % r["per"])
    print("level %d/1000: %d only on each side; A: %d round trips, %d B sent, %d B received, "
          "first reply %d ms, reconciliation %d ms (%s the same in memory), CPU %s ms (%s); "
          "B: %s round trips, "
          "first reply %s, "
          "reconciliation %s; catch-up %.2f s (logs) %.2f s (seen by the script), daemons' CPU "
          "%.2f s; reference %s"
          % (r["per"], r["h"], a["rt"], a["out"], a["in"], a["first"], a["recon_ms"], ratio(r),
             "-" if r["recon_cpu_ms"] is None else "%.0f" % r["recon_cpu_ms"], ratio(r, True),
             "-" if b["rt"] is None else b["rt"], ms(b["first"]), ms(b["recon_ms"]),
             r["catchup_log_s"] or -1, r["catchup_poll_s"], r["cpu_s"],
             r["ref"]))


def table(n, results):
    print("| differ | events A-only / B-only | round trips (target at 0.1%: 3) | reference round trips "
          "| bytes A->B | bytes B->A | reference A->B / B->A | first reply (target < 100 ms) "
          "| reconciliation | the same in memory (reference) | reconciliation / in memory "
          "(target <= 3x) | catch-up to the union | daemons' CPU to the union "
          "| reference at 512 KiB frames: round trips, bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        a, b = r["a"], r["b"]
        rt, ro, ri = r["ref"][0], r["ref"][1], r["ref"][2]
        got = [a["rt"], a["out"], a["in"]]
        same = ("= reference" if got == [rt, ro, ri] else
                "= reference at 512 KiB" if r["ref512"] and got == r["ref512"][:3] else "differs")
        cu = catchup(r)
        r5 = r["ref512"]
        rm = ref_ms(r)
        r5s = "%d, %d / %d" % (r5[0], r5[1], r5[2]) if r5 else "-"
        print("| %.1f%% | %d / %d | %d (+%d network) | %d | %d | %d | %d / %d (%s) | %d ms (B answering A), "
              "%s (A answering B) | %d ms | %s | %s | %.2f s | %.2f s | %s |"
              % (r["per"] / 10, r["h"], r["h"], a["rt"], a["net_rt"], rt, a["out"], a["in"], ro, ri,
                 same, a["first"], ms(b["first"]), a["recon_ms"],
                 "-" if rm is None else "%.1f ms" % rm, ratio(r), cu, r["cpu_s"], r5s))


if __name__ == "__main__":
    main()
