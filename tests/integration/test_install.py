"""
What `meson install` puts where (issue 13): the binary, the systemd unit,
the system user (sysusers.d) and its data directory (tmpfiles.d), the man
pages (watchmesh(1), watchmesh-COMMAND(1) for each command,
watchmesh.conf(5)) and an example watchmesh.conf, in the standard places
under the prefix; the unit's sandboxing, checked by systemd-analyze verify
and rated by systemd-analyze security; every command of --help in
watchmesh(1) and with its page, every option of its --help in that page,
every setting in watchmesh.conf(5), each page rendered by man without a
warning; the example's settings those `init` writes.  The Debian package built from the
same install is tested by test_package.py (make test-package).

    usage: test_install.py WATCHMESH CASE SOURCE_ROOT FORGER
    cases: files unit manpage manrender example_conf
    (every case reads the build directory: $WATCHMESH_BUILD_ROOT)
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mesh import G, run_cases  # noqa: E402
from wmtest import check  # noqa: E402

UNIT = "lib/systemd/system/watchmesh.service"
UNIT_MUST = ["User=watchmesh", "StateDirectory=watchmesh", "Restart=on-failure",
             "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "ReadWritePaths=/var/lib/watchmesh", "CapabilityBoundingSet=\n",
             "SystemCallFilter=@system-service", "ConditionPathExists=/var/lib/watchmesh/node.key"]


def installed(env):
    """`meson install` of the build into a DESTDIR: the folder of the
    prefix in it (DESTDIR/usr/local/ by default), and the files under it."""
    dest = env.path("dest")
    p = subprocess.run([shutil.which("meson") or "meson", "install", "-C", os.environ["WATCHMESH_BUILD_ROOT"],
                        "--no-rebuild", "--quiet", "--destdir", dest], capture_output=True, timeout=120)
    check(p.returncode == 0, "meson install: %s" % p.stderr.decode(errors="replace"))
    files = {os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs}
    bins = [f for f in files if f.endswith("bin/watchmesh")]
    check(len(bins) == 1, "installed: %s" % sorted(files))
    prefix = bins[0][:-len("bin/watchmesh")]
    return os.path.join(dest, prefix), {f[len(prefix):] for f in files if f.startswith(prefix)}


def t_files(env):
    """The binary, unit, sysusers.d and tmpfiles.d entries, man page and
    example settings in their places; systemd-sysusers makes the user the
    unit names from the installed entry."""
    root, files = installed(env)
    want = {"bin/watchmesh", UNIT, "lib/sysusers.d/watchmesh.conf", "lib/tmpfiles.d/watchmesh.conf",
            "share/man/man1/watchmesh.1", "share/man/man1/watchmesh-post.1",
            "share/man/man1/watchmesh-restore.1", "share/man/man5/watchmesh.conf.5",
            "share/doc/watchmesh/examples/watchmesh.conf"}
    check(want <= files, "not installed: %s" % sorted(want - files))
    tmpfiles = open(os.path.join(root, "lib/tmpfiles.d/watchmesh.conf")).read()
    check(re.search(r"^d /var/lib/watchmesh 0700 watchmesh watchmesh -$", tmpfiles, re.M),
          "tmpfiles.d makes no private /var/lib/watchmesh: %r" % tmpfiles)
    if not shutil.which("systemd-sysusers"):
        print("systemd-sysusers not installed: the user is not made")
        return 77
    # the user the unit names, made as `systemd-sysusers` does at install
    sysroot = env.path("sysroot")
    os.makedirs(os.path.join(sysroot, "etc"))
    shutil.copytree(os.path.join(root, "lib/sysusers.d"), os.path.join(sysroot, "usr/lib/sysusers.d"))
    for f in ("passwd", "group"):
        open(os.path.join(sysroot, "etc", f), "w").close()
    subprocess.run(["systemd-sysusers", "--root", sysroot], capture_output=True, timeout=60)
    passwd = open(os.path.join(sysroot, "etc/passwd")).read()
    check(re.search(r"^watchmesh:x:\d+:\d+:[^:]*:/var/lib/watchmesh:/usr/sbin/nologin$", passwd, re.M),
          "systemd-sysusers made no watchmesh user: %r" % passwd)


def t_unit(env):
    """The unit has the sandboxing it must and names the installed binary;
    it passes systemd-analyze verify, and its exposure score
    (systemd-analyze security) stays low."""
    root, _ = installed(env)
    unit = open(os.path.join(root, UNIT)).read()
    for line in UNIT_MUST:
        check(line in unit, "the unit lacks %r" % line)
    exe = re.search(r"^ExecStart=(\S+) run --dir /var/lib/watchmesh$", unit, re.M)
    check(exe and os.path.join(env.path("dest"), exe.group(1).lstrip("/")) == os.path.join(root, "bin/watchmesh"),
          "ExecStart does not name the installed binary: %s" % (exe and exe.group(0)))
    if not shutil.which("systemd-analyze"):
        print("systemd-analyze not installed: the unit is not verified")
        return 77
    # verified where it would run: the installed binary's path made this tree's
    os.makedirs(env.path("unit"))
    with open(env.path("unit", "watchmesh.service"), "w") as f:
        f.write(unit.replace(exe.group(1), os.path.join(root, "bin/watchmesh")))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", env.path("unit", "watchmesh.service")],
                       capture_output=True, timeout=60)
    check(p.returncode == 0, "systemd-analyze verify: %s" % p.stderr.decode(errors="replace"))
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        env.path("unit", "watchmesh.service")], capture_output=True, timeout=60)
    score = re.search(r"Overall exposure level for watchmesh.service: ([0-9.]+)",
                      p.stdout.decode(errors="replace"))
    check(score and float(score.group(1)) <= 2.0, "systemd-analyze security: %s%s" % (
        p.stdout.decode(errors="replace")[-400:], p.stderr.decode(errors="replace")))
    print("systemd-analyze security: exposure %s" % score.group(1))


def commands(text, first):
    """The commands of a listing: lines starting with `first`, each its
    first word and, for those with subcommands, the second."""
    out = set()
    for m in re.finditer(r"^%s([a-z]+)(?: ([a-z]+)\b(?![-\w]))?" % first, text, re.M):
        out.add(m.group(1) + (" " + m.group(2) if m.group(2) else ""))
    return out


def entries(page):
    """The options (--x) and environment variables (WATCHMESH_X) a page made
    by scdoc documents: those in the term of an indented paragraph (a term
    line is followed by .RS 4), not merely named in some text."""
    lines = page.split("\n")
    terms = " ".join(lines[i] for i in range(len(lines) - 1) if lines[i + 1] == ".RS 4")
    return set(re.findall(r"\\fB(--[a-z][a-z-]*|WATCHMESH_[A-Z_]+)\\fR", terms.replace("\\-", "-")))


def named(text):
    """The options and environment variables a --help names."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*[a-z]|WATCHMESH_[A-Z_]*[A-Z])", text))


def t_manpage(env):
    """watchmesh(1) lists exactly the commands `watchmesh --help` lists and
    the environment variables it names; every command has its page
    installed, watchmesh-COMMAND(1), and no other command has one; each page
    documents every option and environment variable that the command's
    --help (and each of its subcommands') names, so an option added without
    its documentation fails here.  Every setting `init` writes has its entry
    in watchmesh.conf(5), and the page lists no other."""
    root, files = installed(env)
    out, _ = env.run("--help")
    helped = commands(out, "  ")
    man1 = os.path.join(root, "share/man/man1")
    page = open(os.path.join(man1, "watchmesh.1")).read().replace("\\-", "-")
    paged = commands(page, r"\\fBwatchmesh ")
    check(len(helped) >= 15, "--help's commands: %s" % sorted(helped))
    check(helped == paged, "--help and watchmesh(1) differ: only in --help %s, only in the page %s" % (
        sorted(helped - paged), sorted(paged - helped)))
    envs = {n for n in named(out) if n.startswith("WATCHMESH_")}
    check(envs and envs <= entries(page), "watchmesh(1) lacks an entry for %s" % sorted(envs - entries(page)))
    words = {c.split()[0] for c in helped}
    pages = {f[len("share/man/man1/watchmesh-"):-2] for f in files
             if f.startswith("share/man/man1/watchmesh-") and f.endswith(".1")}
    check(words == pages, "commands and their pages differ: no page for %s, a page but no command %s" % (
        sorted(words - pages), sorted(pages - words)))
    for w in sorted(words):
        text, _ = env.run(w, "--help")
        for c in helped:
            if c.startswith(w + " "):
                text += env.run(*c.split(), "--help")[0]
        want = named(text)
        check(len(want) >= 2, "`watchmesh %s --help` names no option" % w)
        have = entries(open(os.path.join(man1, "watchmesh-%s.1" % w)).read())
        # another command's option named in passing (feed's help names
        # post's --expires) is one this command refuses as unknown
        missing = {o for o in want - have if o.startswith("WATCHMESH_") or
                   "unknown option '%s'" % o not in env.run(w, o, rc=None)[1]}
        check(not missing, "watchmesh-%s(1) has no entry for %s of its --help" % (w, sorted(missing)))
    env.world(node="a", group=G)
    made = set(settings(open(env.path("a", "watchmesh.conf")).read()))
    page = open(os.path.join(root, "share/man/man5/watchmesh.conf.5")).read()
    # an entry's first line: one or two settings, "\fBkey\fR = \fIVALUE\fR"
    paged = set(re.findall(r"(?:^|, )\\fB([a-z_]+)\\fR = ", page, re.M))
    check(len(made) >= 20, "init's settings: %s" % sorted(made))
    check(made == paged, "init's settings and watchmesh.conf(5) differ: only in the file %s, only in the page %s" % (
        sorted(made - paged), sorted(paged - made)))


def t_manrender(env):
    """Every installed page renders with man-db at 80 columns without a
    warning from man or groff."""
    if not shutil.which("man"):
        print("man is not installed (Debian's man-db): the pages are not rendered")
        return 77
    root, files = installed(env)
    pages = sorted(f for f in files if f.startswith("share/man/"))
    check(len(pages) >= 17, "installed pages: %s" % pages)
    for f in pages:
        p = subprocess.run(["man", "--warnings", "-l", os.path.join(root, f)], capture_output=True,
                           timeout=60, env=dict(os.environ, MANWIDTH="80", LANG="C.UTF-8"))
        text = p.stdout.decode(errors="replace")
        check(p.returncode == 0 and not p.stderr and "NAME" in text,
              "man -l %s: exit %d\n%s" % (f, p.returncode, p.stderr.decode(errors="replace")))
    print("rendered %d pages" % len(pages))


def settings(text):
    return dict(re.findall(r"^([a-z_]+) = (.*)$", text, re.M))


def t_example_conf(env):
    """Each setting of the installed example is one `init` writes, with the
    same value (its default), but the node's name and its peers, which are
    the example's own."""
    root, _ = installed(env)
    example = settings(open(os.path.join(root, "share/doc/watchmesh/examples/watchmesh.conf")).read())
    env.world(node="a", group=G)
    made = settings(open(env.path("a", "watchmesh.conf")).read())
    check({"name", "peers", "listen"} <= set(example), "the example lacks name, peers or listen: %s" % example)
    for k, v in example.items():
        check(k in made, "the example's %s is no setting init writes" % k)
        check(k in ("name", "peers") or made[k] == v,
              "the example's %s = %s, init writes %s" % (k, v, made[k]))


TESTS = {"files": t_files, "unit": t_unit, "manpage": t_manpage, "manrender": t_manrender,
         "example_conf": t_example_conf}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "install", "SRC FORGER"))
