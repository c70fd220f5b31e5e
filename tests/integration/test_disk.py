"""
A full disk as one clear state (issue 12 item 4), with real daemons: node b
keeps its data directory on a small tmpfs; a file fills it.  b must say so
once, show it in status and metrics, refuse clients' events with that
reason, drop its peer's events without a repair loop, leave no half-written
files, and recover on its own when space returns, fetching what it missed.

Mounting a tmpfs needs root: elsewhere the test is skipped (77), saying so.

    usage: test_disk.py WATCHMESH CASE SOURCE_ROOT
    cases: full cli
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wmtest import check  # noqa: E402
from test_mesh import G, run_cases, wait_until, wait_up  # noqa: E402
from test_http import Node, request_event  # noqa: E402

MB = 1 << 20


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def on_tmpfs(env, size, fn):
    mnt = env.path("small")
    os.mkdir(mnt)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        print("disk full: cannot mount a tmpfs here (needs root); skipped")
        return 77
    try:
        return fn(env, mnt)
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)   # lazily: b may still run


def t_full(env):
    return on_tmpfs(env, "24m", full)


def t_cli(env):
    return on_tmpfs(env, "4m", cli)


def cli(env, mnt):
    """post on a full disk: one line that says the node failed, not a
    refusal; post --out leaves no file behind."""
    env.world(node="v", group=G)
    vdir = os.path.join(mnt, "v")
    subprocess.run(["cp", "-r", env.path("v"), vdir], check=True)
    with open(os.path.join(mnt, "filler"), "wb") as f:
        f.write(b"\0" * max(0, free_bytes(mnt) - 300 * 1024))
    text = "x" * 12000
    err = ""
    for i in range(60):
        p = subprocess.run([env.binary, "post", "request", "--key", "res1.key", "--dir", vdir,
                            "--group", G, "--text", "%d %s" % (i, text)], cwd=env.dir, env=env.env,
                           capture_output=True)
        if p.returncode != 0:
            err = p.stderr.decode()
            break
    check(err, "60 posts of 12 KB fitted in 300 KB")
    lines = err.strip().splitlines()
    check(len(lines) == 1 and lines[0].startswith("watchmesh: could not store the event") and
          "refused" not in err, "post on a full disk: %r" % err)
    out = os.path.join(mnt, "out.bundle")
    p = subprocess.run([env.binary, "post", "request", "--key", "res1.key", "--out", out, "--network",
                        "net", "--group", G, "--text", "y" * 15000], cwd=env.dir, env=env.env,
                       capture_output=True)
    check(p.returncode == 1 and "No space left" in p.stderr.decode(), "post --out: %r" % p.stderr)
    check(not os.path.exists(out), "post --out left a file on a full disk")


def full(env, mnt):
    env.world(node="a", group=G)
    bdir = os.path.join(mnt, "b")
    env.run("init", bdir, "--network", "net", "--name", "b")
    os.symlink(bdir, env.path("b"))
    a, b = Node(env, "a"), Node(env, "b")
    a.configure()
    b.configure(peers=[a.addr()], disk_reserve=4)
    a.start()
    b.start()
    wait_up(env, "b", 1)
    wait_until("b to hold the certificates",
               lambda: any(e["kind"] == "cert" for e in b.get_json("/api/v1/events")["events"]))
    code, body = b.post_wire(request_event(env, "res1.key", "磁盘满之前"))
    check(code == 201, "POST before: %d %s" % (code, body))

    # fill the disk to 2 MB free, below b's 4 MB reserve
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free_bytes(mnt) - 2 * MB))
    wait_until("b to say its disk is full",
               lambda: b.get_json("/api/v1/status")["state"] == "disk full")
    code, body = b.post_wire(request_event(env, "res1.key", "磁盘满了"))
    check(code == 503 and "disk is full" in body.get("error", ""), "POST while full: %d %s" % (code, body))
    m = b.request("GET", "/metrics")[2].decode()
    check("watchmesh_disk_full 1" in m, "metrics: disk_full")
    with open(os.path.join(bdir, "status.json")) as f:
        check(json.load(f)["state"] == "disk full", "status.json says disk full")

    # a's events do not get in, and b does not loop on fetching them
    posted = [env.post("request", "a", "res2.key", "--group", G, "--text", "满盘期间 %d" % i)
              for i in range(20)]
    time.sleep(8)   # more than one repair_interval
    listed = {e["id"] for e in b.get_json("/api/v1/events?limit=500")["events"]}
    check(not (set(posted) & listed), "b stored events while full")
    log = b.log()
    check(log.count("is full (") == 1, "the full disk logged %d times" % log.count("is full ("))
    check("watchmesh store:" not in log, "a store line without time and name in the log")

    # space returns: b recovers by itself and fetches what it missed
    os.unlink(filler)
    wait_until("b to take events again", lambda: b.get_json("/api/v1/status")["state"] == "running")
    wait_until("b to fetch the 20 events",
               lambda: set(posted) <= {e["id"] for e in b.get_json("/api/v1/events?limit=500")["events"]})
    check("disk space is back" in b.log(), "recovery logged")
    code, body = b.post_wire(request_event(env, "res1.key", "磁盘恢复之后"))
    check(code == 201, "POST after: %d %s" % (code, body))
    check(not [n for n in os.listdir(bdir) if n.endswith(".tmp")], "a .tmp file left in b's directory")
    for d in (a, b):
        check(d.stop() == 0, "%s: exit status" % d.name)


TESTS = {"full": t_full, "cli": t_cli}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "disk", "SRC"))
