"""
Integration tests of `watchmesh backup` and `watchmesh restore` (issue 13
item 7), with real daemons through test_mesh.py's helpers.

  online   backups of b taken while b's daemon ingests what a is posting:
           each restored into a fresh directory holds every event it
           counts, all of them b's; the restored node runs and catches up
  refusals what restore and backup refuse: a running daemon, another
           network's backup, a damaged file, a store that is no backup, an
           existing --out; the node's key never in a backup without
           --with-keys and never in clear with it; --with-keys puts the
           same key back

    usage: test_backup.py WATCHMESH CASE SOURCE_ROOT FORGER
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import G, Daemon, converged, ids, linked_pair, quiet, run_cases, wait_until  # noqa: E402
from wmtest import check, key_seed  # noqa: E402


def restore_fresh(env, backup, name, *extra):
    env.run("init", name, "--network", "net", "--name", name)
    out, _ = env.run("restore", "--dir", name, backup, *extra)
    return int(out.split()[1])


def t_online(env):
    a, b = linked_pair(env)
    before = ids(env, "b")
    posted = []

    def post():
        for i in range(60):
            rc, out = quiet(env, "post", "bulletin", "--dir", "a", "--key", "officer.key",
                            "--passphrase-file", env.passfile, "--group", G,
                            "--title", "巡逻通知 %d" % i, "--text", "今晚八点在村口集合，第 %d 次。" % i)
            check(rc == 0, "post %d into a failed" % i)
            posted.append(out.strip())

    t = threading.Thread(target=post)
    t.start()
    backups = []
    try:
        wait_until("b to receive some of a's posts", lambda: len(ids(env, "b") - before) >= 5)
        while t.is_alive() and len(backups) < 3:
            path = "b%d.backup" % len(backups)
            env.run("backup", "--dir", "b", "--out", path)
            backups.append(path)
    finally:
        t.join()
    check(len(backups) >= 1, "the posting ended before a backup was taken")
    wait_until("b to hold all 60 posts", lambda: set(posted) <= ids(env, "b"))
    final = ids(env, "b")
    for i, path in enumerate(backups):
        n = restore_fresh(env, path, "r%d" % i)
        got = ids(env, "r%d" % i)
        check(before <= got <= final, "backup %s holds events b never had, or lacks what it had before" % path)
        check(len(got) < len(final), "backup %s was not taken while b was ingesting" % path)
        check(n >= len(got), "restore said %d events, feed shows %d" % (n, len(got)))
    # the restored node runs, meshes and catches up
    r = Daemon(env, "r0")
    r.configure(peers=[a.addr()])
    r.start()
    wait_until("the restored node to catch up with a", lambda: converged(env, ["a", "r0"]))
    check(set(posted) <= ids(env, "r0"), "the restored node lacks posts")


def t_refusals(env):
    a, b = linked_pair(env)
    # no key in a plain backup; in a --with-keys one, sealed
    env.run("backup", "--dir", "b", "--out", "plain.backup")
    env.run("backup", "--dir", "b", "--out", "keys.backup", "--with-keys", "--passphrase-file", env.passfile)
    seed = key_seed(env.path("b", "node.key"))
    for name in ("plain.backup", "keys.backup"):
        with open(env.path(name), "rb") as f:
            data = f.read()
        check(seed not in data and seed.hex().encode() not in data, "%s holds b's secret key in clear" % name)
        check(os.stat(env.path(name)).st_mode & 0o077 == 0, "%s is readable by others" % name)
    _, err = env.run("backup", "--dir", "b", "--out", "plain.backup", rc=1)
    check("already exists" in err, "an existing --out was replaced: " + err)
    # restore refuses while b's daemon holds b
    _, err = env.run("restore", "--dir", "b", "plain.backup", rc=1)
    check("daemon is running" in err and "stop it first" in err, "restore into a running node: " + err)
    # another network's backup
    env.run("network", "create", "--name", "other", "--out", "net2", "--passphrase-file", env.passfile)
    env.run("init", "o", "--network", "net2", "--name", "o")
    env.run("backup", "--dir", "o", "--out", "other.backup")
    env.run("init", "c", "--network", "net", "--name", "c")
    _, err = env.run("restore", "--dir", "c", "other.backup", rc=1)
    check("another network" in err, "another network's backup: " + err)
    # a store that is no backup, and a damaged backup
    b.stop()
    _, err = env.run("restore", "--dir", "c", env.path("b", "store.db"), rc=1)
    check("not a backup" in err, "a plain store taken as a backup: " + err)
    with open(env.path("plain.backup"), "rb") as f:
        data = bytearray(f.read())
    for off in range(4096, len(data), 4096):           # every page's header but the first's
        data[off:off + 8] = b"\xff" * 8
    with open(env.path("damaged.backup"), "wb") as f:
        f.write(data)
    # an index that no longer matches its table: the file opens, and only
    # SQLite's integrity check sees it
    import shutil
    import sqlite3
    shutil.copy(env.path("plain.backup"), env.path("badindex.backup"))
    db = sqlite3.connect(env.path("badindex.backup"))
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = replace(sql, '(grp, created_at)', '(created_at, grp)') "
               "WHERE name = 'events_grp_time'")
    db.commit()
    db.close()
    for name in ("damaged.backup", "badindex.backup"):
        _, err = env.run("restore", "--dir", "c", name, rc=1)
        check("damaged" in err, "a damaged backup: " + err)
        check(len(err.strip().splitlines()) == 1, "more than one line: " + err)
    before = ids(env, "c")
    check(not before, "c changed by refused restores")
    # restored with its key: c becomes b, the key its peers know
    out, _ = env.run("restore", "--dir", "c", "plain.backup")
    check(int(out.split()[1]) > 0, "nothing restored")
    check(open(env.path("c", "node.key")).read() != open(env.path("b", "node.key")).read(),
          "a plain backup changed the node's key")
    check(os.path.exists(env.path("c", "store.db.before-restore")), "the replaced store was not kept")
    _, err = env.run("restore", "--dir", "c", "plain.backup", "--with-keys", rc=1)
    check("holds no key" in err, "--with-keys from a backup without keys: " + err)
    env.run("restore", "--dir", "c", "keys.backup", "--with-keys", "--passphrase-file", env.passfile)
    check(key_seed(env.path("c", "node.key")) == seed, "--with-keys did not put b's key back")
    check(os.stat(env.path("c", "node.key")).st_mode & 0o077 == 0, "the restored key is readable by others")
    check(ids(env, "c") == ids(env, "b"), "c does not hold b's events")


TESTS = {"online": t_online, "refusals": t_refusals}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "backup", "SRC FORGER"))
