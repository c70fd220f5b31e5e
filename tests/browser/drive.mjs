// The browser half of test_browser.py: Debian's Chromium, headless, driven
// by playwright-core (from node/web/node_modules), on a phone-sized screen.
// It runs one case against the page at URL and checks what a resident sees.
// Where the test must act outside the browser (post from the CLI) it prints
// "wait: WHAT" and reads a line "go" on stdin before going on.  A failed
// check prints "FAIL: why", keeps a screenshot and exits 1.
//
//   usage: node drive.mjs CASE URL OUTDIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { barrier, check, openGroup, PHONE, run } from "./harness.mjs";

const [caseName, url, outdir] = process.argv.slice(2);
const TIMEOUT = 30000;

// The card of the event whose text includes `text`, once it is shown.
async function cardWith(page, scope, text) {
  const c = page.locator(scope + " article.card", { hasText: text }).first();
  await c.waitFor({ timeout: TIMEOUT });
  return c;
}

// Nothing wider than the phone: no sideways scrolling at 360 pixels, at the
// page's text size and with the phone's text made half as large again (a
// resident's "large text" setting), kept as screenshots.
async function fitsPhone(page, name) {
  for (const [size, shot] of [[null, name], ["30px", name + "-large"]]) {
    await page.evaluate((px) => { document.documentElement.style.fontSize = px || ""; }, size);
    const wide = await page.evaluate(() => document.scrollingElement.scrollWidth);
    await page.screenshot({ path: join(outdir, shot + ".png"), fullPage: true });
    check(wide <= 360, shot + ": the page is " + wide + " px wide on a 360 px screen");
  }
  await page.evaluate(() => { document.documentElement.style.fontSize = ""; });
}

// The key this device shows in "My key" (64 hex), once shown.
async function shownKey(page) {
  if (!await page.locator("#key").evaluate((d) => d.open)) await page.click("#key summary");
  await page.locator("#key-hex").filter({ hasText: /^[0-9a-f]{64}$/ }).waitFor({ timeout: TIMEOUT });
  return page.locator("#key-hex").textContent();
}

// The headlines of the events the page keeps in IndexedDB (db.js).
function keptHeadlines(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const rq = indexedDB.open("watchmesh");
    rq.onerror = () => reject(rq.error);
    rq.onsuccess = () => {
      const all = rq.result.transaction("events").objectStore("events").getAll();
      all.onsuccess = () => resolve(all.result.map((ev) => ev.content && ev.content.headline).filter(Boolean));
      all.onerror = () => reject(all.error);
    };
  }));
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
    await openGroup(page, url, "gaobu.xinhua");
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
    await page.click("#request summary");
    await fitsPhone(page, "feed");

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
    await openGroup(page, url, "gaobu.xinhua");
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
    // a resident's "update" of the officer's alert replaces nothing: shown
    // apart, marked, and the alert stays pinned as it was
    const update = await cardWith(page, "#feed", "警报解除：老人已回家");
    check((await update.getAttribute("class")).includes("suspect"), "the forged update is not marked");
    await page.screenshot({ path: join(outdir, "liar.png"), fullPage: true });
  },

  // Revocation by ancestry, live: the officer's three posts pinned or shown
  // with his badge; his key revoked keeping what arrived before the theft
  // (the bulletin's chain and the first alert): the later alert leaves the
  // page, as the node hides it, and the kept ones keep their badges, as does
  // the other officer's bulletin.  Then the page in English.
  async revoked(page) {
    await openGroup(page, url, "gaobu.xinhua");
    const later = await cardWith(page, "#alerts", "所有人到村委会集合");
    check((await later.locator(".badge").textContent()).includes("赵警官"), "before the revoke, no badge on his alert");
    await barrier("the officer's key revoked");
    await page.locator("article.card", { hasText: "所有人到村委会集合" }).waitFor({ state: "detached", timeout: TIMEOUT });
    const alert = await cardWith(page, "#alerts", "水管抢修");
    check((await alert.locator(".badge").textContent()).includes("赵警官"), "the kept alert lost its badge");
    const bulletin = await cardWith(page, "#feed", "明天上午停水");
    check((await bulletin.locator(".badge").textContent()).includes("赵警官"), "the kept bulletin lost its badge");
    const other = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check(await other.locator(".badge").count() === 1, "the other officer's bulletin lost its badge");
    await page.screenshot({ path: join(outdir, "revoked.png"), fullPage: true });

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

  // Installable, then offline: with its node stopped, the page opens again
  // from the service worker's copies and shows the feed it read, badges
  // checked as before.
  async offline(page) {
    await openGroup(page, url, "gaobu.xinhua");
    await cardWith(page, "#alerts", "寻找走失老人");
    await page.evaluate(() => navigator.serviceWorker.ready);
    // a second visit online, read through the worker
    await page.reload();
    await cardWith(page, "#alerts", "寻找走失老人");
    check(await page.evaluate(() => navigator.serviceWorker.controller !== null), "no service worker controls the page");
    const cdp = await page.context().newCDPSession(page);
    // installable: Chromium's own check of the manifest, icon and worker
    // (but for the test's browser context, which is a private one)
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    const why = installabilityErrors.filter((e) => e.errorId !== "in-incognito");
    check(why.length === 0, "not installable: " + JSON.stringify(why));
    await barrier("the node stopped");
    await page.reload();
    const bulletin = await cardWith(page, "#feed", "警惕冒充公检法诈骗");
    check((await bulletin.locator(".badge").textContent()).includes("王警官"), "offline, the badge is gone");
    await cardWith(page, "#alerts", "寻找走失老人");
    await page.screenshot({ path: join(outdir, "offline.png"), fullPage: true });
  },

  // Queued posts: with the node stopped, a request written in the page is
  // kept and shown as waiting to send, across a reload from the service
  // worker; when the node is back it goes by itself, and the test checks
  // the node holds it.
  async queue(page) {
    await openGroup(page, url, "gaobu.xinhua");
    await cardWith(page, "#alerts", "寻找走失老人");
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.reload();
    await cardWith(page, "#alerts", "寻找走失老人");
    await barrier("the node stopped");
    await page.click("#request summary");
    await page.check("#request-public");
    await page.fill("#request-text", "停电了，村里的路灯都不亮");
    await page.click("#send-request");
    await page.locator("#request-status", { hasText: "已保存，等待发送" }).waitFor({ timeout: TIMEOUT });
    let mine = await cardWith(page, "#feed", "停电了");
    check(await mine.locator(".waiting").count() === 1, "the queued request is not shown as waiting");
    await page.reload();
    mine = await cardWith(page, "#feed", "停电了");
    await mine.locator(".waiting").waitFor({ timeout: TIMEOUT });
    await page.screenshot({ path: join(outdir, "queued.png"), fullPage: true });
    const posted = page.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST",
      { timeout: 90000 });
    await barrier("the node started again");
    check((await posted).status() === 201, "the node answered the queued request with " + (await posted).status());
    await page.locator("#feed article.card", { hasText: "停电了" }).locator(".waiting").waitFor({ state: "detached", timeout: TIMEOUT });
    await barrier("the node holds the queued request");
  },

  // The key: shown as a QR code and hex for the station; backed up as a
  // file and as a printed QR code under a passphrase (too short, or typed
  // twice differently: refused); restored on two fresh phones (new browser
  // contexts), one from the file (a wrong passphrase refused, the phone's
  // own key replaced only on a second press), one from a picture of the
  // printed QR code; the restored phone signs with the key.
  async backup(page) {
    await openGroup(page, url, "gaobu.xinhua");
    const mine = await shownKey(page);
    check(await page.locator("#key-qr svg path").count() === 1, "no QR code of the key");
    await page.fill("#backup-pass", "短口令");
    await page.fill("#backup-pass2", "短口令");
    await page.click("#backup-file");
    await page.locator("#key-status", { hasText: "口令至少要 10 个字" }).waitFor({ timeout: TIMEOUT });
    const pass = "红灯笼挂在村口的老槐树上";
    await page.fill("#backup-pass", pass);
    await page.fill("#backup-pass2", pass + "。");
    await page.click("#backup-file");
    await page.locator("#key-status", { hasText: "两次输入的口令不一样" }).waitFor({ timeout: TIMEOUT });
    await page.fill("#backup-pass2", pass);
    const downloading = page.waitForEvent("download", { timeout: TIMEOUT });
    await page.click("#backup-file");
    const file = join(outdir, "watchmesh-key.txt");
    await (await downloading).saveAs(file);
    check(readFileSync(file, "utf8").startsWith("watchmesh-key:"), "the backup file: " + readFileSync(file, "utf8"));
    check(!readFileSync(file, "utf8").includes(mine), "the backup file holds the key in clear");
    await page.evaluate(() => { window.print = () => { window.printed = true; }; });
    await page.click("#backup-print");
    await page.locator("#print-qr").waitFor({ timeout: TIMEOUT });
    check(await page.evaluate(() => window.printed === true), "the printed QR code was not sent to print");
    await page.emulateMedia({ media: "print" });
    await page.screenshot({ path: join(outdir, "backup-print.png"), fullPage: true });
    const qr = await page.locator("#print-qr").screenshot();
    await page.emulateMedia({ media: "screen" });
    await page.click("#print-close");
    await fitsPhone(page, "key");

    const browser = page.context().browser();
    const phones = [];
    try {
      for (const [how, input] of [["file", file], ["picture", { name: "qr.png", mimeType: "image/png", buffer: qr }]]) {
        const ctx = await browser.newContext(PHONE);
        phones.push(ctx);
        const p = await ctx.newPage();
        await openGroup(p, url, "gaobu.xinhua");
        const fresh = await shownKey(p);
        check(fresh !== mine, how + ": a fresh phone has the same key");
        await p.setInputFiles("#restore-file", input);
        await p.fill("#restore-pass", pass + "!");
        await p.click("#restore");
        await p.locator("#key-status", { hasText: "口令不对" }).waitFor({ timeout: TIMEOUT });
        await p.fill("#restore-pass", pass);
        await p.click("#restore");
        await p.locator("#key-status", { hasText: "这台手机已有另一把密钥" }).waitFor({ timeout: TIMEOUT });
        check(await p.locator("#key-hex").textContent() === fresh, how + ": the key replaced on the first press");
        await p.click("#restore");
        await p.locator("#key-status", { hasText: "密钥已恢复" }).waitFor({ timeout: TIMEOUT });
        check(await p.locator("#key-hex").textContent() === mine, how + ": restored another key");
        if (how === "picture") {
          await p.click("#request summary");
          await p.fill("#request-text", "新手机，还是我");
          await p.click("#send-request");
          const card = await cardWith(p, "#feed", "新手机，还是我");
          check((await card.locator("header .author").textContent()).includes(mine.slice(0, 8)),
            "the restored phone does not sign with the key");
        }
      }
    } finally {
      for (const ctx of phones) await ctx.close();
    }
  },

  // Two nodes, HTTPS: the page, served by B with the network's TLS
  // authority's certificate, in a secure context with its service worker,
  // shows an alert posted on A once the mesh brought it to B.
  async https(page) {
    await openGroup(page, url, "gaobu.xinhua");
    check(await page.evaluate(() => location.protocol === "https:" && window.isSecureContext), "not a secure page");
    await barrier("an alert posted on node A");
    const alert = await cardWith(page, "#alerts", "暴雨红色预警");
    check((await alert.locator(".badge").textContent()).includes("王警官"), "the alert from A has no badge");
    check(await page.evaluate(async () => (await navigator.serviceWorker.ready).active !== null), "no service worker");
    await page.screenshot({ path: join(outdir, "https.png"), fullPage: true });
  },

  // The first sync of 3,000 requests draws as it goes, the newest first: the
  // group's listing after its first page is held until the newest cards and
  // the progress line are shown.  The feed draws its newest 100 cards, 100
  // more when "show older" scrolls into view.  A later visit (the page
  // closed, five requests posted meanwhile) reads only the five new ones, in
  // one request from the kept cursor, and shows them above what the device
  // kept.  The service worker is kept out, so the test sees each request
  // the page makes.
  async sync(page) {
    const context = await page.context().browser().newContext({ ...PHONE, serviceWorkers: "block" });
    try {
      const first = await context.newPage();
      let release;
      const held = new Promise((r) => { release = r; });
      const afters = [];
      await first.route(/\/api\/v1\/events\?group=gaobu\.xinhua&/, async (route) => {
        const q = new URL(route.request().url()).searchParams;
        const after = q.get("after");
        afters.push(after + (q.get("newest") === "1" ? " newest" : ""));
        if (after !== "0") await held;
        await route.continue();
      });
      await openGroup(first, url, "gaobu.xinhua");
      await cardWith(first, "#feed", "第 3000 条消息");
      await first.locator("#checking", { hasText: "已核对 200 条" }).waitFor({ timeout: TIMEOUT });
      check((await first.locator("#feed article.card").first().textContent()).includes("第 3000 条消息"),
        "the newest request is not on top while the sync is held");
      check(afters.length === 3 && afters[0] === "0 newest", "the listing went on past its first page: " + JSON.stringify(afters));
      release();
      await first.locator("#checking").waitFor({ state: "detached", timeout: 60000 });
      check(afters.length === 16 && afters[1] === "0", "listings of the first sync: " + JSON.stringify(afters));
      const cards = () => first.locator("article.card").count();
      check(await cards() === 100, "cards drawn after the first sync of 3,000: " + await cards());
      check((await first.locator("#feed article.card").first().textContent()).includes("第 3000 条消息"),
        "the newest request is not on top");
      check((await first.locator("#older").textContent()).includes("还有 2900 条"),
        "show older: " + await first.locator("#older").textContent());
      // found and scrolled to in one step of the page's own: a redraw (the
      // stream's, the minute's) puts a new #older in its place at any time
      await first.evaluate(() => document.getElementById("older").scrollIntoView());
      await cardWith(first, "#feed", "第 2801 条消息");
      check(await cards() === 200, "cards after scrolling to the end: " + await cards());
      await first.screenshot({ path: join(outdir, "sync.png") });
      await first.close();

      await barrier("five new requests");
      const later = await context.newPage();
      const listings = [];
      let raw = 0;
      later.on("response", async (r) => {
        const u = new URL(r.url());
        if (u.pathname.endsWith("/raw")) raw++;
        if (u.pathname === "/api/v1/events" && u.searchParams.get("group") === "gaobu.xinhua")
          listings.push([u.searchParams.get("after"), u.searchParams.get("newest"), (await r.json()).events.length]);
      });
      await later.goto(url);
      await cardWith(later, "#feed", "第 5 条新消息");
      await later.locator("#checking").waitFor({ state: "detached", timeout: TIMEOUT });
      check(listings.length === 1 && listings[0][0] !== "0" && listings[0][2] === 5,
        "the later visit's listings [after, newest, events]: " + JSON.stringify(listings));
      check(raw === 0, raw + " events fetched one by one");
      await cardWith(later, "#feed", "第 3000 条消息");
      check(await later.locator("article.card").count() === 100, "cards on the later visit");
    } finally {
      await context.close();
    }
  },

  // A revocation and a retraction that reach the node after the device kept
  // the events: the next visit reads only what is new, and trust.js judges
  // over what the device holds: the thief's alert is gone, the kept posts
  // keep their badges, and the retracted request shows withdrawn.  That
  // visit is two hours later (the browser's clock): the alert of one hour
  // the device kept is no longer kept.
  async recache(page) {
    await openGroup(page, url, "gaobu.xinhua");
    const thief = await cardWith(page, "#alerts", "所有人到村委会集合");
    check((await thief.locator(".badge").textContent()).includes("赵警官"), "before the revoke, no badge on his alert");
    await cardWith(page, "#feed", "楼下有人撬车门");
    await page.locator("#checking").waitFor({ state: "detached", timeout: TIMEOUT });
    check((await keptHeadlines(page)).includes("一小时的提醒"), "the device did not keep the alert of one hour");
    const context = page.context();
    await page.close();
    await barrier("the officer's key revoked, a request retracted");
    await context.clock.install({ time: Date.now() + 2 * 3600 * 1000 });
    const later = await context.newPage();
    const afters = [];
    later.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/api/v1/events") afters.push(u.searchParams.get("group") + " " + u.searchParams.get("after"));
    });
    await later.goto(url);
    const alert = await cardWith(later, "#alerts", "水管抢修");
    await later.locator("#checking").waitFor({ state: "detached", timeout: TIMEOUT });
    check(await later.locator("article.card", { hasText: "所有人到村委会集合" }).count() === 0,
      "the alert posted after the theft is still shown");
    check((await alert.locator(".badge").textContent()).includes("赵警官"), "the kept alert lost its badge");
    const bulletin = await cardWith(later, "#feed", "明天上午停水");
    check((await bulletin.locator(".badge").textContent()).includes("赵警官"), "the kept bulletin lost its badge");
    check(await later.locator("article.card", { hasText: "楼下有人撬车门" }).count() === 0,
      "the retracted request's text is still shown");
    const gone = await cardWith(later, "#feed", "收到，已派人");
    check(await gone.locator(".withheld").count() === 1, "the retracted request is not shown withdrawn");
    check(!(await keptHeadlines(later)).includes("一小时的提醒"), "the device still keeps an expired alert");
    check(afters.length === 2 && afters.every((a) => !a.endsWith(" 0")), "listings of the later visit: " + JSON.stringify(afters));
    await later.screenshot({ path: join(outdir, "recache.png"), fullPage: true });
  },

  // Step 4: a help request made, signed and sent by the page; the test then
  // checks the node holds it, and a second one chains to the first; a third
  // holding a phone number goes only when confirmed; then
  // "I can help" on the running alert, counted under it, and a lead in
  // reply, shown under it.
  async post(page) {
    await openGroup(page, url, "gaobu.xinhua");
    let posts = 0;
    page.on("request", (r) => { if (r.method() === "POST") posts++; });
    // the content rules before signing: a text over the node's 16000 bytes
    // (6000 Chinese characters, 18000 bytes) is refused in the page, saying
    // why, and nothing is signed or sent
    await page.click("#request summary");
    await page.check("#request-public");
    await page.fill("#request-text", "很".repeat(6000));
    await page.click("#send-request");
    await page.locator("#request-status", { hasText: "内容不符合规则：「text」有 18000 字节，只能是 1-16000 字节" })
      .waitFor({ timeout: TIMEOUT });
    check(posts === 0, "a text the node would refuse was sent");
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

run((page) => cases[caseName](page), { outdir, origin: new URL(url).origin, page: PHONE, name: caseName,
  // HTTPS with the network's TLS authority: its key trusted (test_browser.py https)
  args: process.env.WATCHMESH_CA_SPKI ? ["--ignore-certificate-errors-spki-list=" + process.env.WATCHMESH_CA_SPKI] : [] });
