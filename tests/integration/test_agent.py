"""
Integration tests of the key agent and of typing passphrases at a terminal
(issue 13 item 5), through a pty as test_cli.py's prompt_run drives it.
Each test has its own runtime directory ($XDG_RUNTIME_DIR).

  shift    the passphrase typed once at `key agent`, then five posts and a
           certificate ask nothing; the directory is 0700 and the socket
           0600; `key lock` ends it and the next post asks again; a second
           agent for the key is refused before any passphrase
  timeout  an agent for 3 s: signs at once, gone after, its socket removed
  peeruid  (root) the directory and socket opened to everyone: a process
           of another uid (nobody, through setpriv) gets no answer where
           one of ours gets the public key's end time; a directory that is
           not private is refused

  open     with the officer's agent running, `feed --key`, `show --key` and
           a referral's re-seal open a sealed request without asking;
           the agent opens only slots sealed to its key (a box for the
           station gets AGENT_NO from the officer's agent; a count out of
           range is closed unanswered); after `key lock` the feed asks again

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


def agent_env(env):
    run = env.path("run")
    os.mkdir(run, 0o700)
    env.env["XDG_RUNTIME_DIR"] = run
    return os.path.join(run, "watchmesh")


def bulletin(env, i, rc=0):
    out, err = env.run(*(BULLETIN[:-4] + ["--title", "巡逻 %d" % i, "--text", "今晚八点集合"]), rc=rc)
    return out.strip(), err


def t_shift(env):
    env.world()
    rundir = agent_env(env)
    # without an agent, a post asks (and stdin is no terminal here)
    _, err = bulletin(env, 0, rc=1)
    check("passphrase is needed" in err, "a post without the agent: " + err)
    rc, err, echo = prompt_run(env, ["key", "agent", "--key", "officer.key", "--for", "5m"],
                               lambda p, m, e, x: os.write(m, (GOOD + "\n").encode()))
    try:
        check(rc == 0 and echo, "key agent: %r %r" % (rc, err))
        check(err.count("Passphrase for") == 1, "asked more than once: %r" % err)
        posted = [bulletin(env, i)[0] for i in range(1, 6)]
        check(len(set(posted)) == 5 and set(posted) <= set(env.feed_ids("village")), "five posts not stored")
        # a sealed request: the box's inner signature through the agent too
        station = env.run("key", "show", "station.key")[0].strip()
        env.run("post", "request", "--dir", "village", "--key", "officer.key", "--group", "gaobu.xinhua",
                "--to", station, "--text", "请派人到3栋查看。")
        # a certificate signed through the station key's own agent
        env.run("key", "agent", "--key", "station.key", "--for", "5m", "--passphrase-file", env.passfile)
        env.key("helper.key")
        env.run("cert", "issue", "--issuer", "station.key", "--subject", "helper.key", "--role", "resident",
                "--name", "志愿者", "--groups", "gaobu.xinhua", "--dir", "village")
        env.run("key", "lock", "--key", "station.key")
        st = os.stat(rundir)
        check(st.st_mode & 0o777 == 0o700, "the agent's directory is mode %o" % (st.st_mode & 0o777))
        socks = [f for f in os.listdir(rundir) if f.endswith(".sock")]
        check(len(socks) == 1, "sockets: %s" % socks)
        mode = os.stat(os.path.join(rundir, socks[0])).st_mode & 0o777
        check(mode & 0o077 == 0, "the agent's socket is mode %o" % mode)
        _, err = env.run("key", "agent", "--key", "officer.key", rc=1)
        check("holds officer.key already" in err, "a second agent: " + err)
    finally:
        out, _ = env.run("key", "lock", "--key", "officer.key", rc=None)
    check("locked officer.key" in out, "key lock: " + out)
    _, err = bulletin(env, 6, rc=1)
    check("passphrase is needed" in err, "a post after key lock: " + err)
    check(not os.listdir(rundir), "the socket is left after key lock: %s" % os.listdir(rundir))


def t_timeout(env):
    import time
    env.world()
    rundir = agent_env(env)
    env.run("key", "agent", "--key", "officer.key", "--for", "3s", "--passphrase-file", env.passfile)
    bulletin(env, 1)
    time.sleep(4)
    _, err = bulletin(env, 2, rc=1)
    check("passphrase is needed" in err, "a post after the agent's time: " + err)
    check(not os.listdir(rundir), "the socket is left after the agent's time: %s" % os.listdir(rundir))


OPEN_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"O" + bytes.fromhex(sys.argv[2]) + bytes.fromhex(sys.argv[3]))
print(s.recv(64).hex())
"""


def box_slots(env, eid):
    """the count byte and the recipients' slots of the sealed box of eid
    (PROTOCOL.md section 6: n, nonce (24), n + 1 slots of 80)."""
    import base64
    box = base64.b64decode([e for e in env.json("feed", "--dir", "village", "--json", "--all")
                            if e["id"] == eid][0]["content"]["box"])
    return box[:1].hex() + box[25:25 + 80 * box[0]].hex()


def t_open(env):
    import subprocess
    env.world()
    rundir = agent_env(env)
    secret = "我家隔壁的老人三天没出门了，请帮忙看看。"
    rid = env.post("request", "village", "res1.key", "--group", "gaobu.xinhua", "--to", "officer.key",
                   "--text", secret)
    station_only = env.post("request", "village", "res2.key", "--group", "gaobu.xinhua",
                            "--to", "station.key", "--text", "只给所长看。")
    feed = ["feed", "--dir", "village", "--key", "officer.key", "--json", "--all"]
    _, err = env.run(*feed, rc=1)
    check("passphrase is needed" in err, "a sealed feed without the agent: " + err)
    env.run("key", "agent", "--key", "officer.key", "--for", "5m", "--passphrase-file", env.passfile)
    try:
        evs = {e["id"]: e for e in env.json(*feed)}
        check(evs[rid].get("private_text") == secret, "the agent did not open the request: %r" % evs[rid])
        check("private_text" not in evs[station_only], "a box for the station opened: %r" % evs[station_only])
        out, _ = env.run("show", rid[:10], "--dir", "village", "--key", "officer.key")
        check(secret in out, "show through the agent:\n" + out)
        env.key("office.key")
        sid = env.post("status", "village", "officer.key", "--group", "gaobu.xinhua", "--ref", rid[:10],
                       "--state", "referred", "--referred-to", "新华村调解中心", "--to", "office.key")
        office = [e for e in env.json("feed", "--dir", "village", "--key", "office.key", "--json", "--all")
                  if e["id"] == sid]
        check(office and office[0].get("private_text") == secret,
              "the referral re-sealed through the agent: %r" % office)
        # the socket, asked directly: a key for a box sealed to the officer,
        # a refusal for one sealed to the station, nothing for a bad count
        sock = os.path.join(rundir, [f for f in os.listdir(rundir) if f.endswith(".sock")][0])
        pub = env.run("key", "show", "officer.key")[0].strip()

        def ask(slots):
            p = subprocess.run(["/usr/bin/python3", "-c", OPEN_CLIENT, sock, pub, slots],
                               capture_output=True, timeout=30)
            return p.stdout.decode().strip()

        got = ask(box_slots(env, rid))
        check(got.startswith("4b") and len(got) == 2 + 64, "a slot for the officer: %r" % got)
        check(ask(box_slots(env, station_only)) == "4e", "a slot for the station: %r" % ask(box_slots(env, station_only)))
        check(ask("00") == "" and ask("11" + "00" * 80 * 17) == "", "a count out of range was answered")
    finally:
        env.run("key", "lock", "--key", "officer.key", rc=None)
    _, err = env.run(*feed, rc=1)
    check("passphrase is needed" in err, "a sealed feed after key lock: " + err)


CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"P" + bytes.fromhex(sys.argv[2]))
print(s.recv(9).hex())
"""


def t_peeruid(env):
    import shutil
    import subprocess
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("skipped: needs root and setpriv to run a client as nobody")
        return 77
    env.world()
    rundir = agent_env(env)
    pub = env.run("key", "show", "officer.key")[0].strip()
    env.run("key", "agent", "--key", "officer.key", "--for", "5m", "--passphrase-file", env.passfile)
    try:
        sock = os.path.join(rundir, [f for f in os.listdir(rundir) if f.endswith(".sock")][0])
        # the doors opened by mistake: only the uid check is left
        for p in (env.dir, env.path("run"), rundir):
            os.chmod(p, 0o755)
        os.chmod(sock, 0o777)

        def ask(*prefix):
            p = subprocess.run(list(prefix) + ["/usr/bin/python3", "-c", CLIENT, sock, pub],
                               capture_output=True, timeout=30)
            return p.stdout.decode().strip()

        check(ask().startswith("4b") and len(ask()) == 18, "our own uid gets no answer: %r" % ask())
        check(ask("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups") == "",
              "a process of another uid got an answer")
        # and ours no longer trust a directory others may enter
        _, err = bulletin(env, 1, rc=1)
        check("passphrase is needed" in err, "a post through a directory that is not private: " + err)
        _, err = env.run("key", "agent", "--key", "res1.key", rc=1)
        check("not a private directory" in err, "an agent in a directory that is not private: " + err)
    finally:
        os.chmod(rundir, 0o700)
        env.run("key", "lock", "--key", "officer.key", rc=None)


TESTS = {"retry": t_retry, "shift": t_shift, "open": t_open, "timeout": t_timeout, "peeruid": t_peeruid}

if __name__ == "__main__":
    sys.exit(wmtest.main(TESTS))
