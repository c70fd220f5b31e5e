"""
The binary is built hardened (top meson.build): a position-independent
executable, full RELRO (relocations read-only before main: GNU_RELRO and
BIND_NOW), the stack protector and fortified libc calls.  Read from the
binary itself with readelf (binutils, beside gcc).

    usage: test_hardening.py WATCHMESH
"""
import shutil
import subprocess
import sys


def readelf(flag, path):
    return subprocess.run(["readelf", flag, "-W", path], capture_output=True, text=True,
                          check=True).stdout


def main():
    path = sys.argv[1]
    if not shutil.which("readelf"):
        print("hardening: no readelf (binutils) here; skipped")
        return 77
    problems = []
    if "DYN (Position-Independent Executable" not in readelf("-h", path):
        problems.append("not a position-independent executable")
    if "GNU_RELRO" not in readelf("-l", path):
        problems.append("no RELRO segment")
    dyn = readelf("-d", path)
    if "BIND_NOW" not in dyn and "Flags: NOW" not in dyn:
        problems.append("relocations not bound at start (no BIND_NOW): partial RELRO only")
    syms = readelf("--dyn-syms", path)
    if "__stack_chk_fail" not in syms:
        problems.append("no stack protector (__stack_chk_fail not referenced)")
    if "_chk@" not in syms.replace("__stack_chk_fail@", ""):
        problems.append("no fortified libc calls (_FORTIFY_SOURCE)")
    for p in problems:
        print("hardening: %s" % p, file=sys.stderr)
    if not problems:
        print("hardening: PIE, full RELRO, stack protector, fortified calls")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
