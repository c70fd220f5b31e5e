#!/usr/bin/python3
"""
The Debian package on a fresh Debian 12 (make test-package; issue 13): the
.deb installed with apt into a copy of a debootstrapped root puts the
program, its manual, the unit, the user and the data directory where they
belong and enables the unit; then, in that root, the node is made as an
operator would (OPERATIONS.md) and started with the installed unit's own
command line as the watchmesh user, and `watchmesh status` (no --dir)
finds it running.  Removing the package disables the unit and keeps the
node's data.

Then the root is booted with systemd as its PID 1 (systemd-nspawn --boot,
a network of its own), and a unit of the test checks, in it, what systemd
does with the package's unit: the node made above starts at boot,
`watchmesh status` finds it, the running node has its sandbox (no new
privileges, a syscall filter, no capabilities, / read-only), killed with
SIGKILL it is started again, its
exposure (systemd-analyze security) is low, a node not yet made is no
failure and starts once `watchmesh init` made it, and it stops cleanly.
Where nspawn cannot boot (no systemd-nspawn, a machine that refuses it),
those checks are skipped, saying why; the chroot's checks stand.  The
chroot's node runs in a network namespace of its own, so its default ports
take nothing of the machine's.

    usage: test_package.py DEB ROOT_TAR   (as root)
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok: " + what)
    else:
        failed += 1
        print("FAIL: %s\n%s" % (what, detail))


def in_root(root, script, timeout=300):
    """script run by sh in the root, in a mount and network namespace of its
    own (loopback up, /proc mounted), as root."""
    outer = ("ip link set lo up && mount -t proc proc %s/proc && exec chroot %s /bin/sh -ec %s"
             % (shlex.quote(root), shlex.quote(root), shlex.quote(script)))
    p = subprocess.run(["unshare", "--net", "--mount", "--fork", "sh", "-ec", outer],
                       capture_output=True, timeout=timeout,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


# As the operator does it on the machine (OPERATIONS.md): a network (here
# made on the spot), the node made as the service's user in the service's
# directory, then the unit's ExecStart= run as that user; `watchmesh
# status` without --dir finds /var/lib/watchmesh.
RUN_NODE = r"""
cd /tmp
echo 'package test passphrase' > pass
watchmesh network create --name pkgtest --out /tmp/pkgtest.network --passphrase-file pass >/dev/null
chmod 644 /tmp/pkgtest.network
runuser -u watchmesh -- watchmesh init /var/lib/watchmesh --network /tmp/pkgtest.network --name pkgtest
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/watchmesh.service)
env=$(sed -n 's/^Environment=//p' /usr/lib/systemd/system/watchmesh.service)
echo "command: $exec_start"
# setpriv execs the command (runuser would stand between it and the signal)
setpriv --reuid=watchmesh --regid=watchmesh --init-groups env $env $exec_start 2>/tmp/node.log &
node=$!
i=0
until runuser -u watchmesh -- watchmesh status >/tmp/status.txt 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "never running:"; cat /tmp/status.txt /tmp/node.log; exit 1; }
	sleep 0.1
done
echo "--- status"; cat /tmp/status.txt
echo "--- web_dir"; grep '^web_dir' /var/lib/watchmesh/watchmesh.conf
ls /usr/share/watchmesh/web/index.html 2>/dev/null || echo "no web app in the package"
kill -TERM $node
wait $node && echo "node exit: 0" || echo "node exit: $?"
echo "--- log"; cat /tmp/node.log
"""


# Run by systemd in the booted root, as a unit of its own (simple, so that
# the boot completes while it waits for it): each fact a line "NAME: VALUE"
# in /root/boot-check.log, then the container powered off.
BOOT_CHECK = r"""#!/bin/sh
exec >/root/boot-check.log 2>&1
fact() { echo "$1: $2"; }
unit() { systemctl show -p "$1" --value watchmesh; }
active_within() {   # the unit active (and its MainPID not $2) within $1 s
	i=0
	until [ "$(systemctl is-active watchmesh)" = active ] && [ "$(unit MainPID)" != "${2:-0}" ] &&
		runuser -u watchmesh -- watchmesh status >/root/status.txt 2>&1; do
		i=$((i + 1)); [ $i -lt $(($1 * 10)) ] || return 1
		sleep 0.1
	done
}
fact system "$(systemctl is-system-running --wait)"
active_within 30; rc=$?; fact at-boot "$(systemctl is-active watchmesh) $rc"
fact status "$(head -1 /root/status.txt)"
pid=$(unit MainPID)
# the sandbox as the running node has it
fact sandbox "$(awk '/^(CapEff|CapBnd|NoNewPrivs|Seccomp):/ {printf "%s%s ", $1, $2}' /proc/$pid/status)root=$(awk '$5 == "/" {split($6, o, ","); print o[1]}' /proc/$pid/mountinfo)"
kill -9 "$pid"
active_within 30 "$pid"; rc=$?; fact after-kill "$(systemctl is-active watchmesh) $rc restarts=$(unit NRestarts)"
fact exposure "$(systemd-analyze security watchmesh 2>&1 | sed -n 's/.*Overall exposure level for watchmesh.service: //p')"
fact journal "$(journalctl -u watchmesh -o cat | grep -c 'listening on')"

# a machine whose node is not made yet: no failure, and it starts once made
systemctl stop watchmesh
install -m 644 /var/lib/watchmesh/network /var/tmp/pkgtest.network
find /var/lib/watchmesh -mindepth 1 -delete
systemctl start watchmesh
fact unmade "$(systemctl is-active watchmesh) condition=$(unit ConditionResult)"
runuser -u watchmesh -- watchmesh init --network /var/tmp/pkgtest.network --name booted >/dev/null
systemctl start watchmesh
active_within 30; rc=$?; fact after-init "$(systemctl is-active watchmesh) $rc"
systemctl stop watchmesh
fact stop "$(systemctl is-active watchmesh) result=$(unit Result)"
fact end done
# poweroff.target as a job of its own: `systemctl poweroff` would first ask
# logind (over D-Bus, which a minbase root lacks) and say it failed
systemctl --no-block start poweroff.target
"""
BOOT_UNIT = """[Unit]
Description=watchmesh's package test, in the booted root
[Service]
Type=simple
ExecStart=/root/boot-check
[Install]
WantedBy=multi-user.target
"""


def booted(root):
    """The package's unit under a real systemd: the root booted by
    systemd-nspawn with BOOT_CHECK as a unit, its facts checked here."""
    if not shutil.which("systemd-nspawn"):
        print("SKIP boot: systemd-nspawn is not installed (Debian's systemd-container)")
        return
    with open(os.path.join(root, "root/boot-check"), "w") as f:
        f.write(BOOT_CHECK)
    os.chmod(os.path.join(root, "root/boot-check"), 0o755)
    with open(os.path.join(root, "etc/systemd/system/boot-check.service"), "w") as f:
        f.write(BOOT_UNIT)
    os.symlink("../boot-check.service", os.path.join(root, "etc/systemd/system/multi-user.target.wants/boot-check.service"))
    try:
        # not registered with (nor run in a scope of) the machine's systemd:
        # it need not be one
        p = subprocess.run(["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--private-network",
                            "--quiet", "-D", root], stdin=subprocess.DEVNULL, capture_output=True, timeout=240)
        console = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        console = "(killed after 240 s)\n" + (e.stdout or b"").decode(errors="replace")
    os.remove(os.path.join(root, "etc/systemd/system/multi-user.target.wants/boot-check.service"))
    log = os.path.join(root, "root/boot-check.log")
    if not os.path.exists(log):
        print("SKIP boot: systemd-nspawn --boot did not run the root's systemd to the test's unit:\n"
              + console[-3000:])
        return
    out = open(log).read()
    print("--- booted (systemd-nspawn --boot)\n" + out.strip())
    facts = dict(re.findall(r"^([a-z-]+): (.*)$", out, re.M))
    why = out + "\n--- console\n" + console[-3000:]
    check(facts.get("end") == "done", "the checks in the booted root ran to their end", why)
    check(facts.get("system") in ("running", "degraded"), "systemd booted the root", why)
    check(facts.get("at-boot") == "active 0", "the unit starts at boot once the node is made", why)
    check(facts.get("status", "").startswith("node "), "watchmesh status finds the service's node", why)
    check(facts.get("sandbox") == "CapEff:%s CapBnd:%s NoNewPrivs:1 Seccomp:2 root=ro" % ("0" * 16, "0" * 16),
          "the running node: no new privileges, a syscall filter, no capabilities, / read-only", why)
    check(facts.get("after-kill") == "active 0 restarts=1", "killed with SIGKILL, the node is started again", why)
    score = re.match(r"([0-9.]+)", facts.get("exposure", ""))
    check(score and float(score.group(1)) <= 2.0,
          "systemd-analyze security: exposure %s" % (score and score.group(1)), why)
    check(facts.get("journal", "0") != "0", "the node's log is in the journal", why)
    check(facts.get("unmade") == "inactive condition=no", "a node not yet made is no failure", why)
    check(facts.get("after-init") == "active 0", "the unit starts once watchmesh init made the node", why)
    check(facts.get("stop") == "inactive result=success", "systemctl stop stops it cleanly", why)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    deb, tar = os.path.abspath(sys.argv[1]), sys.argv[2]
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP: installing into a Debian root needs root and unshare")
        return 77
    work = tempfile.mkdtemp(prefix="wm-package-")
    root = os.path.join(work, "root")
    os.mkdir(root)
    try:
        subprocess.run(["tar", "-C", root, "-xf", tar], check=True)
        shutil.copy(deb, os.path.join(root, "tmp", "watchmesh.deb"))

        # as OPERATIONS.md says it, from the file on the stick
        rc, out = in_root(root, "apt-get install -y -q /tmp/watchmesh.deb")
        check(rc == 0, "apt install FILE.deb installs the package", out + (
            "\n(a dependency missing from the cached root? remove %s to make it again)" % tar))
        if rc != 0:
            return 1
        print(out.strip())
        for f in ("usr/bin/watchmesh", "usr/share/man/man1/watchmesh.1.gz", "usr/share/man/man1/watchmesh-post.1.gz",
                  "usr/share/man/man1/watchmesh-restore.1.gz",
                  "usr/share/man/man5/watchmesh.conf.5.gz",
                  "usr/lib/systemd/system/watchmesh.service", "usr/lib/sysusers.d/watchmesh.conf",
                  "usr/lib/tmpfiles.d/watchmesh.conf", "usr/share/doc/watchmesh/examples/watchmesh.conf",
                  "usr/share/doc/watchmesh/copyright"):
            check(os.path.isfile(os.path.join(root, f)), "installed /" + f)
        passwd = open(os.path.join(root, "etc/passwd")).read()
        user = re.search(r"^watchmesh:x:(\d+):(\d+):[^:]*:/var/lib/watchmesh:/usr/sbin/nologin$", passwd, re.M)
        check(user and int(user.group(1)) < 1000, "the system user watchmesh", passwd)
        d = os.path.join(root, "var/lib/watchmesh")
        st = os.stat(d) if os.path.isdir(d) else None
        check(user and st and st.st_uid == int(user.group(1)) and st.st_mode & 0o777 == 0o700,
              "/var/lib/watchmesh is the user's, mode 0700", st and "%o uid %d" % (st.st_mode, st.st_uid))
        check(os.path.islink(os.path.join(root, "etc/systemd/system/multi-user.target.wants/watchmesh.service")),
              "the unit is enabled at boot")

        rc, out = in_root(root, RUN_NODE)
        print(out.strip())
        check(rc == 0 and "node exit: 0" in out, "the node runs from the unit's command line and stops cleanly")
        check("command: /usr/bin/watchmesh run --dir /var/lib/watchmesh" in out, "the unit runs /usr/bin/watchmesh")
        check(re.search(r"^web_dir = /usr/share/watchmesh/web$", out, re.M) is not None,
              "a new node serves the installed web app")

        booted(root)

        rc, out = in_root(root, "dpkg -r watchmesh; test -f /var/lib/watchmesh/node.key; "
                          "test ! -e /etc/systemd/system/multi-user.target.wants/watchmesh.service")
        check(rc == 0, "dpkg -r disables the unit and keeps the node's key", out)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", work])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
