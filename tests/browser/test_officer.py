"""
The officers' half of the web app (node/web/src/officer*.js, seal.js)
against real `watchmesh` processes.

    usage: test_officer.py WATCHMESH CASE SOURCE_ROOT WEB_DIR OUTDIR
    cases: seal officer groups

seal:    the page's sealed boxes and key-file unlocking (officer_seal.mjs,
         Node.js, no browser) against the CLI's, both ways: the page opens
         a request `watchmesh post request --to officers` sealed, refuses
         the box moved to another group, re-signed by another author or
         changed; the CLI opens the request, reply and referral the page
         sealed (`watchmesh feed --key`), each for its recipients only.
officer: Chromium (officer.mjs): a resident's page sends a sealed request
         (the default); an officer's page imports the officer's encrypted
         key file, opens it and the CLI's sealed request in its inbox,
         replies sealed, refers the CLI's request to an office (which opens
         the re-sealed request with the CLI), posts an alert with a photo
         whose EXIF does not reach the node; the resident's page opens the
         reply and shows the alert pinned with the badge; the officer's
         page locks itself when left idle.
groups:  an officer certified for two communities: one inbox in his page,
         both communities' open requests in it, oldest unanswered first,
         each labelled with its community, a filter by community; his
         sealed reply to the other community's request is signed there (the
         node holds it as official, the resident's CLI opens it) and counts
         as its answer.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import nacl.signing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import test_browser  # noqa: E402
import wmtest  # noqa: E402
from wmtest import check  # noqa: E402
from test_mesh import G, run_cases  # noqa: E402
from test_http import world_node  # noqa: E402
from test_cli import seal_ad, seal_box, seal_inner  # noqa: E402

SECRET = "我怀疑隔壁在做传销，请勿透露我的身份。"
G2 = "gaobu.dongfeng"
G2_TEXT = "东风村的小卖部被人撬了锁"


def read(env, name):
    with open(env.path(name)) as f:
        return f.read()


def passphrase(env):
    with open(env.passfile) as f:
        return f.readline().rstrip("\n")


def opened(env, eid, key):
    """The event eid as `watchmesh feed --key KEY --json` shows it."""
    a = ["feed", "--dir", "village", "--json", "--all", "--limit", "0", "--key", key]
    if wmtest.key_encrypted(env.path(key)):
        a += ["--passphrase-file", env.passfile]
    evs = [e for e in env.json(*a) if e["id"] == eid]
    check(len(evs) == 1, "%s is not in the node" % eid)
    return evs[0]


def node_script(env, script, stdin):
    p = subprocess.run([shutil.which("node"), os.path.join(HERE, script)], input=stdin, capture_output=True,
                       text=True, cwd=env.dir, timeout=300)
    env.log.append("$ node %s\n[exit %d]\n%s%s" % (script, p.returncode, p.stdout, p.stderr))
    lines = p.stdout.strip().split("\n")
    check(p.returncode == 0 and lines[-1] == "ok", "%s failed:\n%s%s" % (script, p.stdout, p.stderr))
    return lines


def box_attacks(env, officer):
    """Boxes sealed to the officer that open but must be refused (PyNaCl,
    as test_cli's sealed_attacks makes them), with what the refusal says:
    an inside signed by res1 sealed again by res2; an inside naming one
    recipient in a box of two slots; an inside that does not name the
    officer; a text with a CR in it (section 4's text rule)."""
    net = wmtest.network_id(env.path("net"))
    res1, res2 = wmtest.key_seed(env.path("res1.key")), wmtest.key_seed(env.path("res2.key"))
    pub1 = bytes(nacl.signing.SigningKey(res1).verify_key)
    pub2 = bytes(nacl.signing.SigningKey(res2).verify_key)
    ad1, ad2 = seal_ad(3, net, pub1, G), seal_ad(3, net, pub2, G)
    now = int(time.time() * 1000)
    cases = [
        (res2, seal_box(seal_inner(res1, 3, net, G, [officer], "楼上有人赌博", "police"), ad2, [officer], pub2),
         "not bound to this author"),
        (res1, seal_box(seal_inner(res1, 3, net, G, [officer], "楼上有人赌博", "police"), ad1, [officer, pub2], pub1),
         "one was dropped or added"),
        (res1, seal_box(seal_inner(res1, 3, net, G, [pub2], "楼上有人赌博", "police"), ad1, [officer], pub1),
         "do not name this key"),
        (res1, seal_box(seal_inner(res1, 3, net, G, [officer], "第一行\r假的公告", "police"), ad1, [officer], pub1),
         "control or bidirectional character"),
    ]
    return [{"wire": wmtest.event(seed, 3, now + i, G, {"box": box}, network=net)[0].hex(), "refused": why}
            for i, (seed, box, why) in enumerate(cases)]


def t_seal(env):
    if not shutil.which("node"):
        print("SKIP: node (Node.js) not found")
        return 77
    v = world_node(env)
    env.key("office.key")
    rid = env.post("request", "village", "res1.key", "--group", G, "--topic", "dispute", "--text", SECRET,
                   "--to", "officers", "--out", "req.bundle")
    wire = wmtest.read_bundle(env.path("req.bundle"))[0]
    key_pub = lambda k: env.run("key", "show", k)[0].strip()   # noqa: E731
    attacks = box_attacks(env, bytes.fromhex(key_pub("officer.key")))
    out = node_script(env, "officer_seal.mjs", json.dumps({
        "network": wmtest.network_id(env.path("net")).hex(), "request": wire.hex(), "text": SECRET,
        "officer_key": read(env, "officer.key"), "passphrase": passphrase(env), "officer_pub": key_pub("officer.key"),
        "res1_key": read(env, "res1.key"), "res2_key": read(env, "res2.key"), "office_pub": key_pub("office.key"),
        "page_text": "晚上有人在楼道里抽烟乱扔烟头", "reply_text": "已联系调解员，会为您保密。",
        "attacks": attacks}))
    made = json.loads(out[-2])
    ids = {}
    for what in ("request", "reply", "referral"):
        st, answer = v.post_wire(bytes.fromhex(made[what]))
        check(st == 201, "the node refused the page's sealed %s: %d %r" % (what, st, answer))
        ids[what] = answer["id"]

    e = opened(env, ids["request"], "officer.key")
    check(e.get("private_text") == "晚上有人在楼道里抽烟乱扔烟头" and e.get("private_topic") == "police",
          "the officer's CLI does not open the page's request: %r" % e)
    check("private_text" not in opened(env, ids["request"], "res1.key"), "another resident opens the page's request")
    check(opened(env, ids["reply"], "res1.key").get("private_text") == "已联系调解员，会为您保密。",
          "the resident's CLI does not open the page's sealed reply")
    check("private_text" not in opened(env, ids["reply"], "res2.key"), "another resident opens the sealed reply")
    e = opened(env, ids["referral"], "office.key")
    check(e.get("private_text") == SECRET and e.get("private_topic") == "dispute" and
          e["content"].get("state") == "referred", "the office does not open the page's referral: %r" % e)
    check("private_text" not in opened(env, ids["referral"], "res2.key"), "a resident opens the referral")
    check(rid, "the CLI's request has no id")


def t_officer(env):
    v = test_browser.community(env)
    office = env.key("office.key")
    with open(env.path("office.pub"), "w") as f:
        f.write(office + "\n")
    env.post("request", "village", "res1.key", "--group", G, "--topic", "dispute", "--text", SECRET,
             "--to", "officers")
    ids = {}

    def page_request():
        evs = env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
        sealed = [e for e in evs if e["kind"] == "request" and "box" in e["content"] and
                  e["author"] != env.run("key", "show", "res1.key")[0].strip()]
        check(len(sealed) == 1 and set(sealed[0]["content"]) == {"box"},
              "the node does not hold the page's sealed request alone: %r" % sealed)
        ids["request"] = sealed[0]["id"]
        e = opened(env, ids["request"], "officer.key")
        check(e.get("private_text") == "家里门锁被撬，请上门看看" and e.get("private_topic") == "police",
              "the officer's CLI does not open the page's request: %r" % e)
        check("private_text" not in opened(env, ids["request"], "res2.key"), "another resident opens it")

    def answered():
        evs = env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
        refs = [e for e in evs if e["kind"] == "status" and e["content"].get("state") == "referred"]
        check(len(refs) == 1, "the node holds %d referrals" % len(refs))
        e = opened(env, refs[0]["id"], "office.key")
        check(e.get("private_text") == SECRET and e.get("private_topic") == "dispute",
              "the office cannot open the referral: %r" % e)
        check("private_text" not in opened(env, refs[0]["id"], "res2.key"), "a resident opens the referral")
        replies = [e for e in evs if e["kind"] == "reply" and e["refs"] == [ids["request"]]]
        check(len(replies) == 1 and replies[0]["official"] is True, "the officer's reply: %r" % replies)

    test_browser.drive(env, "officer", test_browser.page_url(v.http_port, env),
                       {"the page's sealed request": page_request, "the reply and the referral": answered},
                       script="officer.mjs")


def t_groups(env):
    v = test_browser.community(env)
    # the officer's second community: a request there, sealed to its
    # officers, between the first community's two unanswered ones
    env.cert("station.key", "officer.key", "officer", "王警官", G2, node="village")
    env.post("request", "village", "res2.key", "--group", G2, "--topic", "police", "--text", G2_TEXT,
             "--to", "officers")
    env.post("request", "village", "res1.key", "--group", G, "--topic", "other", "--text", "晚上楼道的灯又不亮了")

    def replied():
        evs = env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")
        replies = [e for e in evs if e["kind"] == "reply" and e["group"] == G2]
        check(len(replies) == 1 and replies[0]["official"] is True, "the officer's reply in %s: %r" % (G2, replies))
        e = opened(env, replies[0]["id"], "res2.key")
        check(e.get("private_text") == "东风村的同事明早上门。", "the resident cannot open the reply: %r" % e)

    test_browser.drive(env, "groups", test_browser.page_url(v.http_port, env),
                       {"the reply in the other community": replied}, script="officer.mjs")


TESTS = {"seal": t_seal, "officer": t_officer, "groups": t_groups}


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[2] in TESTS:
        test_browser.SRC, test_browser.WEB_DIR, test_browser.OUTDIR = sys.argv[3:6]
        # seal needs Node.js and the npm packages only, not Chromium
        why = test_browser.skip_reason()
        if sys.argv[2] == "seal" and why and why.startswith("chromium"):
            why = None
        if why:
            print("SKIP: " + why)
            sys.exit(77)
        os.makedirs(sys.argv[5], exist_ok=True)
    sys.exit(run_cases(TESTS, "officer", "SRC WEB_DIR OUTDIR"))
