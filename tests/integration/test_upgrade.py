"""
Integration test of upgrades (issue 13 item 8): data directories made by
the watchmesh of each earlier store schema of event format 2
(tests/data/upgrade/schema-N.tar.xz, made by make.sh there with the old
binaries), opened by this one.

  stores   each archive: its store is of schema N as made; this watchmesh
           lists every event it listed, leaves the store at the current
           schema (read from store_int.h, so a new migration needs no
           edit here), finds its words, signs with its keys and heads
           files, and runs on its watchmesh.conf
  format1  a store of a schema before format 2 that holds events is
           refused by every command with the message the README gives,
           and left untouched

    usage: test_upgrade.py WATCHMESH CASE SOURCE_ROOT FORGER
"""
import glob
import os
import re
import shutil
import sqlite3
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import Daemon, ids, run_cases  # noqa: E402
from wmtest import check  # noqa: E402

SRC = sys.argv[3] if len(sys.argv) > 3 else "."


def header_int(name):
    with open(os.path.join(SRC, "node", "store", "store_int.h")) as f:
        return int(re.search(r"#define %s (\d+)" % name, f.read()).group(1))


def archives():
    """One archive for every schema of format 2 before the current one: a
    migration that lands without the archive of the schema it leaves fails
    here (make.sh says how to make it)."""
    found = sorted(glob.glob(os.path.join(SRC, "tests", "data", "upgrade", "schema-*.tar.xz")))
    have = {int(re.search(r"schema-(\d+)\.tar\.xz$", a).group(1)) for a in found}
    want = set(range(header_int("STORE_FORMAT2_VERSION"), header_int("STORE_SCHEMA_VERSION")))
    check(have >= want, "tests/data/upgrade lacks schema(s) %s: run tests/data/upgrade/make.sh N COMMIT"
          % ", ".join(str(v) for v in sorted(want - have)))
    return found


def unpack(env, archive, name):
    dest = env.path(name)
    with tarfile.open(archive) as t:
        t.extractall(dest)
    return dest


def user_version(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return c.execute("PRAGMA user_version").fetchone()[0]
    finally:
        c.close()


def t_stores(env):
    current = header_int("STORE_SCHEMA_VERSION")
    seen = []
    for archive in archives():
        n = int(re.search(r"schema-(\d+)\.tar\.xz$", archive).group(1))
        world = unpack(env, archive, "s%d" % n)
        node = os.path.join(world, "village")
        db = os.path.join(node, "store.db")
        check(user_version(db) == n, "%s: its store is of schema %d, not %d" % (archive, user_version(db), n))
        with open(os.path.join(world, "ids.txt")) as f:
            want = set(f.read().split())
        check(len(want) >= 9, "%s lists %d events" % (archive, len(want)))
        check(ids(env, node) == want, "%s: events lost or gained in the upgrade" % archive)
        check(user_version(db) == current, "%s: left at schema %d, not %d" % (archive, user_version(db), current))
        out, _ = env.run("search", "停水", "--dir", node)
        check("停水通知" in out, "%s: the search does not find a bulletin's word after the upgrade" % archive)
        out, _ = env.run("search", "电动车", "--dir", node)
        check("电动车" in out, "%s: the search does not find a request's word" % archive)
        # its keys, heads files and settings work with this watchmesh
        out, _ = env.run("post", "bulletin", "--dir", node, "--key", os.path.join(world, "officer.key"),
                         "--passphrase-file", os.path.join(world, "pass.txt"), "--group", "gaobu.xinhua",
                         "--title", "升级以后", "--text", "升级以后的第一条通知。")
        check(out.strip() in ids(env, node), "%s: a post after the upgrade is not stored" % archive)
        d = Daemon(env, os.path.relpath(node, env.dir))
        d.configure()
        d.start()
        check(d.stop() == 0, "%s: the daemon did not stop cleanly" % archive)
        seen.append(n)
    print("upgraded schemas %s to %d" % (", ".join(map(str, seen)), current))


def t_format1(env):
    """A schema-5 store holding events (what watchmesh 0.1 left): the
    README says it is refused, and that a new data directory is made with
    `watchmesh init`."""
    world = unpack(env, archives()[0], "old")
    node = os.path.join(world, "village")
    db = os.path.join(node, "store.db")
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version = %d" % (header_int("STORE_FORMAT2_VERSION") - 1))
    c.commit()
    c.close()
    with open(db, "rb") as f:
        before = f.read()
    for args in (["feed", "--dir", node], ["status", "--dir", node], ["run", node]):
        _, err = env.run(*args, rc=1)
        check("retired event format 1" in err and "watchmesh init" in err,
              "%s on a format 1 store: %r" % (args[0], err))
    with open(db, "rb") as f:
        check(f.read() == before, "a refused format 1 store was changed")
    shutil.rmtree(world)


TESTS = {"stores": t_stores, "format1": t_format1}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "upgrade", "SRC FORGER"))
