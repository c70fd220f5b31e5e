"""
Power cuts during ingest (issue 12 item 9), with real processes: node v
runs with the VFS shim of tests/faults/powercut.c loaded, so that after a
SIGKILL its store files can be put back as a power cut would have left them
(every write since the last fsync undone).  v fetches 20,000 events from
its peer p while residents post at v; 20 times v and any post in flight
are killed and the cut is applied: the first once v holds 1,000 events
(inside the catch-up, however fast the machine), the others at a random
moment.  Then the store
must pass PRAGMA integrity_check, and every event whose id `post` printed
must be in it (proto/PROTOCOL.md §16, "What survives a power cut").  What
the daemon stored from p since its last fsync may be lost: the test prints
how much, and p sends it again (v ends with everything p holds).

The shim is loaded with LD_PRELOAD, which a sanitizer build's runtime does
not allow: there the test is skipped, saying so.

    usage: test_power.py WATCHMESH CASE SOURCE_ROOT POWERCUT_SO
    cases: ingest
"""
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wmtest import check  # noqa: E402
from test_mesh import G, Daemon, run_cases, wait_until  # noqa: E402
from test_serverkill import bundle_of_requests, until_fetching  # noqa: E402

CUTS = 20
N = 20000


def powercut_undo(path):
    """Play path-undo backwards (records of offset, length, size before and
    the old bytes, tests/faults/powercut.c): path is then as it was at its
    last fsync.  Returns the bytes put back or cut off (a WAL that only grew
    since, with no checkpoint to make it start over, is undone by the cut)."""
    undo = path + "-undo"
    if not os.path.exists(undo):
        return 0
    with open(undo, "rb") as f:
        data = f.read()
    recs, pos = [], 0
    while pos + 24 <= len(data):
        off, n, size = struct.unpack_from("<QQQ", data, pos)
        if pos + 24 + n > len(data):
            break   # cut short by the kill: its write never started
        recs.append((off, data[pos + 24:pos + 24 + n], size))
        pos += 24 + n
    grown = os.path.getsize(path)
    with open(path, "r+b") as f:
        for off, old, size in reversed(recs):
            f.seek(off)
            f.write(old)
            f.truncate(size)
    os.unlink(undo)
    return sum(len(r[1]) for r in recs) + max(0, grown - os.path.getsize(path))


def cut(node_dir):
    """The power cut, after the processes were killed: unsynced writes
    undone, the shared-memory index gone with the RAM."""
    undone = sum(powercut_undo(os.path.join(node_dir, f)) for f in ("store.db", "store.db-wal"))
    shm = os.path.join(node_dir, "store.db-shm")
    if os.path.exists(shm):
        os.unlink(shm)
    return undone


def db_check(node_dir):
    """(integrity_check's answer, the event ids held), read from a copy of
    the store's files: SQLite closing the last connection to a store would
    checkpoint it, writing what the cut is to judge."""
    copy = node_dir + ".copy"
    shutil.rmtree(copy, ignore_errors=True)
    os.mkdir(copy)
    for f in ("store.db", "store.db-wal"):
        if os.path.exists(os.path.join(node_dir, f)):
            shutil.copyfile(os.path.join(node_dir, f), os.path.join(copy, f))
    try:
        return ok_and_ids(os.path.join(copy, "store.db"))
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def ok_and_ids(path):
    db = sqlite3.connect(path)
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        return ok, {r[0].hex() for r in db.execute("SELECT id FROM events")}
    finally:
        db.close()


class Poster(threading.Thread):
    """Posts requests at v one after another until stopped; keeps the ids
    that `post` printed, and the process in flight for the cut."""

    def __init__(self, env, shim_env):
        super().__init__(daemon=True)
        self.env, self.shim_env = env, shim_env
        self.posted, self.proc, self.stopping, self.n = [], None, False, 0
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping:
            self.n += 1
            with self.lock:
                if self.stopping:
                    return
                self.proc = subprocess.Popen(
                    [self.env.binary, "post", "request", "--key", "res1.key", "--dir", "v", "--group", G,
                     "--text", "停电测试 %d" % self.n],
                    cwd=self.env.dir, env=self.shim_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = self.proc.communicate()
            if self.proc.returncode == 0:
                self.posted.append(out.decode().strip())
            time.sleep(0.1)

    def kill(self):
        with self.lock:
            self.stopping = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
        self.join()


def t_ingest(env):
    so = os.path.abspath(sys.argv[4])
    if os.environ.get("WATCHMESH_TEST_SANITIZED") == "1":
        print("power: a sanitizer build cannot take the VFS shim by LD_PRELOAD; skipped")
        return 77
    seed = int(os.environ.get("WATCHMESH_POWER_SEED", random.randrange(1 << 30)))
    print("power: seed %d (WATCHMESH_POWER_SEED=%d replays the moments of the cuts)" % (seed, seed))
    rnd = random.Random(seed)
    env.world(node="v", group=G)
    env.run("export", "--dir", "v", "--out", env.path("certs.bundle"))
    env.run("init", "p", "--network", "net", "--name", "p")
    env.run("import", "--dir", "p", env.path("certs.bundle"))
    env.run("import", "--dir", "p", bundle_of_requests(env, N))
    p, v = Daemon(env, "p"), Daemon(env, "v")
    p.configure()
    v.configure(peers=[p.addr()])
    p.start()
    shim_env = dict(env.env, LD_PRELOAD=so)
    vdir = env.path("v")
    posted, lost, undone, before, inside = [], 0, 0, 0, 0
    for i in range(CUTS):
        env.env, plain = shim_env, env.env
        try:
            v.start()
        finally:
            env.env = plain
        poster = Poster(env, shim_env)
        poster.start()
        if i == 0:
            until_fetching(vdir, 1000)      # the first cut inside the catch-up, however fast
        else:
            time.sleep(rnd.uniform(0.3, 1.2))
        v.proc.send_signal(signal.SIGKILL)
        poster.kill()
        v.kill()
        held = db_check(vdir)[1]   # what the page cache held at the kill
        undone += cut(vdir)
        ok, ids = db_check(vdir)
        check(ok == "ok", "cut %d: integrity_check says %s" % (i + 1, ok))
        missing = [x for x in poster.posted if x not in ids]
        check(not missing, "cut %d: %d posted events lost, e.g. %s" % (i + 1, len(missing), missing[:3]))
        posted += poster.posted
        lost += len(held - ids)
        print("cut %d: %d events held, %d after the cut; %d posts printed, all present"
              % (i + 1, len(held), len(ids), len(poster.posted)))
        before = len(ids)
        inside += len(held) < N
    check(undone > 0, "no write was ever undone: the shim did not work")
    print("power: %d cuts (%d inside the catch-up), %d posted events all kept, %d events from p lost "
          "to the cuts (%d bytes undone)" % (CUTS, inside, len(posted), lost, undone))

    # without the shim, v gets back from p what the cuts took
    v.start()
    want = ok_and_ids(env.path("p", "store.db"))[1]   # p runs: this is not the last connection
    wait_until("v to hold all %d events of p again" % len(want),
               lambda: want <= db_check(vdir)[1], timeout=120)
    check(set(posted) <= db_check(vdir)[1], "posted events gone after the restart")
    print("power: v holds p's %d events and its %d posts after %d cuts (store was at %d after the last)"
          % (len(want), len(posted), CUTS, before))
    for d in (p, v):
        check(d.stop() == 0, "%s: exit status" % d.name)


TESTS = {"ingest": t_ingest}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "power", "SRC POWERCUT_SO"))
