"""
Browser tests of the web app (node/web): a real `watchmesh run` daemon
serves the built app and its API on 127.0.0.1, and drive.mjs drives Debian's
headless Chromium through playwright-core against it, on a 360-pixel-wide
screen.  Screenshots are kept in OUTDIR.

    usage: test_browser.py WATCHMESH CASE SOURCE_ROOT WEB_DIR OUTDIR
    cases: feed liar post revoked offline queue https backup install flow sync
           recache

feed: the community picked from the certificates, the alert pinned with its
      colour, time left, area and photo, badges, a reply under its request,
      network text shown as text, an alert arriving live, an officer
      certified after the page opened posting with his badge, search.
liar: a proxy in front of the node marks every event official and slips in
      a resident's bulletin, a station certificate signed by a resident, an
      event with a bad signature and a resident's "update" of the officer's
      alert: the page gives no badge, drops the forgery, and keeps the
      officer's alert pinned.
post: opened without the station's link (the root pinned on first use),
      the page makes a key, signs two help requests and the node takes
      them (201); the second chains to the first; a third holding a phone
      number goes only once confirmed; "I can help" on the
      alert is signed, taken and counted; a lead in reply shown under it.
revoked: an officer's key revoked while the page is open, keeping what
      arrived before the theft: his later alert leaves the page (hidden, as
      the node hides it), his kept bulletin and alert keep their badges;
      then the page in English, remembered across a reload.
offline: the node stopped, the page opens again from its service worker
      and shows the feed it read, checked as before.
https: two meshed nodes, B serving HTTPS with a certificate from the
      network's TLS authority, trusted by the browser: the page on B shows
      an alert posted on A, pinned with its badge, its worker running.
backup: the key shown for the station (QR code, hex), backed up as a file
      and a printed QR code, restored on two fresh phones from each.
install: meson install puts the app where web_dir's default says, and a
      node serves the installed copy.
queue: the node stopped, a request written in the page waits in its
      outbox (shown so, across a reload); the node started again, it goes.
flow: two meshed nodes over HTTPS, a resident's page on A and an officer's
      on B: a sealed request opened, answered and referred; an alert from
      the CLI pinned on both pages with a notification; its update shown
      once; answers to it gone when it expires (flow.mjs).
sync: 3,000 requests: the first cards and a progress line shown before the
      first sync ends; 100 cards drawn, 100 more when "show older" scrolls
      into view; a later visit reads only the five posted meanwhile.
recache: a revocation and a retraction that reach the node after the page
      kept the events: the next visit, reading only what is new, hides the
      thief's alert, keeps the kept posts' badges, withdraws the request.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib

import msgpack
import nacl.signing
from cryptography import x509
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import wmtest  # noqa: E402
from wmtest import Failure, check  # noqa: E402
from test_mesh import G, free_port, run_cases, wait_up, wait_until  # noqa: E402
from test_http import Node, world_node  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SRC = WEB_DIR = OUTDIR = None     # from the command line


def png(w, h, rgb):
    """A plain w x h PNG of one colour."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def root_hex(env):
    with open(env.path("net")) as f:
        for ln in f:
            if ln.startswith("root "):
                return ln.split()[1]
    raise Failure("no root line in the network file")


def community(env):
    """The node with a day of posts: a bulletin, an alert with a photo, a
    resident's request and the officer's reply, a request whose text is
    HTML."""
    v = world_node(env, web_dir=WEB_DIR)
    with open(env.path("red.png"), "wb") as f:
        f.write(png(40, 30, (200, 30, 30)))
    env.post("bulletin", "village", "officer.key", "--group", G, "--category", "fraud",
             "--title", "警惕冒充公检法诈骗", "--text", "公检法机关不会通过电话要求转账。")
    env.post("alert", "village", "officer.key", "--group", G, "--headline", "寻找走失老人 刘大爷",
             "--text", "七十八岁，穿蓝色外套。", "--area", "新华村", "--photo", "red.png", "--expires", "6h")
    req = env.post("request", "village", "res1.key", "--group", G, "--text", "楼下有人撬车门，请派人看看")
    env.post("reply", "village", "officer.key", "--group", G, "--reply-to", req, "--text", "收到，已派人")
    env.post("request", "village", "res2.key", "--group", G, "--topic", "other",
             "--text", '<img src=x onerror="window.pwned=1">')
    return v


def drive(env, case, url, actions=None, extra_env=None, script="drive.mjs"):
    """Run SCRIPT (drive.mjs) CASE against url (with extra_env added to its
    environment); at each "wait: WHAT" call actions[WHAT]() and say go.
    Failure with its output if it failed."""
    node = shutil.which("node")
    p = subprocess.Popen([node, os.path.join(HERE, script), case, url, OUTDIR],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, cwd=env.dir, env=dict(os.environ, **(extra_env or {})))
    out = []
    try:
        for ln in p.stdout:
            out.append(ln)
            if ln.startswith("wait: "):
                (actions or {})[ln[6:].strip()]()
                p.stdin.write("go\n")
                p.stdin.flush()
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    env.log.append("$ node %s %s %s\n%s" % (script, case, url, "".join(out)))
    check(p.returncode == 0 and out and out[-1].strip() == "ok",
          "browser case %s failed (exit %s):\n%s" % (case, p.returncode, "".join(out)))


def page_url(port, env):
    return "http://127.0.0.1:%d/#root=%s" % (port, root_hex(env))


def t_feed(env):
    v = community(env)

    def live_alert():
        env.post("alert", "village", "officer.key", "--group", G, "--headline", "山火预警",
                 "--text", "后山起火，请勿上山。", "--area", "后山", "--severity", "Extreme", "--expires", "3h")

    def new_officer():
        # signed off the node and sent through the API, as an officer's
        # laptop would
        env.key("zhao.key", encrypted=True)
        out = env.path("zhao.bundle")
        env.cert("station.key", "zhao.key", "officer", "赵警官", G, out=out)
        env.post("bulletin", None, "zhao.key", "--group", G, "--category", "safety",
                 "--title", "巡逻时间调整", "--text", "本周起夜间巡逻改为晚上九点开始。", "--out", out)
        for wire in wmtest.read_bundle(out):
            st, answer = v.post_wire(wire)
            check(st == 201, "POST of the new officer's events: %d %r" % (st, answer))

    drive(env, "feed", page_url(v.http_port, env), {"an alert posted while the page is open": live_alert,
                                                    "a new officer and his bulletin": new_officer})


class Liar(http.server.ThreadingHTTPServer):
    """A node that lies: forwards to the real one, says official: true for
    every event, and adds forged events to the first page of a listing."""

    def __init__(self, upstream, forged):
        super().__init__(("127.0.0.1", 0), LiarHandler)
        self.upstream = upstream
        self.forged = forged          # group -> [(id, wire)]
        self.raw = {i: w for evs in forged.values() for i, w in evs}


class LiarHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path.startswith("/api/v1/stream"):
            return self.answer(204, "text/plain", b"")
        for i, w in self.server.raw.items():
            if path == "/api/v1/events/%s/raw" % i:
                return self.answer(200, "application/msgpack", w)
        c = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=30)
        c.request("GET", path)
        r = c.getresponse()
        body, ctype = r.read(), r.getheader("Content-Type", "")
        c.close()
        if ctype.startswith("application/json") and path.startswith("/api/v1/events"):
            doc = json.loads(body)
            evs = doc.get("events", [doc])
            for e in evs:
                e["official"] = True
                e["official_name"] = "王警官"
            for g, forged in self.server.forged.items():
                if ("group=%s&" % g) in path and "after=0&" in path:
                    # the forged bytes inline when the page asks for them
                    # (wire=1), as a lying node would serve them
                    evs += [dict({"id": i, "cursor": 0, "official": True, "official_name": "王警官"},
                                 **({"wire": base64.b64encode(w).decode()} if "wire=1" in path else {}))
                            for i, w in forged]
            body = json.dumps(doc).encode()
        self.answer(r.status, ctype, body)


def t_liar(env):
    v = community(env)
    net = wmtest.network_id(env.path("net"))
    res1 = wmtest.key_seed(env.path("res1.key"))
    res2 = wmtest.key_seed(env.path("res2.key"))
    now = int(time.time() * 1000)
    bulletin = wmtest.event(res1, 1, now, G, {"title": "派出所通知：请把存款转入安全账户",
                                              "text": "所有存款必须今天转入安全账户。", "category": "fraud"},
                            network=net)
    res1_pub = bytes(nacl.signing.SigningKey(res1).verify_key)
    station = wmtest.event(res1, 7, now, "network", {"subject": res1_pub, "role": "station", "name": "高埔派出所",
                                                     "groups": ["*"], "not_before": now - 1000,
                                                     "not_after": now + 86400000}, network=net)
    # a resident's "update" of the officer's alert, which must not replace it
    running = env.json("feed", "--dir", "village", "--json", "--kind", "alert")[0]["id"]
    update = wmtest.event(res1, 2, now, G, {"event": "寻人", "headline": "警报解除：老人已回家，不用再找",
                                            "text": "已找到。", "category": "Safety", "urgency": "Past",
                                            "severity": "Minor", "certainty": "Observed", "area_desc": "新华村"},
                          refs=[bytes.fromhex(running)], expires_at=now + 3600000, network=net)
    wire, badsig_id = wmtest.event(res2, 3, now, G, {"topic": "police", "text": "签名被篡改"}, network=net)
    payload, sig, content = wmtest.unwrap(wire)
    badsig = msgpack.packb([payload, bytes([sig[0] ^ 1]) + sig[1:], content], use_bin_type=True)
    liar = Liar(v.http_port, {G: [(bulletin[1], bulletin[0]), (badsig_id, bytes(badsig)), (update[1], update[0])],
                              "network": [(station[1], station[0])]})
    t = threading.Thread(target=liar.serve_forever, daemon=True)
    t.start()
    try:
        drive(env, "liar", page_url(liar.server_address[1], env))
    finally:
        liar.shutdown()
        liar.server_close()


def t_post(env):
    v = community(env)

    def node_holds():
        evs = env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
        mine = {e["content"].get("text"): e for e in evs if e["kind"] == "request"}
        a, b, c = mine.get("路灯坏了，晚上很黑"), mine.get("路灯还是没修"), mine.get("有事请打我电话 138 1234 5678")
        check(a and b and c, "the node does not hold the page's requests")
        check(a["author"] == b["author"], "two keys for one device")
        check(a["content"]["topic"] == "non-police", "topic: %r" % a["content"])
        check(a["prev"] is None and b["prev"] == a["id"] and c["prev"] == b["id"],
              "the chain: %r -> %r -> %r" % (a["prev"], b["prev"], c["prev"]))
        alert = [e for e in evs if e["kind"] == "alert"][0]
        acks = [e for e in evs if e["kind"] == "ack"]
        check(len(acks) == 1 and acks[0]["author"] == a["author"] and acks[0]["refs"] == [alert["id"]] and
              acks[0]["content"] == {"what": "helping"} and acks[0]["prev"] == c["id"], "the ack: %r" % acks)
        leads = [e for e in evs if e["kind"] == "reply" and e["author"] == a["author"]]
        check(len(leads) == 1 and leads[0]["refs"] == [alert["id"]] and leads[0]["prev"] == acks[0]["id"] and
              leads[0]["content"] == {"text": "我在村口看到一位穿蓝色外套的老人"}, "the reply: %r" % leads)

    # opened without the station's link: the root is the one key that
    # signed the node's station certificates
    drive(env, "post", "http://127.0.0.1:%d/" % v.http_port,
          {"the node holds the requests, the ack and the reply": node_holds})


def t_revoked(env):
    v = community(env)
    env.key("zhao.key", encrypted=True)
    env.cert("station.key", "zhao.key", "officer", "赵警官", G, node="village")
    kept = [env.post("bulletin", "village", "zhao.key", "--group", G, "--category", "notice",
                     "--title", "明天上午停水", "--text", "新华村明天上午停水检修。"),
            env.post("alert", "village", "zhao.key", "--group", G, "--headline", "水管抢修",
                     "--text", "村东水管破裂，正在抢修。", "--area", "村东", "--expires", "6h")]
    time.sleep(0.05)
    since = int(time.time() * 1000)
    time.sleep(0.05)
    # what the thief posted after the key was taken
    later = env.post("alert", "village", "zhao.key", "--group", G, "--headline", "紧急：所有人到村委会集合",
                     "--text", "带上存折和身份证。", "--area", "村委会", "--expires", "6h")

    def revoke():
        # keep filled from the node's store: what arrived before the theft
        env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
                "--subject", "zhao.key", "--reason", "密钥被盗", "--compromised-since", str(since),
                "--dir", "village", "--yes")
        # the node's verdicts, which the page must reach on its own
        for i in kept:
            shown = env.json("show", i, "--dir", "village", "--json")
            check(shown.get("official") is True, "the node no longer holds a kept post official: %r" % shown)
        ids = [e["id"] for e in env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")]
        check(later not in ids, "the node still shows the alert posted after the theft")

    drive(env, "revoked", page_url(v.http_port, env), {"the officer's key revoked": revoke})


def t_sync(env):
    """3,000 public requests of res1 in G, a chain, imported before the node
    starts; five more posted while the page is closed (drive.mjs sync)."""
    env.world(node="village", group=G)
    net = wmtest.network_id(env.path("net"))
    res1 = wmtest.key_seed(env.path("res1.key"))
    t0 = int(time.time() * 1000) - 3600 * 1000
    wires, prev = [], b""
    for i in range(3000):
        wire, eid = wmtest.event(res1, 3, t0 + i * 1000, G, {"topic": "other", "text": "第 %d 条消息" % (i + 1)},
                                 prev=prev, network=net)
        wires.append(wire)
        prev = bytes.fromhex(eid)
    with open(env.path("many.wmb"), "wb") as f:
        f.write(b"".join(wires))
    env.run("import", "--dir", "village", "many.wmb")
    v = Node(env, "village")
    v.configure(web_dir=WEB_DIR)
    v.start()

    def five():
        for i in range(5):
            env.post("request", "village", "res2.key", "--group", G, "--topic", "other",
                     "--text", "第 %d 条新消息" % (i + 1))

    drive(env, "sync", page_url(v.http_port, env), {"five new requests": five})


def t_recache(env):
    """The revoked case, with the revocation (and a retraction) reaching the
    node while the page is closed, after the device kept the events; and an
    alert of one hour, which the device lets go two hours later."""
    v = community(env)
    env.key("zhao.key", encrypted=True)
    env.cert("station.key", "zhao.key", "officer", "赵警官", G, node="village")
    for kind, args in (("bulletin", ["--category", "notice", "--title", "明天上午停水", "--text", "新华村明天上午停水检修。"]),
                       ("alert", ["--headline", "水管抢修", "--text", "村东水管破裂，正在抢修。", "--area", "村东",
                                  "--expires", "6h"])):
        env.post(kind, "village", "zhao.key", "--group", G, *args)
    time.sleep(0.05)
    since = int(time.time() * 1000)
    time.sleep(0.05)
    env.post("alert", "village", "zhao.key", "--group", G, "--headline", "紧急：所有人到村委会集合",
             "--text", "带上存折和身份证。", "--area", "村委会", "--expires", "6h")
    env.post("alert", "village", "officer.key", "--group", G, "--headline", "一小时的提醒",
             "--text", "村口修路，一小时内绕行。", "--area", "村口", "--expires", "1h")

    def revoke_retract():
        env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
                "--subject", "zhao.key", "--reason", "密钥被盗", "--compromised-since", str(since),
                "--dir", "village", "--yes")
        req = [e["id"] for e in env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
               if e["kind"] == "request" and e["content"].get("text", "").startswith("楼下有人撬车门")]
        check(len(req) == 1, "the request to retract: %r" % req)
        env.post("retract", "village", "res1.key", "--group", G, "--ref", req[0])

    drive(env, "recache", page_url(v.http_port, env), {"the officer's key revoked, a request retracted": revoke_retract})


def t_offline(env):
    v = community(env)
    drive(env, "offline", page_url(v.http_port, env), {"the node stopped": lambda: check(v.stop() == 0, "stop")})


def t_queue(env):
    v = community(env)

    def node_holds():
        evs = env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
        check(any(e["kind"] == "request" and e["content"].get("text") == "停电了，村里的路灯都不亮" for e in evs),
              "the node does not hold the queued request")

    drive(env, "queue", page_url(v.http_port, env), {"the node stopped": lambda: check(v.stop() == 0, "stop"),
                                                     "the node started again": v.start,
                                                     "the node holds the queued request": node_holds})


def t_backup(env):
    v = community(env)
    drive(env, "backup", page_url(v.http_port, env))


def spki_sha256(pem_path):
    """Base64 SHA-256 of a certificate's public key (Chromium's
    --ignore-certificate-errors-spki-list)."""
    with open(pem_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def t_https(env):
    """Two meshed nodes; B serves the app over HTTPS with a certificate from
    the network's TLS authority, which the browser trusts (its public key
    pinned); the page on B sees an alert posted on A."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    env.run("tls", "issue", "--ca", "net.tls-ca.crt", "--ca-key", "net.tls-ca.key", "--dir", "b",
            "--passphrase-file", env.passfile, "--address", "127.0.0.1")
    port = free_port()
    a, b = Node(env, "a"), Node(env, "b")
    a.configure()
    b.configure(peers=[a.addr()], https="127.0.0.1:%d" % port, web_dir=WEB_DIR)
    a.start()
    b.start()
    wait_up(env, "b", 1)
    wait_until("B to serve HTTPS", lambda: "HTTPS on 127.0.0.1:%d" % port in b.log())

    def alert_on_a():
        env.post("alert", "a", "officer.key", "--group", G, "--headline", "暴雨红色预警",
                 "--text", "今晚有特大暴雨，请勿外出。", "--area", "全村", "--severity", "Extreme", "--expires", "3h")

    drive(env, "https", "https://127.0.0.1:%d/#root=%s" % (port, root_hex(env)),
          {"an alert posted on node A": alert_on_a},
          extra_env={"WATCHMESH_CA_SPKI": spki_sha256(env.path("net.tls-ca.crt"))})


def t_flow(env):
    """Issue 10 item 7's flow on two meshed nodes, both serving HTTPS with
    certificates from the network's TLS authority: a resident's page on A
    sends a sealed request; an officer's page on B opens it, replies and
    refers it; the resident's page shows the reply and the status; an alert
    from the CLI at A shows pinned on both pages and raises a notification;
    its update shows once; answers to it go when it expires, but for the
    one with an expiry of its own (flow.mjs)."""
    env.world(node="a", group=G)
    env.run("init", "b", "--network", "net", "--name", "b")
    office = env.key("office.key")
    with open(env.path("office.pub"), "w") as f:
        f.write(office + "\n")
    ports = {}
    for n in ("a", "b"):
        env.run("tls", "issue", "--ca", "net.tls-ca.crt", "--ca-key", "net.tls-ca.key", "--dir", n,
                "--passphrase-file", env.passfile, "--address", "127.0.0.1")
        ports[n] = free_port()
    a, b = Node(env, "a"), Node(env, "b")
    a.configure(https="127.0.0.1:%d" % ports["a"], web_dir=WEB_DIR)
    b.configure(peers=[a.addr()], https="127.0.0.1:%d" % ports["b"], web_dir=WEB_DIR)
    a.start()
    b.start()
    wait_up(env, "b", 1)
    for n, node in (("a", a), ("b", b)):
        wait_until("%s to serve HTTPS" % n, lambda: "HTTPS on 127.0.0.1:%d" % ports[n] in node.log())
    alert = {}

    def alert_at_a():
        alert["id"] = env.post("alert", "a", "officer.key", "--group", G, "--headline", "寻找走失老人 刘大爷",
                               "--text", "七十八岁，穿蓝色外套，下午在菜市场附近走失。", "--area", "新华村",
                               "--severity", "Severe", "--expires", "3h")

    def update_and_answers():
        env.post("reply", "a", "res2.key", "--group", G, "--reply-to", alert["id"],
                 "--text", "刚才在菜市场门口见过一位穿蓝外套的老人")
        env.post("alert", "a", "officer.key", "--update", alert["id"], "--headline", "刘大爷已找到，感谢大家",
                 "--expires", "2h")
        env.post("reply", "a", "res2.key", "--group", G, "--reply-to", alert["id"],
                 "--text", "太好了，下次社区活动见", "--expires", "1d")

    root = root_hex(env)
    drive(env, "flow", "https://127.0.0.1:%d/#root=%s" % (ports["a"], root),
          {"an alert posted at A": alert_at_a, "its update and two replies": update_and_answers},
          extra_env={"WATCHMESH_CA_SPKI": spki_sha256(env.path("net.tls-ca.crt")),
                     "WATCHMESH_URL_B": "https://127.0.0.1:%d/#root=%s" % (ports["b"], root)},
          script="flow.mjs")


APP = ["app.js", "index.html", "app.css", "sw.js", "manifest.webmanifest", "icon.svg"]


def t_install(env):
    """meson install puts the built app in PREFIX/share/watchmesh/web, which
    is web_dir's default in a new node's watchmesh.conf; a node given the
    installed copy serves it at /."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(WEB_DIR)))
    dest = env.path("dest")
    p = subprocess.run([shutil.which("meson") or "meson", "install", "-C", build, "--no-rebuild", "--quiet",
                        "--destdir", dest], capture_output=True, timeout=120)
    check(p.returncode == 0, "meson install: %s" % p.stderr.decode(errors="replace"))
    webs = [d for d, _, fs in os.walk(dest) if d.endswith(os.path.join("share", "watchmesh", "web"))]
    check(len(webs) == 1, "no share/watchmesh/web installed under %s" % dest)
    installed = sorted(os.listdir(webs[0]))
    check(sorted(APP) == installed, "installed app: %r" % installed)
    v = world_node(env)
    with open(env.path("village", "watchmesh.conf")) as f:
        default = [ln.split("=", 1)[1].strip() for ln in f if ln.startswith("web_dir")]
    check(default and os.path.join(dest, default[0].lstrip("/")) == webs[0],
          "web_dir's default %r is not where the app is installed (%s)" % (default, webs[0]))
    v.stop()
    v.configure(web_dir=webs[0])
    v.start()
    st, _, body = v.request("GET", "/")
    check(st == 200 and b'src="app.js"' in body, "/ from the installed app: %d %r" % (st, body[:200]))


TESTS = {"feed": t_feed, "liar": t_liar, "post": t_post, "revoked": t_revoked, "offline": t_offline,
         "queue": t_queue, "install": t_install, "https": t_https, "backup": t_backup,
         "flow": t_flow, "sync": t_sync, "recache": t_recache}


def skip_reason():
    if not os.path.exists(CHROMIUM):
        return "chromium not installed (apt-get install chromium)"
    if not shutil.which("node"):
        return "node (Node.js) not found"
    if not os.path.isfile(os.path.join(SRC, "node", "web", "node_modules", "playwright-core", "package.json")):
        return "playwright-core not installed; run: npm ci --prefix node/web"
    if not os.path.isfile(os.path.join(WEB_DIR, "app.js")):
        return "the web app was not built (see node/web/README.md)"
    return None


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[2] in TESTS:
        SRC, WEB_DIR, OUTDIR = sys.argv[3:6]
        why = skip_reason()
        if why:
            print("SKIP: " + why)
            sys.exit(77)
        os.makedirs(OUTDIR, exist_ok=True)
    sys.exit(run_cases(TESTS, "browser", "SRC WEB_DIR OUTDIR"))
