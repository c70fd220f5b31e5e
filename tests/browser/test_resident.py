"""
A resident's page (node/web/src/main.js) against a real `watchmesh run`,
in Chromium (resident.mjs).

    usage: test_resident.py WATCHMESH CASE SOURCE_ROOT WEB_DIR OUTDIR
    cases: expiry camera

expiry: a reply and an ack to a running alert signed by default (they go
        with the alert: expires_at 0) and kept ("keep 30 days": expires_at
        30 days on, as `post reply --expires 30d`); the node holds the four
        as signed; the phone's clock run past the alert's end, the kept
        reply is shown and the default one is not.
camera: the key restored through the camera without BarcodeDetector:
        Chromium's fake camera plays a video of the backup's QR code
        (written by the test as YUV4MPEG2), the page reads it from the
        frames and the restored key is the backup's.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import test_browser  # noqa: E402
from wmtest import check  # noqa: E402
from test_mesh import run_cases  # noqa: E402

DAY_MS = 24 * 3600 * 1000


def t_expiry(env):
    v = test_browser.community(env)

    def held():
        with open(env.path("answers.json")) as f:
            answers = json.load(f)
        evs = {e["id"]: e for e in env.json("feed", "--dir", "village", "--json", "--all", "--limit", "0")}
        for name, a in answers.items():
            e = evs.get(a["id"])
            check(e is not None, "the node does not hold the page's %s answer" % name)
            kept = name in ("kept", "helping")
            lasts = e["expires_at"] - e["created_at"] if e["expires_at"] else 0
            check(e["expires_at"] == a["expires_at"] and (abs(lasts - 30 * DAY_MS) < 1000 if kept else lasts == 0),
                  "the node holds the %s answer expiring at %r (created %r)" % (name, e["expires_at"], e["created_at"]))

    test_browser.drive(env, "expiry", test_browser.page_url(v.http_port, env),
                       {"the node holds the answers": held}, script="resident.mjs")


def t_camera(env):
    v = test_browser.community(env)
    test_browser.drive(env, "camera", test_browser.page_url(v.http_port, env), script="resident.mjs")


TESTS = {"expiry": t_expiry, "camera": t_camera}


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[2] in TESTS:
        test_browser.SRC, test_browser.WEB_DIR, test_browser.OUTDIR = sys.argv[3:6]
        why = test_browser.skip_reason()
        if why:
            print("SKIP: " + why)
            sys.exit(77)
        os.makedirs(sys.argv[5], exist_ok=True)
    sys.exit(run_cases(TESTS, "resident", "SRC WEB_DIR OUTDIR"))
