// The browser half of test_browser.py: Debian's Chromium, headless, driven
// by playwright-core (from node/web/node_modules), on a phone-sized screen.
// It runs one case against the page at URL and checks what a resident sees.
// Where the test must act outside the browser (post from the CLI) it prints
// "wait: WHAT" and reads a line "go" on stdin before going on.  A failed
// check prints "FAIL: why", keeps a screenshot and exits 1.
//
//   usage: node drive.mjs CASE URL OUTDIR
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { join } from "node:path";

// the web app's packages hold playwright-core (its devDependency)
const { chromium } = createRequire(new URL("../../node/web/package.json", import.meta.url))("playwright-core");

const [caseName, url, outdir] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const TIMEOUT = 30000;

async function barrier(what) {
  console.log("wait: " + what);
  const r = await lines.next();
  if (r.done || r.value.trim() !== "go") throw new Error("the test did not say go after: " + what);
}

class Failure extends Error {}

function check(cond, why) {
  if (!cond) throw new Failure(why);
}

// The card of the event whose text includes `text`, once it is shown.
async function cardWith(page, scope, text) {
  const c = page.locator(scope + " article.card", { hasText: text }).first();
  await c.waitFor({ timeout: TIMEOUT });
  return c;
}

async function openGroup(page, group) {
  await page.goto(url);
  const b = page.locator("#groups button[data-group='" + group + "']");
  await b.waitFor({ timeout: TIMEOUT });
  await b.click();
  await page.locator("#top h1", { hasText: group }).waitFor({ timeout: TIMEOUT });
}

const cases = {
  // Steps 1 and 2: the page served by the node, the community picked from
  // the certificates, alerts pinned with their severity, time left, area and
  // photo; badges; replies under requests; text from the network as text;
  // an alert posted meanwhile arriving live, and a bulletin by an officer
  // certified meanwhile, with his badge; search.
  async feed(page) {
    await page.goto(url);
    await page.locator("#groups button").first().waitFor({ timeout: TIMEOUT });
    const groups = await page.locator("#groups button").allTextContents();
    check(groups.length === 1 && groups[0] === "gaobu.xinhua", "groups offered: " + JSON.stringify(groups));
    await openGroup(page, "gaobu.xinhua");
    const alert = await cardWith(page, "#alerts", "寻找走失老人");
    check((await alert.getAttribute("class")).includes("sev-Severe"), "the alert is not coloured as Severe");
    const meta = await alert.locator(".meta").textContent();
    check(/还剩 \d+ 小时/.test(meta) && meta.includes("新华村"), "time left and area: " + meta);
    check(await alert.locator("img.photo").evaluate((i) => i.complete && i.naturalWidth === 40),
      "the alert's photo is not shown");
    check((await alert.locator(".badge").textContent()).includes("王警官"), "the alert has no badge");
    const bulletin = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check((await bulletin.locator(".badge").textContent()) === "✔ 警官 王警官 · 高埔派出所",
      "the bulletin's badge: " + await bulletin.locator(".badge").textContent());
    const request = await cardWith(page, "#feed", "楼下有人撬车门");
    check(await request.locator(".badge").count() === 1, "the reply under the request has no official badge");
    check((await request.locator(".answers article.card").textContent()).includes("收到，已派人"),
      "the reply is not under the request");
    check(await request.locator(":scope > header .badge").count() === 0, "a resident's request has a badge");
    const html = await cardWith(page, "#feed", "<img src=x");
    check(await html.locator("img").count() === 0, "text from the network became HTML");
    check(await page.evaluate(() => window.pwned === undefined), "a script from the network ran");
    await page.screenshot({ path: join(outdir, "feed.png"), fullPage: true });

    await barrier("an alert posted while the page is open");
    await cardWith(page, "#alerts", "山火预警");
    check(await page.locator("#alerts article.card").count() === 2, "two alerts pinned");

    await barrier("a new officer and his bulletin");
    const late = await cardWith(page, "#feed", "巡逻时间调整");
    await late.locator(".badge", { hasText: "赵警官" }).waitFor({ timeout: TIMEOUT });

    await page.fill("#search", "冒充公检法");
    await page.click("form button[type=submit]");
    await page.locator("#results").waitFor({ timeout: TIMEOUT });
    const found = await page.locator("#results > article.card").allTextContents();
    check(found.length === 1 && found[0].includes("警惕冒充公检法诈骗"), "search: " + JSON.stringify(found));
  },

  // Step 3: a node that lies.  The proxy in front of it says official: true
  // for everything, and slips in a bulletin signed by a resident, a station
  // certificate signed by that resident, and an event with a bad signature.
  async liar(page) {
    await openGroup(page, "gaobu.xinhua");
    await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    const forged = await cardWith(page, "#feed", "派出所通知：请把存款转入安全账户");
    check(await forged.locator(".badge").count() === 0, "the forged bulletin has a badge");
    check((await forged.getAttribute("class")).includes("suspect"), "the forged bulletin is not marked");
    const request = await cardWith(page, "#feed", "楼下有人撬车门");
    check(await request.locator(":scope > header .badge").count() === 0, "the node's official: true gave a badge");
    check(await page.locator("article.card", { hasText: "签名被篡改" }).count() === 0, "an event with a bad signature is shown");
    check((await page.locator(".refused").textContent()).startsWith("1 "), "the refused event is not counted");
    const pinned = await page.locator("#alerts article.card").allTextContents();
    check(pinned.length === 1 && pinned[0].includes("寻找走失老人"), "pinned: " + JSON.stringify(pinned));
    await page.screenshot({ path: join(outdir, "liar.png"), fullPage: true });
  },

  // Revoked -> not official: the revoked officer's bulletin loses its badge,
  // the other officer's keeps it.  Then the page in English.
  async revoked(page) {
    await openGroup(page, "gaobu.xinhua");
    const revoked = await cardWith(page, "#feed", "明天上午停水");
    check(await revoked.locator(".badge").count() === 0, "the revoked officer's bulletin has a badge");
    check((await revoked.getAttribute("class")).includes("suspect"), "the revoked officer's bulletin is not marked");
    const other = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check(await other.locator(".badge").count() === 1, "the other officer's bulletin lost its badge");

    // English, chosen and remembered; the network's text stays as written
    await page.click("#lang");
    await page.locator("#feed h2", { hasText: "Community feed" }).waitFor({ timeout: TIMEOUT });
    await page.reload();
    const again = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check((await again.locator(".badge").textContent()) === "✔ Officer 王警官 · 高埔派出所",
      "the badge in English: " + await again.locator(".badge").textContent());
    check((await page.locator("#lang").textContent()) === "中文", "the way back to Chinese");
    await page.screenshot({ path: join(outdir, "english.png"), fullPage: true });
  },

  // Offline: with its node stopped, the page opens again from the service
  // worker's copies and shows the feed it read, badges checked as before.
  async offline(page) {
    await openGroup(page, "gaobu.xinhua");
    await cardWith(page, "#alerts", "寻找走失老人");
    await page.evaluate(() => navigator.serviceWorker.ready);
    // a second visit online, read through the worker
    await page.reload();
    await cardWith(page, "#alerts", "寻找走失老人");
    check(await page.evaluate(() => navigator.serviceWorker.controller !== null), "no service worker controls the page");
    await barrier("the node stopped");
    await page.reload();
    const bulletin = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check((await bulletin.locator(".badge").textContent()).includes("王警官"), "offline, the badge is gone");
    await cardWith(page, "#alerts", "寻找走失老人");
    await page.screenshot({ path: join(outdir, "offline.png"), fullPage: true });
  },

  // Step 4: a help request made, signed and sent by the page; the test then
  // checks the node holds it, and a second one chains to the first; a third
  // holding a phone number goes only when confirmed; then
  // "I can help" on the running alert, counted under it, and a lead in
  // reply, shown under it.
  async post(page) {
    await openGroup(page, "gaobu.xinhua");
    let posts = 0;
    page.on("request", (r) => { if (r.method() === "POST") posts++; });
    for (const text of ["路灯坏了，晚上很黑", "路灯还是没修", "有事请打我电话 138 1234 5678"]) {
      if (!await page.locator("#request").evaluate((d) => d.open)) await page.click("#request summary");
      await page.check("#request-public");
      await page.selectOption("#topic", "non-police");
      await page.fill("#request-text", text);
      if (text.includes("138")) {
        // the personal-data check: nothing signed or sent until pressed again
        const before = posts;
        await page.click("#send-request");
        await page.locator("#request-status", { hasText: "手机号 138****5678" }).waitFor({ timeout: TIMEOUT });
        check(posts === before, "a text with a phone number was sent without a second press");
      }
      const posted = page.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
      await page.click("#send-request");
      check((await posted).status() === 201, "the node answered the page's event with " + (await posted).status());
      await page.locator("#request-status", { hasText: "已发送" }).waitFor({ timeout: TIMEOUT });
      const mine = await cardWith(page, "#feed", text);
      check((await mine.textContent()).includes("非警务求助"), "the request's topic is not shown");
    }
    const alert = await cardWith(page, "#alerts", "寻找走失老人");
    const acked = page.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
    await alert.locator(".acks button[data-what=helping]").click();
    check((await acked).status() === 201, "the node answered the page's ack with " + (await acked).status());
    await alert.locator(".acks button[data-what=helping]", { hasText: "我能帮忙 1" }).waitFor({ timeout: TIMEOUT });
    await alert.locator(":scope > button.reply").click();
    await page.fill("#reply-text", "我在村口看到一位穿蓝色外套的老人");
    const replied = page.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
    await page.click("#send-reply");
    check((await replied).status() === 201, "the node answered the page's reply with " + (await replied).status());
    await alert.locator(".answers article.card", { hasText: "村口看到" }).waitFor({ timeout: TIMEOUT });
    await page.screenshot({ path: join(outdir, "post.png"), fullPage: true });
    await barrier("the node holds the requests, the ack and the reply");
  },
};

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2,
    isMobile: true, hasTouch: true, locale: "zh-CN" });
  const page = await context.newPage();
  const errors = [];
  const consoled = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => consoled.push(m.type() + ": " + m.text()));
  // the page talks to its node and nothing else (no CDN, no fonts, no beacons)
  const origin = new URL(url).origin;
  page.on("request", (r) => {
    if (!r.url().startsWith(origin + "/") && !r.url().startsWith("blob:") && !r.url().startsWith("data:"))
      errors.push("a request to " + r.url());
  });
  let rc = 0;
  try {
    await cases[caseName](page);
    check(errors.length === 0, "errors in the page, or requests past its node: " + errors.join("; "));
    console.log("ok");
  } catch (e) {
    console.log("FAIL: " + (e instanceof Failure ? e.message : e.stack));
    await page.screenshot({ path: join(outdir, "failed-" + caseName + ".png"), fullPage: true }).catch(() => {});
    console.log("page text: " + (await page.locator("body").textContent().catch(() => "?")));
    console.log("page console:\n  " + consoled.join("\n  "));
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
}

main();
