"""
The group commit of POSTs (issue 11; proto/PROTOCOL.md §16 and §18): the
events POSTed in one loop turn share one commit and one fsync, and each
answer waits for it.  200 events are POSTed from 20 connections at once.

    usage: test_postcommit.py WATCHMESH CASE SOURCE_ROOT POWERCUT_SO
    cases:
      cut    the node runs with the VFS shim of tests/faults/powercut.c; it
             is SIGKILLed as soon as the last answer is in and the power cut
             applied (every write since the last fsync undone): every event
             answered 201 must be in the store (test_power.py's cut).
      syncs  the node runs under `strace -f -c -e trace=fdatasync`: the
             fsyncs of the 200 POSTs must be far fewer than 200 (one per
             event before the group commit).  Skipped without strace.
"""
import os
import re
import shutil
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import check  # noqa: E402
from test_http import Node  # noqa: E402
from test_mesh import G, run_cases  # noqa: E402
from test_power import cut, db_check  # noqa: E402
from test_serverkill import bundle_of_requests  # noqa: E402

EVENTS = 200
CONNS = 20


def node_with(env, wrap_env=None):
    """Node v of a world, started with env.env changed by wrap_env."""
    env.world(node="v", group=G)
    v = Node(env, "v")
    v.configure(http_rate=100000, http_per_ip=64)
    plain = env.env
    env.env = dict(plain, **(wrap_env or {}))
    try:
        v.start()
    finally:
        env.env = plain
    return v


def post_burst(env, v):
    """POST EVENTS events from CONNS kept-alive connections at once; the
    {id: status} of the answers."""
    wires = wmtest.read_bundle(bundle_of_requests(env, EVENTS))
    answers, lock, errors = {}, threading.Lock(), []
    start = threading.Barrier(CONNS)

    def poster(part):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", v.http_port, timeout=60)
        start.wait()
        try:
            for w in part:
                c.request("POST", "/api/v1/events", body=w, headers={"Content-Type": "application/msgpack"})
                r = c.getresponse()
                body = r.read()
                m = re.search(rb'"id":"([0-9a-f]{64})"', body)
                with lock:
                    answers[m.group(1).decode() if m else "?%d" % len(answers)] = r.status
        except Exception as e:  # noqa: BLE001 -- reported by the test
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=poster, args=(wires[i::CONNS],)) for i in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "a poster failed: %s" % errors[:3])
    return answers


def t_cut(env):
    so = os.path.abspath(sys.argv[4])
    if os.environ.get("WATCHMESH_TEST_SANITIZED") == "1":
        print("postcommit: a sanitizer build cannot take the VFS shim by LD_PRELOAD; skipped")
        return 77
    v = node_with(env, {"LD_PRELOAD": so})
    answers = post_burst(env, v)
    v.proc.send_signal(signal.SIGKILL)
    v.kill()
    vdir = env.path("v")
    undone = cut(vdir)
    ok, ids = db_check(vdir)
    stored = [i for i, st in answers.items() if st == 201]
    check(ok == "ok", "integrity_check says %s" % ok)
    check(len(stored) == EVENTS, "%d of %d POSTs answered 201: %s" % (len(stored), EVENTS,
          sorted(set(answers.values()))))
    missing = [i for i in stored if i not in ids]
    check(not missing, "%d events answered 201 lost to the cut, e.g. %s" % (len(missing), missing[:3]))
    print("postcommit cut: %d POSTs from %d connections answered 201, all in the store after "
          "SIGKILL and the cut (%d bytes of unsynced writes undone)" % (len(stored), CONNS, undone))


def t_syncs(env):
    strace = shutil.which("strace")
    if not strace:
        print("postcommit: no strace (Debian's strace); skipped")
        return 77
    out = env.path("strace.txt")
    os.environ["WATCHMESH_DAEMON_WRAPPER"] = "%s -f -c -e trace=fdatasync,fsync -o %s" % (strace, out)
    # LeakSanitizer cannot run under ptrace; the rest of ASan still does
    lsan = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"} \
        if os.environ.get("WATCHMESH_TEST_SANITIZED") == "1" else None
    try:
        v = node_with(env, lsan)
    finally:
        del os.environ["WATCHMESH_DAEMON_WRAPPER"]
    answers = post_burst(env, v)
    codes = list(answers.values())
    check(codes == [201] * EVENTS, "answers: %s" % {s: codes.count(s) for s in set(codes)})
    # the daemon is strace's child: stopped itself, strace writes its count
    with open("/proc/%d/task/%d/children" % (v.proc.pid, v.proc.pid)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGTERM)
    check(v.proc.wait(timeout=60) == 0, "the node's exit status (under strace)")
    with open(out) as f:
        text = f.read()
    syncs = sum(int(m.group(1)) for m in re.finditer(
        r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?f(?:data)?sync$", text, re.M))
    # start, the POSTs and the stop; one per POST before the group commit
    check(0 < syncs < EVENTS // 4, "%d fsyncs for %d POSTs: the group commit does not group\n%s"
          % (syncs, EVENTS, text))
    print("postcommit syncs: %d POSTs from %d connections, %d fsyncs from start to stop"
          % (EVENTS, CONNS, syncs))


TESTS = {"cut": t_cut, "syncs": t_syncs}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "postcommit", "SRC POWERCUT_SO"))
