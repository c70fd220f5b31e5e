"""
A resident's page (node/web/src/main.js) against a real `watchmesh run`,
in Chromium (resident.mjs).

    usage: test_resident.py WATCHMESH CASE SOURCE_ROOT WEB_DIR OUTDIR
    cases: camera

camera: the key restored through the camera without BarcodeDetector:
        Chromium's fake camera plays a video of the backup's QR code
        (written by the test as YUV4MPEG2), the page reads it from the
        frames and the restored key is the backup's.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import test_browser  # noqa: E402
from test_mesh import run_cases  # noqa: E402

def t_camera(env):
    v = test_browser.community(env)
    test_browser.drive(env, "camera", test_browser.page_url(v.http_port, env), script="resident.mjs")


TESTS = {"camera": t_camera}


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[2] in TESTS:
        test_browser.SRC, test_browser.WEB_DIR, test_browser.OUTDIR = sys.argv[3:6]
        why = test_browser.skip_reason()
        if why:
            print("SKIP: " + why)
            sys.exit(77)
        os.makedirs(sys.argv[5], exist_ok=True)
    sys.exit(run_cases(TESTS, "resident", "SRC WEB_DIR OUTDIR"))
