"""
Integration tests of typing passphrases at a terminal (issue 13 item 5),
through a pty as test_cli.py's prompt_run drives it.

  retry    a mistyped passphrase costs a try, not the command: three tries,
           then one line naming the file; an empty one says the key is
           encrypted, and at `key new` names --no-passphrase; a passphrase
           file is never retried

    usage: test_agent.py WATCHMESH CASE [SOURCE_ROOT]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from test_cli import prompt_run  # noqa: E402
from wmtest import check  # noqa: E402

GOOD = "correct horse battery staple"
BULLETIN = ["post", "bulletin", "--dir", "village", "--key", "officer.key", "--group", "gaobu.xinhua",
            "--title", "巡逻", "--text", "今晚八点集合"]


def typing(lines):
    """steps for prompt_run: each line typed once its prompt is shown (a
    prompt flushes what was typed before it)."""
    def steps(p, master, echo, expect):
        for i, line in enumerate(lines):
            if i:
                expect("try again (%d of 3)\nPassphrase for " % (i + 1))
            check(not echo(), "echo is on at try %d" % (i + 1))
            os.write(master, (line + "\n").encode())
    return steps


def t_retry(env):
    env.world()
    # two typos, then the passphrase: one post, its id on stdout
    rc, err, echo = prompt_run(env, BULLETIN, typing(["corect horse", "", GOOD]))
    check(rc == 0 and echo, "typos then the passphrase: %r %r" % (rc, err))
    check("wrong passphrase for officer.key; try again (2 of 3)" in err, "no retry after a typo: %r" % err)
    check("empty passphrase (a key made with --no-passphrase asks for none; this one is encrypted)"
          in err, "an empty passphrase is not explained: %r" % err)
    # three typos: the command fails with one last line
    rc, err, echo = prompt_run(env, BULLETIN, typing(["a", "b", "c"]))
    check(rc == 1 and echo, "three typos: %r" % rc)
    check(err.rstrip().endswith("watchmesh: wrong passphrase for officer.key (3 tries)"),
          "three typos: %r" % err)
    # a passphrase file is what it is: no second try
    with open(env.path("wrong.txt"), "w") as f:
        f.write("not the passphrase\n")
    _, err = env.run(*(BULLETIN + ["--passphrase-file", "wrong.txt"]), rc=1)
    check(err.strip() == "watchmesh: wrong passphrase for officer.key (the one in --passphrase-file)",
          "a wrong passphrase file: %r" % err)
    # key new: an empty passphrase names --no-passphrase
    rc, err, echo = prompt_run(env, ["key", "new", "--out", "k.key"],
                               lambda p, m, e, x: (os.write(m, b"\n"), x("(2 of 3)"), p.kill()))
    check("empty passphrase (a key without one is made with `watchmesh key new --no-passphrase`)" in err,
          "key new with an empty passphrase: %r" % err)
    check(not os.path.exists(env.path("k.key")), "a key was written")


TESTS = {"retry": t_retry}

if __name__ == "__main__":
    sys.exit(wmtest.main(TESTS))
