// The browser half of test_resident.py: a resident's phone (Debian's
// Chromium, headless, driven by playwright-core) on the page at URL.  A
// failed check prints "FAIL: why", keeps a screenshot and exits 1.
//
//   usage: node resident.mjs CASE URL OUTDIR
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(new URL("../../node/web/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const { qrMatrix, sealKey } = await import("../../node/web/src/backup.js");
const { ed25519 } = await import("../../node/web/node_modules/@noble/curves/ed25519.js");

const [caseName, url, outdir] = process.argv.slice(2);
const TIMEOUT = 30000;
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  locale: "zh-CN" };

class Failure extends Error {}

function check(cond, why) {
  if (!cond) throw new Failure(why);
}

// A YUV4MPEG2 (4:2:0) video of one grey picture: the QR code of text, 8
// pixels a module, black on white, in the middle of a 640 x 480 frame (what
// Chromium's fake camera plays, over and over).
function qrVideo(text) {
  const W = 640, H = 480, S = 8;
  const m = qrMatrix(text);
  const y = Buffer.alloc(W * H, 235);
  const x0 = (W - m.length * S) >> 1, y0 = (H - m.length * S) >> 1;
  check(x0 >= 0 && y0 >= 0, "the QR code (" + m.length + " modules) does not fit the frame");
  m.forEach((row, r) => row.forEach((dark, c) => {
    if (!dark) return;
    for (let dy = 0; dy < S; dy++) y.fill(16, (y0 + r * S + dy) * W + x0 + c * S, (y0 + r * S + dy) * W + x0 + (c + 1) * S);
  }));
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  return Buffer.concat([Buffer.from("YUV4MPEG2 W" + W + " H" + H + " F10:1 Ip A1:1 C420jpeg\nFRAME\n"), y, chroma]);
}

const cases = {
  // The camera restore without BarcodeDetector: the backup's QR code played
  // by Chromium's fake camera (cameraArgs), read from the video's frames in
  // the page; a wrong passphrase refused; the phone's key replaced on the
  // second press, and then it is the backup's.
  async camera(browser, shots, watch) {
    const ctx = await browser.newContext(PHONE);
    await ctx.grantPermissions(["camera"], { origin: new URL(url).origin });
    // the page's own decoder, whatever this Chromium was built with
    await ctx.addInitScript(() => { delete window.BarcodeDetector; });
    const page = await ctx.newPage();
    shots.push(["camera", page]);
    watch(page);
    await page.goto(url);
    await page.locator("#groups button").first().waitFor({ timeout: TIMEOUT });
    check(await page.evaluate(() => !("BarcodeDetector" in window)), "BarcodeDetector is still there");
    await page.click("#key summary");
    const mine = await page.locator("#key-hex").filter({ hasText: /^[0-9a-f]{64}$/ }).textContent({ timeout: TIMEOUT });
    const pub = Buffer.from(ed25519.getPublicKey(CAMERA_SEED)).toString("hex");
    check(mine !== pub, "the phone already has the backup's key");
    await page.click("#restore-camera");
    await page.locator("#key-status", { hasText: "已扫描到密钥二维码" }).waitFor({ timeout: TIMEOUT });
    check(await page.locator("#restore-video").isHidden(), "the camera is still shown after the scan");
    await page.fill("#restore-pass", CAMERA_PASS + "!");
    await page.click("#restore");
    await page.locator("#key-status", { hasText: "口令不对" }).waitFor({ timeout: TIMEOUT });
    await page.fill("#restore-pass", CAMERA_PASS);
    await page.click("#restore");
    await page.locator("#key-status", { hasText: "这台手机已有另一把密钥" }).waitFor({ timeout: TIMEOUT });
    await page.click("#restore");
    await page.locator("#key-status", { hasText: "密钥已恢复" }).waitFor({ timeout: TIMEOUT });
    check(await page.locator("#key-hex").textContent() === pub, "restored another key than the backup's");
    await page.screenshot({ path: join(outdir, "camera-restored.png"), fullPage: true });
  },
};

// The camera case's backup, and Chromium's fake camera playing its QR code
// (in the test's directory).
const CAMERA_SEED = crypto.getRandomValues(new Uint8Array(32));
const CAMERA_PASS = "红灯笼挂在村口的老槐树上";

async function cameraArgs() {
  const video = join(process.cwd(), "qr.y4m");
  writeFileSync(video, qrVideo(await sealKey(CAMERA_SEED, CAMERA_PASS)));
  return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--use-file-for-fake-video-capture=" + video];
}

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", ...(caseName === "camera" ? await cameraArgs() : [])] });
  const shots = [];
  const errors = [];
  // the pages talk to their node and nothing else
  const origin = new URL(url).origin;
  const watch = (page) => {
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(origin + "/") && !r.url().startsWith("blob:") && !r.url().startsWith("data:"))
        errors.push("a request to " + r.url());
    });
  };
  let rc = 0;
  try {
    await cases[caseName](browser, shots, watch);
    check(errors.length === 0, "errors in the pages, or requests past their node: " + errors.join("; "));
    console.log("ok");
  } catch (e) {
    console.log("FAIL: " + (e instanceof Failure ? e.message : e.stack));
    for (const [name, page] of shots) {
      await page.screenshot({ path: join(outdir, "failed-" + name + ".png"), fullPage: true }).catch(() => {});
      console.log(name + "'s page: " + (await page.locator("body").textContent().catch(() => "?")));
    }
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
}

main();
