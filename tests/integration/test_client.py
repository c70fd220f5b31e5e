"""
Integration tests of the example API client, examples/client/wm-follow.c,
as real processes: against a real `watchmesh run` (what it prints at start
and live, resuming after a kill with nothing missed and nothing twice,
following the node through a restart), and against a hostile stand-in
node (text that would drive a terminal, a listing that never ends, an
endless line, another node behind the same state file).

    usage: test_client.py WATCHMESH CASE SOURCE_ROOT WM_FOLLOW
    cases: follow tls hostile
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wmtest import check  # noqa: E402
from test_mesh import G, free_port, run_cases, wait_until  # noqa: E402
from test_http import request_event, world_node  # noqa: E402

FOLLOW = None          # the wm-follow binary (argv[4])
FOLLOWERS = []         # every client started, for the cleanup


class Follower:
    """One wm-follow process: stdout collected as bytes, stderr in a file."""

    def __init__(self, env, url, *args):
        self.errpath = env.path("follow-%d.err" % len(FOLLOWERS))
        self.err = open(self.errpath, "wb")
        self.cmd = [FOLLOW, "--node", url] + list(args)
        self.proc = subprocess.Popen(self.cmd, cwd=env.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        FOLLOWERS.append(self)

    def _read(self):
        while True:
            d = self.proc.stdout.read1(65536)
            if not d:
                return
            with self.lock:
                self.buf += d

    def out(self):
        with self.lock:
            return self.buf.decode("utf-8", "replace")

    def raw(self):
        with self.lock:
            return self.buf

    def errors(self):
        with open(self.errpath, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, *texts):
        wait_until("wm-follow to print %s" % (texts,), lambda: all(t in self.out() for t in texts))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(10)
        self.err.close()


def cases_with_followers(cases):
    """Each case kills its clients at the end, and prints what they wrote
    when it fails."""
    def wrap(fn):
        def run(env):
            ok = False
            try:
                r = fn(env)
                ok = True
                return r
            finally:
                for f in FOLLOWERS:
                    f.kill()
                    if not ok:
                        sys.stderr.write("---- %s\n-- stdout:\n%s\n-- stderr:\n%s\n" %
                                         (" ".join(f.cmd), f.out(), f.errors()))
        return run
    return {name: wrap(fn) for name, fn in cases.items()}


def state_cursor(path):
    try:
        with open(path) as f:
            m = re.search(r"^cursor (\d+)$", f.read(), re.M)
            return int(m.group(1)) if m else None
    except OSError:
        return None


def once_each(out, texts):
    """Each text printed exactly once."""
    for t in texts:
        check(out.count(t) == 1, "%r printed %d times:\n%s" % (t, out.count(t), out))


# --- against a real node ------------------------------------------------------------------

def t_follow(env):
    v = world_node(env)
    url = "http://127.0.0.1:%d" % v.http_port
    state = env.path("follow.state")

    def post(text):
        code, body = v.post_wire(request_event(env, "res1.key", text))
        check(code == 201, "POST %s: %d %s" % (text, code, body))

    # what was there before: printed first, in arrival order, the officer's alert marked
    before = ["求助 %d：电动车被盗" % i for i in range(3)]
    for t in before:
        post(t)
    env.post("alert", "village", "officer.key", "--group", G, "--headline", "寻找走失老人",
             "--text", "78岁男性，身穿蓝色外套。", "--area", "新华村", "--expires", "6h")
    c1 = Follower(env, url, "--group", G, "--state", state)
    c1.wait_for("寻找走失老人")
    out = c1.out()
    check([out.index(t) for t in before] == sorted(out.index(t) for t in before), "order:\n" + out)
    check(re.search(r"ALERT  %s  ★ 王警官" % re.escape(G), out), "the alert's header:\n" + out)
    check("李阿姨 (resident)" in out, "the resident's name:\n" + out)
    check("cert" not in out, "--group %s printed another group's events:\n%s" % (G, out))

    # while it runs: printed live
    live = ["现场 %d：有人撬门" % i for i in range(2)]
    for t in live:
        post(t)
    c1.wait_for(*live)
    once_each(c1.out(), before + live)

    # killed once its place is saved; what is posted meanwhile is printed
    # by the next run, and nothing else
    last = v.get_json("/api/v1/events?group=%s&limit=500" % G)["events"][-1]["cursor"]
    wait_until("the state file to hold cursor %d" % last, lambda: state_cursor(state) == last)
    c1.kill()
    missed = ["离线 %d：小区门口可疑车辆" % i for i in range(3)]
    for t in missed:
        post(t)
    c2 = Follower(env, url, "--group", G, "--state", state)
    c2.wait_for(*missed)
    time.sleep(1)
    out = c2.out()
    once_each(out, missed)
    for t in before + live + ["寻找走失老人"]:
        check(t not in out, "printed again after the restart: %r\n%s" % (t, out))

    # the node restarts under it: it says so on one line, comes back, goes on
    check(v.stop() == 0, "exit status")
    wait_until("wm-follow to say it lost the node", lambda: "trying again" in c2.errors())
    v.start()
    after = ["重启后 %d：求助" % i for i in range(2)]
    for t in after:
        post(t)
    c2.wait_for(*after)
    once_each(c2.out(), missed + after)
    for ln in c2.errors().splitlines():
        check(ln.startswith("wm-follow: http://127.0.0.1:%d" % v.http_port), "error line: %r" % ln)
    check(c2.proc.poll() is None, "wm-follow exited")
    check(v.stop() == 0, "exit status")


# --- HTTPS with the network's own authority -------------------------------------------

def authority(env, name):
    """An ECDSA P-256 authority made by openssl: (cert path, key path)."""
    crt, key = env.path(name + ".crt"), env.path(name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name],
                   check=True, capture_output=True)
    return crt, key


def t_tls(env):
    """--cacert: the node's certificate from that authority is taken, one
    from another authority (or none given) is refused on one line, exit 1."""
    if not shutil.which("openssl"):
        print("SKIP: no openssl to make a test authority")
        return 77
    ca, ca_key = authority(env, "net-authority")
    other, _ = authority(env, "other-authority")
    crt, key, ext = env.path("node.crt"), env.path("node.key"), env.path("node.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", env.path("node.csr"), "-subj", "/CN=village"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", env.path("node.csr"), "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
                   check=True, capture_output=True)
    port = free_port()
    v = world_node(env, https="127.0.0.1:%d" % port, tls_cert=crt, tls_key=key)
    url = "https://127.0.0.1:%d" % port
    code, body = v.post_wire(request_event(env, "res1.key", "加密求助"))
    check(code == 201, "POST: %d %s" % (code, body))

    c = Follower(env, url, "--group", G, "--cacert", ca)
    c.wait_for("加密求助")
    c.kill()
    for args, why in ((["--cacert", other], "other-authority.crt"), ([], "give --cacert")):
        c = Follower(env, url, "--group", G, *args)
        check(c.proc.wait(30) == 1, "%s: exit %s" % (args, c.proc.returncode))
        err = c.errors()
        check(c.out() == "" and "its certificate is" in err and why in err
              and len(err.splitlines()) == 1, "%s:\n%s" % (args, err))
    check(v.stop() == 0, "exit status")


# --- against a hostile stand-in -------------------------------------------------------

class Fake:
    """Answers like a node, with what the test puts in: status with a key,
    listing pages by their after=, and a stream's bytes (then keepalives
    until the test ends)."""

    def __init__(self):
        self.key = "ab" * 32
        self.pages = {}
        self.stream = b""
        self.listings = 0
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                args = dict(a.split("=", 1) for a in query.split("&") if "=" in a)
                if path == "/api/v1/status":
                    self.answer({"name": "fake", "key": fake.key})
                elif path == "/api/v1/events":
                    fake.listings += 1
                    self.answer(fake.pages.get(int(args.get("after", 0)),
                                               {"events": [], "next": 0, "more": False}))
                elif path == "/api/v1/stream":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    try:
                        self.wfile.write(fake.stream)
                        while not fake.done:
                            self.wfile.write(b": keepalive\n\n")
                            self.wfile.flush()
                            time.sleep(0.5)
                    except OSError:
                        pass
                else:
                    self.send_error(404)

        self.done = False
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.done = True
        self.srv.shutdown()
        self.srv.server_close()


def fake_event(cursor, text, **extra):
    ev = {"id": "%064x" % cursor, "kind": "request", "author": "cd" * 32, "created_at": 1764700000000,
          "group": G, "refs": [], "expires_at": 0, "content": {"topic": "other", "text": text},
          "withheld": False, "official": False, "cursor": cursor}
    ev.update(extra)
    return ev


def t_hostile(env):
    fake = Fake()
    state = env.path("follow.state")
    try:
        # text that would clear the screen, move the cursor, retitle the
        # window or reverse the line: shown escaped, never passed on
        fake.pages[0] = {"events": [
            fake_event(1, "\x1b[2J清屏"),
            fake_event(2, "\u009b31m红字 a\rb"),
            fake_event(3, "官方通知", kind="bulletin\x1b[0m", group="g\x1b[1mx", official=True,
                       official_name="\x1b]0;pwned\x07王警官", content={"title": "\u202e反转", "text": "t"}),
            fake_event(4, "撤回", refs=["\x1b[5m" + "ef" * 31], author="\x9b1;1H"),
        ], "next": 4, "more": False}
        # an event sent again under a cursor already passed is not shown twice
        fake.stream = ("id: 2\ndata: %s\n\nid: 5\ndata: %s\n\n" % (
            json.dumps(fake_event(2, "又一次")), json.dumps(fake_event(5, "实时\x1b[H\x07")))).encode()
        c = Follower(env, fake.url, "--state", state)
        c.wait_for("实时")
        raw = c.raw()
        for bad in (b"\x1b", b"\xc2\x9b", b"\r", b"\x07", "\u202e".encode()):
            check(bad not in raw, "%r reached the terminal:\n%r" % (bad, raw))
        for shown in ("\\x1b[2J清屏", "\\u009b31m红字 a\\x0db", "★ \\x1b]0;pwned\\x07王警官",
                      "bulletin\\x1b[0m  g\\x1b[1mx", "\\u202e反转", "re \\x1b[5mef", "key \\u009b1;1H",
                      "实时\\x1b[H\\x07"):
            check(shown in c.out(), "%r not printed:\n%s" % (shown, c.out()))
        check("又一次" not in c.out(), "cursor 2 shown twice:\n" + c.out())
        wait_until("the state file to hold cursor 5", lambda: state_cursor(state) == 5)
        c.kill()

        # another node behind the same state file: refused, nothing printed
        fake.key = "12" * 32
        c = Follower(env, fake.url, "--state", state)
        check(c.proc.wait(30) == 1, "another node: exit %s" % c.proc.returncode)
        check(c.out() == "" and "is another node" in c.errors(), "another node:\n%s" % c.errors())

        # "more" with nothing new: said, and asked again only after a wait
        fake.key = "ab" * 32
        fake.pages[5] = {"events": [], "next": 5, "more": True}
        fake.listings = 0
        c = Follower(env, fake.url, "--state", state)
        wait_until("wm-follow to give up on the endless listing", lambda: "sends nothing new" in c.errors())
        time.sleep(2.5)
        check(fake.listings <= 3, "%d listings in about 3 s" % fake.listings)
        c.kill()

        # an endless line: cut at 1 MiB, the stream tried again
        del fake.pages[5]
        fake.stream = b"data: " + b"x" * (3 << 20)
        c = Follower(env, fake.url, "--state", state)
        wait_until("wm-follow to refuse the endless line", lambda: "longer than 1024 KiB" in c.errors())
        check(c.proc.poll() is None, "wm-follow exited on an endless line")
        c.kill()
    finally:
        fake.close()


TESTS = cases_with_followers({"follow": t_follow, "tls": t_tls, "hostile": t_hostile})

if __name__ == "__main__":
    if len(sys.argv) > 4:
        FOLLOW = os.path.abspath(sys.argv[4])
    sys.exit(run_cases(TESTS, "client", "SRC WM_FOLLOW"))
