#!/usr/bin/python3
"""
Alerts as CAP 1.2 (issue 9 item 7):  test_cap.py WATCHMESH cap CAP_DUMP SOURCE_ROOT

A network and a node made with the CLI; alerts of every shape posted: with
an area circle, a photo, an instruction and a contact; without a circle;
an update of the first; one retracted; one in another group that points at
the first (not an update of it); hostile text with < & ]]> quotes, tab and
newline, and U+FFFE / U+FFFF (the content rules let those two through; XML
cannot hold them); the officer's certificate name given an ESC, as a name
stored before the rule would carry it.  cap_dump writes what the HTTP routes
serve; EVERY document is validated with xmllint against the OASIS CAP 1.2
schema (tests/data/cap12.xsd, the standard's own schema, copied with its
copyright line), and the fields are checked.  There is no Atom schema at
hand: the feed is checked well-formed by xmllint and for RFC 4287's required
elements here.
"""
import base64
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wmtest  # noqa: E402
from wmtest import check  # noqa: E402

G = "gaobu.xinhua"
G2 = "gaobu.market"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "http://127.0.0.1:8080"


def t_cap(env):
    dump, root = sys.argv[3], sys.argv[4]
    schema = os.path.join(root, "tests", "data", "cap12.xsd")
    if shutil.which("xmllint") is None:
        print("skipped: no xmllint to validate with (Debian: apt-get install libxml2-utils)")
        return 77
    env.world("v")
    net = wmtest.network_id(env.path("net")).hex()

    def alert(*args, key="officer.key", group=G):
        return env.post("alert", "v", key, "--group", group, *args)

    with open(env.path("tiny.png"), "wb") as f:
        f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                              "1f15c4890000000b4944415478da636000020000050001e9fadcd80000000049454e44ae426082"))
    full = alert("--headline", "寻找走失老人", "--text", "78岁男性，身穿蓝色外套。", "--area", "新华村",
                 "--circle", "-33.856784,151.215297,1500", "--photo", "tiny.png", "--instruction", "见到请报警",
                 "--contact", "110", "--event", "走失", "--category", "Rescue", "--urgency", "Expected",
                 "--severity", "Moderate", "--certainty", "Likely", "--expires", "6h")
    plain = alert("--headline", "Storm", "--text", "Wind", "--area", "East bank", "--lang", "en")
    update = alert("--headline", "寻找走失老人（更新）", "--text", "已在菜市场附近。", "--area", "新华村",
                   "--ref", full)
    gone = alert("--headline", "Mistake", "--text", "posted by mistake", "--area", "Nowhere")
    retract = env.post("retract", "v", "officer.key", "--group", G, "--ref", gone,
                       "--reason", "wrong <village> & \"time\"")
    other = alert("--headline", "Other group", "--text", "x", "--area", "Market", "--ref", full,
                  "--new-group", key="station.key", group=G2)
    hostile_text = "a < b && c > d ]]> \"q\" 'a'\ttab\nline two \ufffe\uffff end"
    hostile = alert("--headline", "<script>alert(1)</script> ]]> &amp;", "--text", hostile_text,
                    "--area", "A & B", "--lang", "zh-Hant-TW")
    # the officer's name as a certificate stored before the content rules
    officer = bytes.fromhex(env.run("key", "show", "officer.key")[0].strip())
    db = sqlite3.connect(env.path("v", "store.db"))
    db.execute("UPDATE certs SET name = ? WHERE subject = ?", ("王警官\x1b[2J", officer))
    db.commit()
    db.close()

    os.mkdir(env.path("cap"))
    p = subprocess.run([dump, env.path("v"), env.path("cap")], capture_output=True, text=True)
    env.log.append("$ cap_dump\n[exit %d]\n%s%s" % (p.returncode, p.stdout, p.stderr))
    check(p.returncode == 0, "cap_dump failed:\n" + p.stdout + p.stderr)
    alerts = [full, plain, update, gone, other, hostile]
    files = sorted(os.listdir(env.path("cap")))
    check(files == sorted([a + ".xml" for a in alerts] + ["alerts.atom"]), "files written: %r" % files)

    for a in alerts:
        p = subprocess.run(["xmllint", "--noout", "--schema", schema, env.path("cap", a + ".xml")],
                           capture_output=True, text=True)
        env.log.append("$ xmllint %s.xml\n[exit %d]\n%s" % (a[:8], p.returncode, p.stderr))
        check(p.returncode == 0, "CAP of %s does not validate:\n%s" % (a[:8], p.stderr))
    p = subprocess.run(["xmllint", "--noout", env.path("cap", "alerts.atom")], capture_output=True, text=True)
    check(p.returncode == 0, "the Atom index is not well-formed:\n" + p.stderr)

    def cap(a):
        return ET.parse(env.path("cap", a + ".xml")).getroot()

    def text(el, path):
        e = el.find(path.replace("c:", CAP))
        return None if e is None else e.text

    officer_sender = officer.hex() + "@" + net
    # the full alert: every field where CAP puts it
    c = cap(full)
    check(text(c, "c:identifier") == full and text(c, "c:sender") == officer_sender, "identifier/sender")
    check(text(c, "c:msgType") == "Alert" and text(c, "c:status") == "Actual" and
          text(c, "c:scope") == "Public" and c.find(CAP + "references") is None, "head of the alert")
    check(text(c, "c:sent").endswith("-00:00") and len(text(c, "c:sent")) == 25, "sent: " + text(c, "c:sent"))
    i = c.find(CAP + "info")
    want = {"language": "zh", "category": "Rescue", "event": "走失", "urgency": "Expected",
            "severity": "Moderate", "certainty": "Likely", "headline": "寻找走失老人",
            "description": "78岁男性，身穿蓝色外套。", "instruction": "见到请报警", "contact": "110",
            "web": BASE + "/api/v1/events/" + full}
    for k, v in want.items():
        check(text(i, "c:" + k) == v, "info/%s: %r" % (k, text(i, "c:" + k)))
    check(text(i, "c:area/c:areaDesc") == "新华村" and
          text(i, "c:area/c:circle") == "-33.856784,151.215297 1.500", "area: %r" % text(i, "c:area/c:circle"))
    photo = base64.b64decode(text(i, "c:resource/c:derefUri"))
    check(text(i, "c:resource/c:mimeType") == "image/png" and photo.startswith(b"\x89PNG") and
          text(i, "c:resource/c:size") == str(len(photo)), "resource")
    # the name with ESC: replaced, and the note says so
    check(text(i, "c:senderName") == "王警官\ufffd[2J, 高埔派出所", "senderName: %r" % text(i, "c:senderName"))
    check("1 character(s)" in (text(c, "c:note") or ""), "note on the replaced ESC: %r" % text(c, "c:note"))

    # without a circle: an area with its description only; its language given
    i = cap(plain).find(CAP + "info")
    check(i.find(CAP + "area/" + CAP + "circle") is None and text(i, "c:area/c:areaDesc") == "East bank" and
          text(i, "c:language") == "en", "the plain alert's area")

    # the update references the first, as CAP says: sender,identifier,sent
    c = cap(update)
    check(text(c, "c:msgType") == "Update", "update's msgType")
    check(text(c, "c:references") == "%s,%s,%s" % (officer_sender, full, text(cap(full), "c:sent")),
          "references: %r" % text(c, "c:references"))
    # another group's alert pointing at it is no update of it
    c = cap(other)
    check(text(c, "c:msgType") == "Alert" and c.find(CAP + "references") is None, "the other group's alert")

    # the retracted alert gives the retract's Cancel, referencing the alert
    c = cap(gone)
    check(text(c, "c:msgType") == "Cancel" and text(c, "c:identifier") == retract and
          c.find(CAP + "info") is None, "cancel")
    check(text(c, "c:note") == "wrong <village> & \"time\"", "cancel note: %r" % text(c, "c:note"))
    check(text(c, "c:references").startswith(officer_sender + "," + gone + ","), "cancel references")

    # hostile text comes back as written, but for what XML cannot hold
    c = cap(hostile)
    i = c.find(CAP + "info")
    check(text(i, "c:headline") == "<script>alert(1)</script> ]]> &amp;", "hostile headline")
    check(text(i, "c:description") == hostile_text.replace("\ufffe\uffff", "\ufffd\ufffd"),
          "hostile text: %r" % text(i, "c:description"))
    check(text(i, "c:language") == "zh-Hant-TW", "language tag")
    check("3 character(s)" in text(c, "c:note"), "note: %r" % text(c, "c:note"))
    raw = open(env.path("cap", hostile + ".xml"), "rb").read()
    check(b"<script>" not in raw and b"]]>" not in raw and b"\xef\xbf\xbe" not in raw, "raw bytes")

    # the Atom index: active alerts only (not the retracted one), newest first
    feed = ET.parse(env.path("cap", "alerts.atom")).getroot()
    check(feed.tag == ATOM + "feed", "feed root")
    for k in ("id", "title", "updated"):
        check(feed.find(ATOM + k) is not None and feed.find(ATOM + k).text, "feed/" + k)
    check(feed.find(ATOM + "author/" + ATOM + "name") is not None, "feed author")
    entries = feed.findall(ATOM + "entry")
    ids = [e.find(ATOM + "link").get("href") for e in entries]
    check(ids == [BASE + "/cap/alerts/%s.xml" % a for a in (hostile, other, update, plain, full)],
          "entries: %r" % ids)
    for e in entries:
        for k in ("id", "title", "updated"):
            check(e.find(ATOM + k) is not None and e.find(ATOM + k).text, "entry/" + k)
        check(e.find(ATOM + "link").get("type") == "application/cap+xml", "entry link type")
    check(entries[0].find(ATOM + "title").text == "<script>alert(1)</script> ]]> &amp;", "entry title")
    check(entries[4].find(ATOM + "category").get("term") == "Rescue", "entry category")


TESTS = {"cap": t_cap}

if __name__ == "__main__":
    sys.exit(wmtest.main(TESTS))
