"""
Integration tests of the HTTP API (DESIGN.md, "Node surface") against real
`watchmesh run` processes on 127.0.0.1, each on free ports: the routes and
their errors, events POSTed at one node appearing in another's listing and
live stream, resuming, the ntfy subscription, and the limits (slow clients,
too many connections, request rate, oversized bodies) costing nothing.

    usage: test_http.py WATCHMESH CASE SOURCE_ROOT
    cases: api mesh ntfy limits slowstream status_certs
"""
import base64
import http.client
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import Failure, check  # noqa: E402
from test_mesh import G, Daemon, rss_kib, run_cases, wait_until, wait_up  # noqa: E402


class Node(Daemon):
    """A daemon with its HTTP API on a free port of 127.0.0.1."""

    def configure(self, peers=(), **extra):
        # port 0: the kernel picks a free one at bind, so no other test can
        # take it in between; start() reads it from the log
        extra.setdefault("http", "127.0.0.1:0")
        super().configure(peers, **extra)

    def start(self):
        if getattr(self, "http_port", None):
            # started again: the port it had, so that its clients find it
            path = os.path.join(self.dir, "watchmesh.conf")
            with open(path) as f:
                text = re.sub(r"(?m)^http = 127\.0\.0\.1:0$", "http = 127.0.0.1:%d" % self.http_port,
                              f.read())
            with open(path, "w") as f:
                f.write(text)
        super().start()
        m = wait_until("%s's HTTP port in its log" % self.name, lambda: re.findall(
            r"HTTP API on 127\.0\.0\.1:(\d+)", self.log().split("---- start")[-1]))
        self.http_port = int(m[-1])

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers, body bytes) of one request."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def get_json(self, path, status=200):
        st, hd, body = self.request("GET", path)
        check(st == status, "GET %s: status %d, expected %d: %s" % (path, st, status, body[:300]))
        check(hd.get("Content-Type", "").startswith("application/json"),
              "GET %s: Content-Type %s" % (path, hd.get("Content-Type")))
        return json.loads(body)

    def post_wire(self, wire, ctype="application/msgpack"):
        st, _, body = self.request("POST", "/api/v1/events", body=wire,
                                   headers={"Content-Type": ctype})
        return st, json.loads(body) if body else {}


class Stream:
    """A live stream (SSE or ntfy JSON lines) read line by line, its
    chunked transfer coding taken off."""

    def __init__(self, node, path, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", node.http_port), timeout=30)
        req = "GET %s HTTP/1.1\r\nHost: x\r\n" % path
        for k, v in (headers or {}).items():
            req += "%s: %s\r\n" % (k, v)
        self.sock.sendall((req + "\r\n").encode())
        self.raw = b""
        self.body = b""
        head = self._raw_until(b"\r\n\r\n", time.monotonic() + 30)
        check(head.startswith(b"HTTP/1.1 200"), "stream %s: %r" % (path, head[:200]))
        check(b"chunked" in head.lower(), "stream %s is not chunked: %r" % (path, head))

    def _recv(self, deadline):
        if time.monotonic() > deadline:
            raise Failure("stream: nothing new in time")
        self.sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return
        if not d:
            raise Failure("stream closed")
        self.raw += d

    def _raw_until(self, sep, deadline):
        while sep not in self.raw:
            self._recv(deadline)
        i = self.raw.index(sep)
        out, self.raw = self.raw[:i], self.raw[i + len(sep):]
        return out

    def line(self, timeout=30):
        """The next line of the body."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.body:
            size = int(self._raw_until(b"\r\n", deadline).split(b";")[0], 16)
            if size == 0:
                raise Failure("stream ended")
            while len(self.raw) < size + 2:
                self._recv(deadline)
            self.body += self.raw[:size]
            self.raw = self.raw[size + 2:]
        i = self.body.index(b"\n")
        ln, self.body = self.body[:i], self.body[i + 1:]
        return ln.decode("utf-8", "replace")

    def sse_events(self, n, timeout=30):
        """The next n SSE events with data: [(id, data dict)]."""
        out, eid, deadline = [], None, time.monotonic() + timeout
        while len(out) < n:
            ln = self.line(max(0.5, deadline - time.monotonic()))
            if ln.startswith("id: "):
                eid = ln[4:]
            elif ln.startswith("data: "):
                out.append((eid, json.loads(ln[6:])))
        return out

    def close(self):
        self.sock.close()


def world_node(env, name="village", **conf):
    env.world(node=name, group=G)
    n = Node(env, name)
    n.configure(**conf)
    n.start()
    return n


def linked(env):
    """Node a with the world's certificates, node b linked to it."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    a, b = Node(env, "a"), Node(env, "b")
    a.configure()
    b.configure(peers=[a.addr()])
    a.start()
    b.start()
    wait_up(env, "b", 1)
    return a, b


def request_event(env, key, text, group=G):
    """A resident's public request, signed by the CLI into a bundle file."""
    out = env.path("ev-%d.bundle" % time.monotonic_ns())
    env.post("request", None, key, "--group", group, "--text", text, "--out", out)
    with open(out, "rb") as f:
        return f.read()


# --- the cases -------------------------------------------------------------------------

def t_api(env):
    v = world_node(env)
    st = v.get_json("/api/v1/status")
    check(st["name"] == "village" and st["state"] == "running", "status: %s" % st)

    # five requests, POSTed: 201 with id and cursor; again: 200 duplicate
    posted = []
    for i in range(5):
        wire = request_event(env, "res1.key", "第%d次求助：电动车被盗" % i)
        code, body = v.post_wire(wire)
        check(code == 201 and len(body.get("id", "")) == 64, "POST: %d %s" % (code, body))
        posted.append((body["id"], wire))
    code, body = v.post_wire(posted[0][1])
    check(code == 200 and body.get("duplicate") is True, "POST again: %d %s" % (code, body))

    # paging by cursor covers every event exactly once, in arrival order
    seen, after = [], 0
    for _ in range(20):
        page = v.get_json("/api/v1/events?kind=request&limit=2&after=%d" % after)
        seen += [e["id"] for e in page["events"]]
        check(all(e["cursor"] > after for e in page["events"]), "cursors go forward")
        after = page["next"]
        if not page["more"]:
            break
    check(seen == [p[0] for p in posted], "paging: %s" % seen)
    # newest=1: the newest (created_at, then cursor) of those after the
    # cursor come first, and next stays the cursor asked for
    cursor = {e["id"]: e["cursor"] for e in v.get_json("/api/v1/events?kind=request")["events"]}
    page = v.get_json("/api/v1/events?kind=request&limit=2&newest=1")
    check([e["id"] for e in page["events"]] == [posted[4][0], posted[3][0]] and page["more"] and page["next"] == 0,
          "newest=1: %s" % page)
    c3 = cursor[posted[3][0]]
    page = v.get_json("/api/v1/events?kind=request&newest=1&after=%d" % c3)
    check([e["id"] for e in page["events"]] == [posted[4][0]] and not page["more"] and page["next"] == c3,
          "newest=1 after a cursor: %s" % page)
    check(v.get_json("/api/v1/events?after=%d" % after)["events"] == [], "nothing after the last")
    check(v.get_json("/api/v1/events?group=other.group")["events"] == [], "group filter")
    allev = v.get_json("/api/v1/events?limit=500")["events"]
    check(any(e["kind"] == "cert" for e in allev), "certificates listed too")

    # one event, decoded and raw; an officer's bulletin carries the badge
    eid, wire = posted[2]
    one = v.get_json("/api/v1/events/" + eid)
    check(one["id"] == eid and one["content"]["text"].startswith("第2次"), "one event: %s" % one)
    st, hd, raw = v.request("GET", "/api/v1/events/%s/raw" % eid)
    check(st == 200 and raw == wire and hd["Content-Type"] == "application/msgpack", "raw bytes")
    # wire=1: the listing carries each event's bytes, the same as /raw; no "wire" without it
    listed = v.get_json("/api/v1/events?kind=request&limit=500&wire=1")["events"]
    check([(e["id"], base64.b64decode(e["wire"])) for e in listed] == posted, "wire=1: the listed bytes")
    check(all("wire" not in e for e in v.get_json("/api/v1/events?kind=request")["events"]), "wire without wire=1")
    bid = env.post("bulletin", "village", "officer.key", "--group", G, "--title", "防诈骗提醒",
                   "--text", "冒充公检法的电话都是诈骗。")
    b = wait_until("the bulletin in the API", lambda: v.request("GET", "/api/v1/events/" + bid)[0] == 200
                   and v.get_json("/api/v1/events/" + bid))
    check(b["official"] is True and b["official_name"] == "王警官", "badge: %s" % b)

    # search
    hits = v.get_json("/api/v1/search?q=" + quote("电动车"))["events"]
    check(len(hits) == 5, "search 电动车: %d hits" % len(hits))
    check(len(v.get_json("/api/v1/search?q=" + quote("诈骗"))["events"]) == 1, "search 诈骗")

    # 24 reads at once: three run, the others wait their turn; all answered
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        got = list(ex.map(lambda i: v.request("GET", "/api/v1/events?limit=500" if i % 2 else
                                               "/api/v1/search?q=" + quote("电动车")), range(24)))
    check(all(g[0] == 200 for g in got), "concurrent reads: %s" % [g[0] for g in got])
    check(all(len(json.loads(g[2])["events"]) >= 5 for g in got), "concurrent reads: short answers")

    # errors: status and {"error": ...}, and nothing lost
    for method, path, want in (("GET", "/api/v1/events/xyz", 400),
                               ("GET", "/api/v1/events/" + "ab" * 32, 404),
                               ("GET", "/no/such/page", 404),
                               ("GET", "/api/v1/events?limit=0", 400),
                               ("GET", "/api/v1/events?kind=nonsense", 400),
                               ("GET", "/api/v1/events?wire=2", 400),
                               ("GET", "/api/v1/events?newest=2", 400),
                               ("GET", "/api/v1/events?after=-1", 400),
                               ("GET", "/api/v1/search", 400),
                               ("GET", "/ntfy/Bad..Group/json", 400),
                               ("DELETE", "/api/v1/events", 405),
                               ("POST", "/api/v1/status", 405),
                               ("GET", "/../../etc/passwd", 404)):
        st, hd, body = v.request(method, path)
        check(st == want, "%s %s: %d, expected %d" % (method, path, st, want))
        check("error" in json.loads(body), "%s %s: no error text" % (method, path))
    code, body = v.post_wire(b"\x93\x01\x02\x03")
    check(code == 400 and "error" in body, "garbage POST: %d %s" % (code, body))
    code, body = v.post_wire(posted[0][1], ctype="text/plain")
    check(code == 415, "POST as text/plain: %d" % code)
    code, body = v.post_wire(b"")
    check(code == 400, "empty POST: %d" % code)
    # a resident's key signing an official bulletin: refused (403), not stored
    forged, fid = wmtest.event(wmtest.key_seed(env.path("res1.key")), 1, int(time.time() * 1000), G,
                               {"title": "官方通知", "text": "请把存款转到安全账户", "category": "notice"},
                               network=wmtest.network_id(env.path("net")))
    code, body = v.post_wire(forged)
    check(code == 403 and "error" in body, "forged bulletin: %d %s" % (code, body))
    check(v.request("GET", "/api/v1/events/" + fid)[0] == 404, "forged not stored")
    # oversized, announced and not announced
    st, _, body = v.request("POST", "/api/v1/events", body=b"\x00" * 70000,
                            headers={"Content-Type": "application/msgpack"})
    check(st == 413, "70000-byte POST: %d" % st)
    s = socket.create_connection(("127.0.0.1", v.http_port))
    s.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(20):
            s.sendall(b"1000\r\n" + b"\x00" * 4096 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    s.settimeout(10)
    resp = b""
    try:
        resp = s.recv(4096)
    except OSError:
        pass
    s.close()
    check(resp.startswith(b"HTTP/1.1 413"), "chunked oversized POST: %r" % resp[:60])
    after_all = [e["id"] for e in v.get_json("/api/v1/events?kind=request")["events"]]
    check(after_all == [p[0] for p in posted], "every good event kept")

    # metrics count what happened
    st, hd, m = v.request("GET", "/metrics")
    m = m.decode()
    check(st == 200 and hd["Content-Type"].startswith("text/plain"), "metrics")
    for want in ('watchmesh_http_requests_total{route="events",status="201"} 5',
                 'watchmesh_events_stored_total{origin="http"} 5',
                 'watchmesh_events_refused_total{origin="http",reason="WM_ENOTOFFICIAL"} 1',
                 'watchmesh_http_requests_total{route="events",status="413"} 2'):
        check(want in m, "metrics lack %s:\n%s" % (want, m))
    # the web app's place: a page, even when the app is not built
    st, hd, page = v.request("GET", "/")
    check(st == 200 and hd["Content-Type"].startswith("text/html"), "/: %d" % st)
    check(v.stop() == 0, "exit status")


def t_mesh(env):
    """POSTed at A, in B's listing and B's stream; B's stream resumes."""
    a, b = linked(env)
    wait_until("b to hold the certificates",
               lambda: any(e["kind"] == "cert" for e in b.get_json("/api/v1/events")["events"]))
    s_all = Stream(b, "/api/v1/stream")
    s_req = Stream(b, "/api/v1/stream?group=%s&kind=request" % G)
    first = b.get_json("/api/v1/events?limit=500")
    ids = []
    for i in range(3):
        code, body = a.post_wire(request_event(env, "res2.key", "求助 %d" % i))
        check(code == 201, "POST at a: %d %s" % (code, body))
        ids.append(body["id"])
    got = s_req.sse_events(3)
    check([d["id"] for _, d in got] == ids, "b's filtered stream: %s" % got)
    got_all = s_all.sse_events(3)
    check([d["id"] for _, d in got_all] == ids, "b's stream: %s" % got_all)
    listed = [e["id"] for e in b.get_json("/api/v1/events?after=%d" % first["next"])["events"]]
    check(listed == ids, "b's listing after the cursor: %s" % listed)
    # a stream that resumes from the first event's id gets the other two, once
    s_req.close()
    resumed = Stream(b, "/api/v1/stream?kind=request", headers={"Last-Event-ID": got[0][0]})
    again = resumed.sse_events(2)
    check([d["id"] for _, d in again] == ids[1:], "resumed: %s" % again)
    code, body = b.post_wire(request_event(env, "res2.key", "再次求助"))
    check(resumed.sse_events(1)[0][1]["id"] == body["id"], "the resumed stream goes on live")
    for s in (s_all, resumed):
        s.close()
    for d in (a, b):
        check(d.stop() == 0, "%s: exit status" % d.name)


def t_ntfy(env):
    """An alert posted at A reaches an ntfy subscriber of B; since= resumes."""
    a, b = linked(env)
    sub = Stream(b, "/ntfy/%s/json" % G)
    opened = json.loads(sub.line())
    check(opened["event"] == "open" and opened["topic"] == G, "open: %s" % opened)
    # the ntfy app takes no dot in a topic: '-' stands for '.', and the
    # messages name the topic as the phone typed it
    topic = G.replace(".", "-")
    check(json.loads(b.request("GET", "/ntfy/%s/auth" % topic)[2]) == {"success": True}, "auth")
    dashed = Stream(b, "/ntfy/%s/json" % topic)
    check(json.loads(dashed.line())["topic"] == topic, "open of the dashed topic")
    env.post("request", "a", "res1.key", "--group", G, "--text", "not an alert")
    aid = env.post("alert", "a", "officer.key", "--group", G, "--headline", "寻找走失老人",
                   "--text", "78岁男性，身穿蓝色外套。", "--area", "新华村", "--severity", "Extreme",
                   "--expires", "6h")
    while True:
        m = json.loads(sub.line(60))
        if m["event"] != "keepalive":
            break
    check(m["event"] == "message" and m["title"] == "寻找走失老人" and m["priority"] == 5,
          "ntfy message: %s" % m)
    check("新华村" in m["message"] and "official" in m["tags"] and m["topic"] == G, "message text: %s" % m)
    sub.close()
    while True:
        md = json.loads(dashed.line(60))
        if md["event"] != "keepalive":
            break
    check(md["event"] == "message" and md["topic"] == topic and md["id"] == m["id"],
          "the dashed topic's message: %s" % md)
    dashed.close()
    # poll=1: the cached alerts, then the end; since=<its id>: nothing more
    st, _, body = b.request("GET", "/ntfy/%s/json?poll=1" % G)
    msgs = [json.loads(ln) for ln in body.decode().splitlines() if ln]
    check([x["event"] for x in msgs] == ["open", "message"] and msgs[1]["id"] == m["id"],
          "poll: %s" % msgs)
    st, _, body = b.request("GET", "/ntfy/%s/json?poll=1&since=%s" % (G, m["id"]))
    check([json.loads(ln)["event"] for ln in body.decode().splitlines() if ln] == ["open"],
          "since=<id>: %s" % body)
    sse = Stream(b, "/ntfy/%s/sse?since=all" % G)
    evs = sse.sse_events(2)
    check(evs[1][1]["event"] == "message" and evs[1][1]["id"] == m["id"], "ntfy sse: %s" % evs)
    sse.close()

    # the same alert as CAP 1.2 through the API, valid against the OASIS schema
    st, hd, xml = b.request("GET", "/cap/alerts/%s.xml" % aid)
    check(st == 200 and hd["Content-Type"].startswith("application/cap+xml"), "CAP: %d %s" % (st, xml[:200]))
    check(aid.encode() in xml and "寻找走失老人".encode() in xml, "CAP content")
    if shutil.which("xmllint"):
        path = env.path("alert.xml")
        with open(path, "wb") as f:
            f.write(xml)
        p = subprocess.run(["xmllint", "--noout", "--schema",
                            os.path.join(sys.argv[3], "tests", "data", "cap12.xsd"), path],
                           capture_output=True)
        check(p.returncode == 0, "CAP from the API does not validate: %s" % p.stderr.decode())
    st, hd, atom = b.request("GET", "/cap/alerts.atom")
    check(st == 200 and hd["Content-Type"].startswith("application/atom+xml"), "Atom: %d" % st)
    check(("http://127.0.0.1:%d/cap/alerts/%s.xml" % (b.http_port, aid)).encode() in atom,
          "the Atom index links the alert: %s" % atom[:400])
    check(b.request("GET", "/cap/alerts/%s.xml" % ("ab" * 32))[0] == 404, "no such alert: 404")
    for d in (a, b):
        check(d.stop() == 0, "%s: exit status" % d.name)


def t_limits(env):
    """Slow clients, too many connections, too many requests: refused, and
    the node goes on serving everyone else."""
    v = world_node(env, http_per_ip=8, http_rate=5)
    # 8 connections that never finish their request hold this address's slots ...
    slow = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", v.http_port))
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    time.sleep(0.5)
    # ... so a 9th from it is turned away
    try:
        st = v.request("GET", "/api/v1/status", timeout=5)[0]
    except (OSError, http.client.HTTPException):
        st = None
    check(st != 200, "a 9th connection was served (%s)" % st)
    # one byte every 2 s does not keep a slot: all are closed within the deadline
    t0 = time.monotonic()
    for s in slow:
        s.settimeout(20)
    closed = 0
    for s in slow:
        try:
            while True:
                s.sendall(b"X")
                if not s.recv(1):
                    break
        except OSError:
            pass
        closed += 1
    took = time.monotonic() - t0
    check(closed == 8, "%d of 8 slow clients closed" % closed)
    print("http limits: 8 slow clients closed after %.1f s" % took)
    def serves():
        try:    # the slots free as libmicrohttpd closes the shut sockets: refused meanwhile
            return v.request("GET", "/api/v1/status", timeout=5)[0] == 200
        except (OSError, http.client.HTTPException):
            return False
    wait_until("the node to serve again", serves)
    # closed by the request deadline, not by anything else: the node counts
    # each connection it shut for a late request (no bound on the time here:
    # the count is what fails with the deadline off)
    m = v.request("GET", "/metrics")[2].decode()
    check("watchmesh_http_late_requests_total 8" in m, "late requests counted:\n%s" % m)
    # the request rate: a burst of 50 passes, then 429 with Retry-After
    codes = [v.request("GET", "/api/v1/status") for _ in range(80)]
    check(any(c[0] == 429 for c in codes), "no 429 in 80 quick requests")
    check(any(c[0] == 429 and c[1].get("Retry-After") for c in codes), "429 without Retry-After")
    time.sleep(2)
    check(v.request("GET", "/api/v1/status")[0] == 200, "served again after a pause")
    check(v.stop() == 0, "exit status")


def t_slowstream(env):
    """Streams whose clients never read cost a bounded buffer each, and
    the others still get every event."""
    v = world_node(env)
    lazy = []
    for _ in range(20):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", v.http_port))
        s.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        lazy.append(s)
    live = Stream(v, "/api/v1/stream?kind=request")
    time.sleep(0.5)
    before = rss_kib(v.proc.pid)
    text = "长" * 5000    # 15 KB of text per event
    wires = [request_event(env, "res%d.key" % (1 + i % 2), "%d %s" % (i, text)) for i in range(150)]
    ids = []
    for w in wires:
        code, body = v.post_wire(w)
        check(code == 201, "POST: %d %s" % (code, body))
        ids.append(body["id"])
    got = [d["id"] for _, d in live.sse_events(150, timeout=60)]
    check(got == ids, "the reading client got %d of 150 events, in order: %s" % (len(got), got == ids[:len(got)]))
    grown = rss_kib(v.proc.pid) - before
    if os.environ.get("WATCHMESH_TEST_SANITIZED") != "1":
        check(grown < 48 * 1024, "20 clients that do not read grew the node by %d KiB" % grown)
    print("http slowstream: 20 clients not reading, 150 events of 15 KB: RSS grew %d KiB" % grown)
    for s in lazy:
        s.close()
    live.close()
    check(v.request("GET", "/api/v1/status")[0] == 200, "still serving")
    check(v.stop() == 0, "exit status")


def t_status_certs(env):
    """The certificates of DIR's keys that end within 30 days, of which
    `watchmesh status` warns, are in status.json and /api/v1/status too:
    the same entries, and none while no certificate ends soon."""
    v = world_node(env, "v")
    check(v.get_json("/api/v1/status").get("certificates_ending") == [],
          "certificates_ending with none issued: %s" % v.get_json("/api/v1/status"))
    node_pub = env.run("key", "show", env.path("v", "node.key"))[0].strip()
    env.key("v/duty.key")
    for subject, role, name, days in ((node_pub, "node", "村委会节点", "5"), ("v/duty.key", "officer", "赵警官", "29"),
                                      ("v/duty.key", "officer", "赵警官", "20")):
        env.run("cert", "issue", "--issuer", "station.key", "--passphrase-file", env.passfile, "--subject", subject,
                "--role", role, "--name", name, "--groups", G, "--days", days, "--dir", "v")
    # the daemon reads them again once a minute; a restart reads them at once
    v.stop()
    v.start()
    api = v.get_json("/api/v1/status")["certificates_ending"]
    with open(env.path("v", "status.json")) as f:
        written = json.load(f)["certificates_ending"]
    cli = json.loads(env.run("status", "--dir", "v", "--json")[0])["certificates_ending"]
    check(len(api) == 2 and {w["name"]: w["days_left"] for w in api} == {"村委会节点": 5, "赵警官": 29} and
          [w["key"] for w in api if w["role"] == "node"] == [node_pub], "/api/v1/status: %s" % api)
    check(written == api and cli == api, "status.json %s and `status --json` %s differ from /api/v1/status %s"
          % (written, cli, api))
    check(v.stop() == 0, "exit status")


def t_appcache(env):
    """The web app's files carry a validator: a later visit that still holds
    a file gets 304 and no body, so a resident's phone fetches the app again
    only after the node's app changed."""
    web = env.path("web")
    os.makedirs(web)
    with open(os.path.join(web, "app.js"), "w") as f:
        f.write("// first build\n" * 100)
    v = world_node(env, "v", web_dir=web)
    st, hd, body = v.request("GET", "/app.js")
    tag = hd.get("ETag", "")
    check(st == 200 and body.startswith(b"// first build") and tag.startswith('"') and
          hd.get("Cache-Control") == "no-cache", "first fetch: %d %s" % (st, hd))
    for inm in (tag, "W/" + tag, '"other", ' + tag, "*"):
        st, hd, body = v.request("GET", "/app.js", headers={"If-None-Match": inm})
        check(st == 304 and body == b"" and hd.get("ETag") == tag,
              "If-None-Match %s: %d, %d bytes" % (inm, st, len(body)))
    st, _, body = v.request("GET", "/app.js", headers={"If-None-Match": '"other"'})
    check(st == 200 and len(body) == 1500, "another tag: %d, %d bytes" % (st, len(body)))
    # a new build: the old tag no longer matches, the new file comes whole
    with open(os.path.join(web, "app.js"), "w") as f:
        f.write("// second build\n" * 100)
    st, hd, body = v.request("GET", "/app.js", headers={"If-None-Match": tag})
    check(st == 200 and body.startswith(b"// second build") and hd.get("ETag") not in ("", tag),
          "after a new build: %d, ETag %s" % (st, hd.get("ETag")))
    # the API's answers are never cached by tag
    st, hd, _ = v.request("GET", "/api/v1/status")
    check(st == 200 and "ETag" not in hd, "status carries %s" % hd.get("ETag"))
    check(v.stop() == 0, "exit status")


TESTS = {"api": t_api, "mesh": t_mesh, "ntfy": t_ntfy, "limits": t_limits, "slowstream": t_slowstream,
         "status_certs": t_status_certs, "appcache": t_appcache}

if __name__ == "__main__":
    sys.exit(run_cases(TESTS, "http", "SRC"))
