// The browser half of test_resident.py: a resident's phone (Debian's
// Chromium, headless, driven by playwright-core) on the page at URL.  Where
// the test checks the node it prints "wait: WHAT" and reads "go".  A failed
// check prints "FAIL: why", keeps a screenshot and exits 1.
//
//   usage: node resident.mjs CASE URL OUTDIR
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { barrier, check, openGroup, PHONE, posted, run } from "./harness.mjs";

const { qrMatrix, sealKey } = await import("../../node/web/src/backup.js");
const { ed25519 } = await import("../../node/web/node_modules/@noble/curves/ed25519.js");

const [caseName, url, outdir] = process.argv.slice(2);
const TIMEOUT = 30000;
const G = "gaobu.xinhua";
const DAY = 24 * 3600 * 1000;

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
  // A reply and an ack to a running alert, each signed once as the page
  // does by default (expires_at 0: they go with the alert) and once kept
  // (expires_at 30 days on); the node takes all four; the phone's clock
  // run past the alert's end, the kept reply is still shown, the other not.
  async expiry(browser, shots, watch) {
    const ctx = await browser.newContext(PHONE);
    await ctx.clock.install();
    const page = await ctx.newPage();
    shots.push(["resident", page]);
    watch(page);
    await openGroup(page, url, G);
    const alert = page.locator("#alerts article.card", { hasText: "寻找走失老人" }).first();
    await alert.waitFor({ timeout: TIMEOUT });

    const answers = {};
    for (const [name, keep] of [["gone", false], ["kept", true]]) {
      const text = name === "kept" ? "昨晚十点在菜市场见过一位穿蓝外套的老人" : "好像在公交站见过他";
      await alert.locator("button.reply").click();
      check(await page.locator("#reply-keep").isVisible(), "no choice to keep a reply to an alert");
      check(!await page.locator("#reply-keep").isChecked(), "a reply to an alert is kept by default");
      if (keep) await page.check("#reply-keep");
      await page.fill("#reply-text", text);
      answers[name] = { text, ev: await posted(page, () => page.click("#send-reply")) };
      await page.locator("#reply-status", { hasText: "已回复" }).waitFor({ timeout: TIMEOUT });
    }
    for (const [what, keep] of [["seen", false], ["helping", true]]) {
      const box = alert.locator(".acks input.keep");
      if (keep) await box.check();
      const ack = await posted(page, () => alert.locator(".acks button[data-what=" + what + "]").click());
      answers[what] = { ev: ack };
      // the bar is drawn again when the ack arrives: the choice stays
      await alert.locator(".acks button[data-what=" + what + "]", { hasText: "1" }).waitFor({ timeout: TIMEOUT });
      check(await box.isChecked() === keep, "the ack bar's choice did not stay as it was");
    }
    const now = await page.evaluate(() => Date.now());
    for (const [name, a] of Object.entries(answers)) {
      const kept = name === "kept" || name === "helping";
      check(a.ev.refs[0] && (kept ? Math.abs(a.ev.expiresAt - (a.ev.createdAt + 30 * DAY)) < 1000 : a.ev.expiresAt === 0),
        name + ": expires_at " + a.ev.expiresAt + " for created_at " + a.ev.createdAt);
      check(a.ev.createdAt <= now, name + " was signed after now");
    }
    // a bulletin's reply has no choice: it lasts
    await page.locator("#feed article.card", { hasText: "警惕冒充公检法诈骗" }).locator("button.reply").click();
    check(!await page.locator("#reply-keep").isVisible(), "a reply to a bulletin offers to be kept");
    writeFileSync("answers.json", JSON.stringify(Object.fromEntries(Object.entries(answers)
      .map(([k, a]) => [k, { id: a.ev.id, expires_at: a.ev.expiresAt }]))));
    await barrier("the node holds the answers");

    const under = (text) => alert.locator(".answers article.card", { hasText: text });
    await under(answers.kept.text).waitFor({ timeout: TIMEOUT });
    check(await under(answers.gone.text).count() === 1, "the default reply is not under the running alert");
    await page.screenshot({ path: join(outdir, "resident-answers.png"), fullPage: true });
    // the alert (six hours) has ended: the default reply went with it
    await page.clock.fastForward("07:00:00");
    await page.locator("#alerts article.card", { hasText: "寻找走失老人" }).waitFor({ state: "detached", timeout: TIMEOUT });
    await page.locator("article.card", { hasText: answers.kept.text }).first().waitFor({ timeout: TIMEOUT });
    check(await page.locator("article.card", { hasText: answers.gone.text }).count() === 0,
      "the default reply outlived its alert");
    await page.screenshot({ path: join(outdir, "resident-answers-ended.png"), fullPage: true });
  },

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

run(cases[caseName], { outdir, origin: new URL(url).origin,
  args: caseName === "camera" ? await cameraArgs() : [] });
