#!/usr/bin/python3
"""run.py: every benchmark in one command, its figures written into
BENCHMARKS.md (`make bench`, `make bench-quick`).

    tests/bench/run.py BUILD_DIR quick|full [BENCHMARKS.md]

quick (a few minutes): small sizes.  full (about an hour and a half on a
2-core machine, most of it generating and importing the 1M-event stores):
the sizes of issue 11.  RUNS=N repeats each measurement (default 3; the
simulator is seeded and runs once: its times are simulated, the same every
run).  ONLY="import catchup sim neg repair reads http web" picks benchmarks (http
runs in full mode only; web needs Chromium and `make web-deps`).  WORK=DIR
keeps the generated data there and reuses it in later runs (the 1M stores
take most of a full run to make).

Each benchmark's own program prints its tables (they go to the terminal as
it runs); this script reads the figures from them, each as min / median /
max over the runs, beside its target and the reference measured in the same
run, with the machine (CPU, cores, memory, kernel) and its load average
before and after each benchmark.  The section between the two `make bench`
markers of BENCHMARKS.md is replaced (or added after the first table) as
each benchmark ends, so a run stopped or failed half way keeps what it
measured (a benchmark that fails does not stop the others): the
benchmarks of this run are written, those of an earlier run of the same
mode that this one did not run are kept as they were (each says when it
ran); the rest of the file, the explanations, is left as it is.  Plots (SVG, made by
gnuplot when it is installed; the figures are written without them
otherwise) go to docs/bench/ next to BENCHMARKS.md.
"""
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- make bench: begin (tests/bench/run.py writes this section) -->"
END = "<!-- make bench: end -->"

MODES = {
    "quick": {"import_n": 20000, "catchup_n": 20000, "sim_nodes": [50, 100, 200], "sim_alerts": 20,
              "neg_n": 50000, "repair_n": 20000, "reads_ns": [20000, 50000], "web_ns": [10000]},
    "full": {"import_n": 100000, "catchup_n": 100000, "sim_nodes": [100, 200, 500, 1000],
             "sim_alerts": 50, "neg_n": 1000000, "repair_n": 1000000, "reads_ns": [100000, 300000, 1000000],
             "web_ns": [10000, 100000]},
}


def die(msg):
    print("run.py: " + msg, file=sys.stderr)
    sys.exit(1)


class Failed(Exception):
    """A benchmark's program failed: the others still run."""


def load():
    return "%.2f" % os.getloadavg()[0]


def sh(cmd, env=None, cwd=None):
    """Run a benchmark, its output shown as it comes; returns it."""
    e = dict(os.environ)
    e.update(env or {})
    print("$ " + " ".join("%s=%s" % kv for kv in (env or {}).items()) + " " + " ".join(cmd),
          flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=e,
                         cwd=cwd)
    out = []
    for ln in p.stdout:
        sys.stdout.write(ln)
        out.append(ln)
    if p.wait() != 0:
        raise Failed("%s failed (%d)" % (cmd[0], p.returncode))
    return "".join(out)


def rows(out):
    """The data rows of the markdown tables in out, as lists of cells."""
    r = []
    for ln in out.splitlines():
        if ln.startswith("|") and not ln.startswith("|--") and not ln.startswith("|-"):
            r.append([c.strip() for c in ln.strip().strip("|").split("|")])
    return r


def num(s):
    m = re.search(r"-?[\d,]*\.?\d+", s)
    return float(m.group(0).replace(",", "")) if m else None


def mmm(vals, fmt="%.1f"):
    """min / median / max of the runs."""
    v = [x for x in vals if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return fmt % v[0]
    return "%s / %s / %s" % (fmt % min(v), fmt % statistics.median(v), fmt % max(v))


def med(vals):
    v = [x for x in vals if x is not None]
    return statistics.median(v) if v else None


class Report:
    """The figures of this run, each section and plot under the benchmark that made it (a
    later run with ONLY replaces that benchmark's part of BENCHMARKS.md and keeps the rest)."""
    def __init__(self):
        self.bench = None
        self.sections = []
        self.plots = []

    def add(self, title, intro, header, lines):
        self.sections.append((self.bench, title, intro, header, lines))

    def plot(self, *args):
        self.plots.append((self.bench,) + args)


# ---- the benchmarks ----

def bench_import(build, cfg, runs, rep, work):
    res = []
    for _ in range(runs):
        out = sh([os.path.join(HERE, "run.sh"), build], {"N": str(cfg["import_n"])})
        r = {}
        for c in rows(out):
            if c[0].startswith("Ed25519 verify only"):
                r["verify"] = num(c[3])
            elif c[0].startswith("watchmesh import, 1 core"):
                r["one"] = num(c[3])
            elif c[0].startswith("watchmesh import, all cores"):
                r["all"] = num(c[3])
        res.append(r)
    ref = [r.get("verify") for r in res]
    lines = [
        "| Ed25519 verify, 1 core (reference) | %s /s | | |" % mmm(ref, "%.0f"),
        "| `watchmesh import`, pinned to 1 core | %s /s | %s | >= 0.8 x (issue 11) |"
        % (mmm([r.get("one") for r in res], "%.0f"),
           mmm([r["one"] / r["verify"] if r.get("one") and r.get("verify") else None
                for r in res], "%.2f x")),
        "| `watchmesh import`, both cores | %s /s | %s | >= 1.6 x (issue 11) |"
        % (mmm([r.get("all") for r in res], "%.0f"),
           mmm([r["all"] / r["verify"] if r.get("all") and r.get("verify") else None
                for r in res], "%.2f x")),
    ]
    rep.add("import", "`tests/bench/run.sh`: %d events into a fresh node; %d runs." %
            (cfg["import_n"], runs),
            "| what | rate (min / median / max) | of the verify rate of the same run | target |",
            lines)


def bench_catchup(build, cfg, runs, rep, work):
    out = sh([os.path.join(HERE, "bench_catchup.py"), build],
             {"N": str(cfg["catchup_n"]), "RUNS": str(runs), "WORK": work})
    m = re.search(r"verify on one core (\S+) /s, (\S+) per CPU second", out)
    if not m:
        raise Failed("bench_catchup printed no verify rate")
    verify, verify_cpu = float(m.group(1)), float(m.group(2))
    res = [c for c in rows(out) if len(c) == 9 and c[1].isdigit()]
    if not res:
        raise Failed("bench_catchup printed no catch-up")
    rate = [num(c[3]) for c in res]
    loop_pool = [[float(x) for x in re.findall(r"[\d.]+", c[5])] for c in res]
    lines = [
        "| Ed25519 verify, 1 core (reference) | %.0f /s, %.0f per CPU second | | |"
        % (verify, verify_cpu),
        "| catch-up by the clock | %s /s, %s s | %s | >= 1.6 x (issue 11) |"
        % (mmm(rate, "%.0f"), mmm([num(c[2]) for c in res], "%.2f"),
           mmm([num(c[4]) for c in res], "%.2f x")),
        "| bound on two free cores (A's loop thread, or its CPU over both cores) | %s s loop, "
        "%s s pool; %s µs an event | %s | >= 1.6 x (issue 11) |"
        % (mmm([x[0] for x in loop_pool], "%.2f"), mmm([x[1] for x in loop_pool], "%.2f"),
           mmm([num(c[7]) for c in res], "%.0f"), mmm([num(c[8]) for c in res], "%.2f x")),
    ]
    rep.add("catchup", "`tests/bench/bench_catchup.py`: an empty `watchmesh run` node (A) fetches "
            "%d events from a peer (B), from A's start until its store holds them all; the "
            "reference is `bench_import`'s one-core Ed25519 verify rate, measured once in the same "
            "run (by the clock, and per CPU second for the bound).  The bound does not depend on "
            "the machine's load: A on two free cores is held back by its loop thread's CPU or by "
            "its whole CPU shared over both cores, whichever is longer; %d runs." %
            (cfg["catchup_n"], runs),
            "| what | A (min / median / max) | of the verify rate of the same run | target |",
            lines)


def bench_sim(build, cfg, runs, rep, work):
    out = sh([os.path.join(build, "tests", "bench", "bench_sim")] + [str(n) for n in cfg["sim_nodes"]],
             {"ALERTS": str(cfg["sim_alerts"])})
    lines, pts = [], []
    for c in rows(out):
        if not c[0].isdigit():
            continue
        pts.append((int(c[0]), num(c[2]), num(c[3])))
        lines.append("| %s | %s | %s | %s (<= 2) | %s | %s |" % (c[0], c[2], c[3], c[4], c[6], c[7]))
    rep.add("sim", "`bench_sim`: the mesh in the simulator, %d alerts, seed 7, 20 ms links (the "
            "reference: a delivery takes at least one link's 20 ms per hop); simulated time, "
            "the same in every run, so one run." % cfg["sim_alerts"],
            "| nodes | median to all | p99 to all | copies / node / alert (target) "
            "| frames / node / alert | wall |", lines)
    rep.plot("sim_delivery", "delivery time of an alert to every node (simulated)", "nodes", "ms",
             [("median", [(x, y) for x, y, _ in pts]), ("p99", [(x, z) for x, _, z in pts])], "x")


def bench_neg(build, cfg, runs, rep, work):
    res = {}
    for _ in range(runs):
        out = sh([os.path.join(build, "tests", "bench", "bench_neg"), str(cfg["neg_n"]), work],
                 {"BENCH_NEG_CPU": "1"})
        for c in rows(out):
            if "%" not in c[0]:
                continue
            k = (c[0], c[1])
            res.setdefault(k, []).append((num(c[5]), num(c[6]), num(c[7]), num(c[2])))
    lines = []
    for (d, lim), v in res.items():
        lines.append("| %s | %s | %d | %s ms | %s ms | %s | %s ms (< 100) |" % (
            d, lim, int(v[0][3]), mmm([x[0] for x in v], "%.0f"), mmm([x[1] for x in v], "%.0f"),
            mmm([x[0] / x[1] if x[1] else None for x in v], "%.1f x"),
            mmm([x[2] for x in v], "%.1f")))
    rep.add("neg", "`BENCH_NEG_CPU=1 bench_neg %d`: two stores' views reconciled in one process "
            "against `neg_vec` (the same sets in memory, the reference), in CPU time (what the "
            "machine's other load moves least); items over a year; %d runs." % (cfg["neg_n"], runs),
            "| differ | frame limit | round trips | store views | in memory (reference) "
            "| store views / in memory | first reply (target) |", lines)


def bench_repair(build, cfg, runs, rep, work):
    n = cfg["repair_n"]
    data = os.path.join(work, "repair%d" % n)
    results = os.path.join(work, "repair.json")
    if os.path.exists(results):
        os.unlink(results)
    env = {"N": str(n), "LEVELS": "1 10 100", "RESULTS": results}
    if os.path.exists(os.path.join(data, "gen.txt")):
        env["REUSE"] = data
    else:
        shutil.rmtree(data, ignore_errors=True)
        env["KEEP"] = "1"
        env["WORK"] = work
    for i in range(runs):
        out = sh([os.path.join(HERE, "bench_repair.py"), build], env)
        if "REUSE" not in env:
            m = re.search(r"kept (\S+)", out)
            if not m:
                raise Failed("bench_repair kept no directory")
            os.rename(m.group(1), data)
            env = {"N": str(n), "LEVELS": "1 10 100", "RESULTS": results, "REUSE": data}
    per = {}
    with open(results) as f:
        for ln in f:
            r = json.loads(ln)
            per.setdefault(r["per"], []).append(r)
    lines, mem, pts = [], [], []
    for p in sorted(per):
        v = per[p]
        a = [r["a"] for r in v]
        lines.append("| %.1f%% (%d + %d) | %s | %s ms | %s ms | %s | %s ms | %s ms | %s (<= 3 x) "
                     "| %s ms (< 100) | %s s | %s s |" % (
                         p / 10, v[0]["h"], v[0]["h"], mmm([x["rt"] for x in a], "%.0f"),
                         mmm([x["recon_ms"] for x in a], "%.0f"),
                         mmm([r["ref_ms"] for r in v], "%.1f"),
                         mmm([x["recon_ms"] / r["ref_ms"] if r["ref_ms"] else None
                              for x, r in zip(a, v)], "%.1f x"),
                         mmm([r["recon_cpu_ms"] for r in v], "%.0f"),
                         mmm([r["ref_cpu_ms"] for r in v], "%.1f"),
                         mmm([r["recon_cpu_ms"] / r["ref_cpu_ms"]
                              if r["ref_cpu_ms"] and r["recon_cpu_ms"] is not None else None
                              for r in v], "%.1f x"),
                         mmm([x["first"] for x in a], "%.0f"), mmm([r["catchup_s"] for r in v], "%.2f"),
                         mmm([r["cpu_s"] for r in v], "%.2f")))
        mem.append("| %.1f%% | %s MiB | %s MiB | %s MiB | %s MiB |" % (
            p / 10, mmm([max(r["rss_peak_kib"]) / 1024 for r in v], "%.0f"),
            mmm([max(r["rss_end_kib"]) / 1024 for r in v], "%.0f"),
            mmm([max(r["wal_peak"]) / 2**20 for r in v], "%.0f"),
            mmm([max(r["wal_end"]) / 2**20 for r in v], "%.0f")))
        pts.append((2 * v[0]["h"], med([r["catchup_s"] for r in v]),
                    med([x["recon_ms"] / 1000 for x in a])))
    rep.add("repair", "`tests/bench/bench_repair.py`: two `watchmesh run` daemons, stores of "
            "%d events differing in 0.1%%, 1%%, 10%%; reconciliation is A's whole round, the "
            "reference the same sets reconciled in memory (`neg_vec`, both sides on one thread) "
            "by `bench_repair_gen` in the same run; both in wall time and in CPU time (both daemons' "
            "threads, `/proc/PID/task/*/schedstat`, sampled every 5 ms from A's start until it has "
            "reconciled: what the machine's other load moves least); %d runs." % (n, runs),
            "| differ (A-only + B-only) | round trips | reconciliation | in memory (reference) "
            "| reconciliation / in memory | daemons' CPU while reconciling | in memory, CPU "
            "(reference) | CPU / in memory (target) | first reply (target) "
            "| catch-up to the union | daemons' CPU to the union |", lines)
    rep.add("repair: memory and WAL", "The larger of the two daemons, while repairing (peak) "
            "and once both hold the union (end); target <= 64 MB each (issue 11).",
            "| differ | peak RSS | RSS at the end | largest WAL seen | WAL at the end |", mem)
    rep.plot("repair_catchup", "catch-up of two daemons, %d events each" % n, "events that differ",
             "s", [("catch-up to the union", [(x, y) for x, y, _ in pts]),
                   ("reconciliation", [(x, z) for x, _, z in pts])], "x")


def bench_reads(build, cfg, runs, rep, work):
    data = os.path.join(work, "reads")
    os.makedirs(data, exist_ok=True)
    out = sh([os.path.join(HERE, "bench_reads.sh"), build],
             {"NS": " ".join(str(x) for x in cfg["reads_ns"]), "RUNS": str(max(runs, 5)),
              "WORK": data})
    n, lines, series, instr, ld, ref = None, [], {}, {}, "-", None
    size = []
    for ln in out.splitlines():
        m = re.match(r"### (\d+) events", ln)
        if m:
            n = int(m.group(1))
            continue
        m = re.match(r"store of this build: (\d+) bytes an event \(([\d.]+) x the event\)", ln)
        if m:
            size.append([n, m.group(1), m.group(2)])
            continue
        if size and len(size[-1]) == 3 and ln.startswith("  events: "):
            size[-1].append(", ".join(ln.strip().split(";  ")[:4]))    # the largest
            continue
        m = re.match(r"load average (\S+)", ln)
        if m:
            ld = m.group(1)
            continue
        c = [x.strip() for x in ln.strip().strip("|").split("|")] if ln.startswith("| `") else None
        if n is None or c is None:
            continue
        q = c[0].strip("`")
        m = re.match(r"([\d.]+) / ([\d.]+) / ([\d.]+) ms", c[1])
        if not m:
            continue
        # instructions: what the load does not move; of the reference: what the query adds
        mi = num(c[3]) if len(c) > 3 and c[3].endswith(" M") else None
        if q == "feed --limit 1":
            ref = mi
        target = ("(reference)" if q == "feed --limit 1" else "< 20 ms" if q.startswith("feed")
                  else "< 50 ms" if len(q) > len("search 骗") else "(none)")
        lines.append("| %d | `%s` | %s / %s / %s ms | %s | %s | %s | %s | %s |" % (
            n, q, m.group(1), m.group(2), m.group(3), "%.1f M" % mi if mi else "-",
            "%.2f x" % (mi / ref) if mi and ref else "-", c[2], ld, target))
        series.setdefault(q, []).append((n, float(m.group(2))))
        instr.setdefault(q, []).append((n, mi))
    rep.add("reads", "`tests/bench/bench_reads.sh`: each command %d times on stores of %s events; "
            "the whole command (a process started, the store opened, the query); the reference is "
            "`feed --limit 1` on the same store, the least a query command costs.  Instructions: "
            "one more run under callgrind, the figure the machine's load does not move; the load "
            "average (1 min) is the one before that store's queries." %
            (max(runs, 5), ", ".join(str(x) for x in cfg["reads_ns"])),
            "| events | command | min / median / max | instructions | of the reference "
            "| peak RSS | load | target |", lines)
    if size:
        rep.add("reads: store size", "The store on disk (the file and its WAL) an event, against "
                "the event's bytes on the wire (the bundle's); exact, whatever the load.",
                "| events | bytes an event | of the event (target) | the largest tables, bytes an "
                "event |", ["| %d | %s | %s x (<= 2 x, issue 11) | %s |" %
                            (r[0], r[1], r[2], r[3] if len(r) > 3 else "-") for r in size])
    rep.plot("reads_latency", "query latency against store size (median)", "events", "ms",
             sorted(series.items()), "x")
    if any(y for pts in instr.values() for _, y in pts):
        rep.plot("reads_instructions", "query instructions against store size (callgrind)",
                 "events", "millions", sorted(instr.items()), "xy")


def tables(out):
    """The markdown tables of out with their headings (and notes starting "Where "), each
    heading or note set apart by blank lines."""
    t = []
    for ln in out.splitlines():
        if ln.startswith("|"):
            t.append(ln)
        elif ln.startswith("###") or ln.startswith("Where "):
            t += ["", ln, ""]
    return t


def bench_http(build, cfg, runs, rep, work):
    data = os.path.join(work, "http")
    out = sh([os.path.join(HERE, "bench_http.py"), build], {"DATA": data})
    rep.add("http", "`tests/bench/bench_http.py`, one run (it measures each figure several times "
            "itself, its references in its own rows: one client, `watchmesh import`, the CLI).  "
            "Targets: one event to 2,000 SSE clients, p99 < 200 ms on 2 cores (issue 9); a "
            "listing < 20 ms and a search < 50 ms, flat from 100k to 1M (issue 11).",
            "", tables(out))


def bench_web(build, cfg, runs, rep, work):
    out = sh([os.path.join(HERE, "bench_web.py"), build],
             {"DATA": os.path.join(work, "web"), "RUNS": str(runs),
              "SIZES": " ".join(str(n) for n in cfg["web_ns"])})
    rep.add("web app", "`tests/bench/bench_web.py`: the web app's first sync in Chromium, a fresh "
            "page each run, 360 x 740 with its CPU slowed 4 times, beside the same page unthrottled "
            "(the reference) in the same run; then what it transfers on a first and a later visit.",
            "", tables(out))


BENCHES = [("import", bench_import), ("catchup", bench_catchup), ("sim", bench_sim),
           ("neg", bench_neg), ("repair", bench_repair), ("reads", bench_reads), ("http", bench_http), ("web", bench_web)]


# ---- the machine, the plots, the file ----

def machine():
    cpu, mem = "unknown CPU", 0
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for ln in f:
            if ln.startswith("MemTotal:"):
                mem = int(ln.split()[1]) // 1024
    return "%s, %d cores, %d MiB of memory, Linux %s" % (cpu, os.cpu_count(), mem, os.uname().release)


def short(x):
    """100000 as 100k, 1000000 as 1M (1000 nodes stay 1000): the x axis' labels."""
    for div, unit in ((1000000, "M"), (1000, "k")):
        if x >= 10 * div or x == div == 1000000:
            return ("%g" % (x / div)) + unit
    return "%d" % x


def plot(docs, name, title, xlabel, ylabel, series, log):
    """log: the axes on a log scale ("x", "xy")."""
    if not shutil.which("gnuplot") or not any(pts for _, pts in series):
        return None
    os.makedirs(docs, exist_ok=True)
    path = os.path.join(docs, name + ".svg")
    xs = sorted({x for _, pts in series for x, _ in pts})
    with tempfile.TemporaryDirectory() as d:
        cmds = ['set terminal svg size 720,480 dynamic font "sans,12"', 'set output "%s"' % path,
                'set title "%s"' % title, 'set xlabel "%s"' % xlabel, 'set ylabel "%s"' % ylabel,
                "set key below", "set grid", "set logscale " + log,
                # a tic at each size measured (a log axis alone labels only the powers of ten),
                # the range a little wider (gnuplot drops a label on the border)
                "set xtics (%s)" % ", ".join('"%s" %s' % (short(x), x) for x in xs),
                "set xrange [%g:%g]" % (xs[0] / 1.15, xs[-1] * 1.15)]
        if "y" not in log:
            cmds.append("set yrange [0:*]")
        plots = []
        for i, (label, pts) in enumerate(series):
            f = os.path.join(d, "%d.dat" % i)
            with open(f, "w") as fh:
                for x, y in sorted(pts):
                    if y is not None:
                        fh.write("%s %s\n" % (x, y))
            plots.append('"%s" using 1:2 with linespoints title "%s"' % (f, label))
        cmds.append("plot " + ", ".join(plots))
        subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n", text=True, check=True)
    return path


def write(md, mode, shown, build, commit, rep, ran):
    """ran: for each benchmark of this run so far, when it started, the load before and
    after, and the minutes it took."""
    docs = os.path.join(os.path.dirname(os.path.abspath(md)), "docs", "bench")
    text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
    heading = "## Figures of the last `make bench%s`" % ("-quick" if mode == "quick" else "")
    kept = {}
    if BEGIN in text and END in text:
        # The 1M benchmarks take hours: each run (ONLY=...) replaces its own benchmarks'
        # figures and keeps those of the same mode that earlier runs wrote.
        old = text[text.index(BEGIN):text.index(END)]
        if heading + "\n" in old:
            for m in re.finditer(r"<!-- bench: (\w+) -->\n(.*?)(?=<!-- bench: |\Z)", old, re.S):
                kept[m.group(1)] = m.group(2)
    out = [BEGIN, "", heading, "",
           "Written by `tests/bench/run.py BUILD %s`.  Each benchmark says which run wrote it: "
           "when, on which machine, the code and the build, and the load average (1 min) before "
           "and after it.  Each cell is min / median / max over the runs when there were several."
           % mode, ""]
    unplotted = [b for b, *_ in rep.plots if b in ran] if not shutil.which("gnuplot") else []
    if unplotted:
        out += ["(No plots for %s: gnuplot is not installed; `apt-get install gnuplot-nox`.)"
                % ", ".join(sorted(set(unplotted))), ""]
    for bench, _ in BENCHES:
        if bench not in ran:
            if bench in kept:
                out += ["<!-- bench: %s -->" % bench, kept[bench].rstrip("\n"), ""]
            continue
        when, before, after, wall = ran[bench]
        out += ["<!-- bench: %s -->" % bench]
        first = True
        for b, title, intro, header, lines in rep.sections:
            if b != bench:
                continue
            out += ["### %s" % title, ""]
            if first:
                out += ["Run by `tests/bench/run.py %s %s` at %s UTC for %.1f min on %s, code %s, "
                        "%s; load average %s -> %s." % (shown, mode, when, wall, machine(), commit,
                                                        buildtype(build), before, after), ""]
                first = False
            out += [intro, ""]
            if header:
                out += [header, "|" + "---|" * (header.count("|") - 1)]
            out += lines + [""]
        for b, name, title, xl, yl, series, log in rep.plots:
            p = plot(docs, name, title, xl, yl, series, log) if b == bench else None
            if p:
                out += ["![%s](docs/bench/%s)" % (title, os.path.basename(p)), ""]
    out.append(END)
    text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + "\n".join(out) + text[text.index(END) + len(END):]
    else:                       # after the first table (the list of benchmarks)
        m = re.search(r"\n\|[^\n]*\n(\|[^\n]*\n)+\n", text)
        at = m.end() if m else len(text)
        text = text[:at] + "\n".join(out) + "\n\n" + text[at:]
    with open(md, "w") as f:
        f.write(text)
    print("wrote %s" % md)


def buildtype(build):
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o["name"] == "buildtype":
                    return o["value"] + " build"
    except (OSError, ValueError, KeyError):
        pass
    return "build type unknown"


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in MODES:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    sys.stdout.reconfigure(line_buffering=True)
    shown, mode = sys.argv[1], sys.argv[2]
    build = os.path.abspath(shown)
    md = sys.argv[3] if len(sys.argv) == 4 else os.path.join(HERE, "..", "..", "BENCHMARKS.md")
    cfg = MODES[mode]
    runs = int(os.environ.get("RUNS", "3"))
    only = (os.environ.get("ONLY") or
            " ".join(b for b, _ in BENCHES if mode == "full" or b != "http")).split()
    for b in only:
        if b not in dict(BENCHES):
            die("ONLY: no benchmark %s (%s)" % (b, " ".join(b for b, _ in BENCHES)))
    if "debug" in buildtype(build):
        print("run.py: %s is a debug build; figures are meant from a release build "
              "(meson setup build-rel --buildtype=release)" % build, file=sys.stderr)
    keep = os.environ.get("WORK")
    work = keep or tempfile.mkdtemp(prefix="wm-bench.")
    os.makedirs(work, exist_ok=True)
    # the code measured, before this run's first figures make the tree dirty
    commit = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                            stdout=subprocess.PIPE, text=True).stdout.strip() or "unknown"
    rep, ran, failed = Report(), {}, []
    try:
        for name, fn in BENCHES:
            if name not in only:
                continue
            when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
            before, t0 = load(), time.monotonic()
            rep.bench = name
            try:
                fn(build, cfg, runs, rep, work)
            except Failed as e:
                print("run.py: %s: %s; its figures in %s stay as they were" % (name, e, md),
                      file=sys.stderr)
                failed.append(name)
                continue
            ran[name] = (when, before, load(), (time.monotonic() - t0) / 60)
            # written as each benchmark ends: a run stopped later keeps what it measured
            write(md, mode, shown, build, commit, rep, ran)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        die("failed: %s (the output above says why)" % " ".join(failed))


if __name__ == "__main__":
    main()
