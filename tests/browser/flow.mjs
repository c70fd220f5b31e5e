// The browser half of test_browser.py's case "flow" (issue 10 item 7): two
// phones in Debian's headless Chromium, a resident's on node A's page and an
// officer's on node B's, both over HTTPS with the network's TLS authority
// trusted by its key.  Run in the test's directory (it reads officer.key,
// office.pub and pass.txt there).  Where the test acts with the CLI it
// prints "wait: WHAT" and reads "go".  A failed check prints "FAIL: why",
// keeps screenshots and exits 1.  Phone-sized screenshots (flow-*.png) are
// kept in OUTDIR.
//
//   usage: node flow.mjs flow URL_A OUTDIR     (WATCHMESH_URL_B: node B's page)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { barrier, check, openGroup, PHONE, run } from "./harness.mjs";

const [, urlA, outdir] = process.argv.slice(2);
const urlB = process.env.WATCHMESH_URL_B;
const TIMEOUT = 30000;
const G = "gaobu.xinhua";
const REQUEST = "家里门锁被撬，邻居说是楼下的人干的，请上门看看";
const REPLY = "已安排民警今晚上门，会为您保密。";
const OFFICE = "新华村人民调解委员会";
const ALERT = "寻找走失老人 刘大爷";
const UPDATE = "刘大爷已找到，感谢大家";
const LEAD = "刚才在菜市场门口见过一位穿蓝外套的老人";
const THANKS = "太好了，下次社区活动见";

// The notifications the page's service worker shows now: [title, tag].
function notifications(page) {
  return page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())
    .map((n) => [n.title, n.tag]));
}

// One notification, titled title, once the page raised it.
async function notified(page, title, who) {
  let shown = [];
  for (let i = 0; i < 100 && !shown.some(([t]) => t === title); i++) {
    await page.waitForTimeout(100);
    shown = await notifications(page);
  }
  check(shown.length === 1 && shown[0][0] === title, who + "'s notifications: " + JSON.stringify(shown));
}

// Scroll to the first element matching selector whose text holds text (in
// one go: render() redraws the feed as events arrive).
function scrollTo(page, selector, text) {
  return page.evaluate(([sel, txt]) => {
    const e = [...document.querySelectorAll(sel)].find((x) => x.textContent.includes(txt));
    if (e) e.scrollIntoView();
  }, [selector, text]);
}

// The screen a resident sees (360 x 740 CSS pixels, kept at that size).
function shot(page, name) {
  return page.screenshot({ path: join(outdir, "flow-" + name + ".png"), scale: "css" });
}

const cases = {
  async flow(browser, shots, watch) {
    const phone = async (url, clock) => {
      const c = await browser.newContext(PHONE);
      // the resident's page is run forward past the alert's end at the close
      if (clock) await c.clock.install();
      const page = await c.newPage();
      watch(page, new URL(url).origin);
      return [c, page];
    };
    const [residentCtx, resident] = await phone(urlA, true);
    const [officerCtx, officer] = await phone(urlB, false);
    shots.push(["resident", resident], ["officer", officer]);

    // the resident on A: a secure page, notifications asked for only when
    // the button is pressed
    let asked = 0;
    await resident.exposeFunction("permissionAsked", () => { asked++; });
    await resident.addInitScript(() => {
      const ask = Notification.requestPermission.bind(Notification);
      Notification.requestPermission = () => {
        window.permissionAsked();
        return ask();
      };
    });
    await openGroup(resident, urlA, G);
    check(await resident.evaluate(() => window.isSecureContext && location.protocol === "https:"), "A's page is not secure");
    check(asked === 0, "the page asked for notifications on load");
    await residentCtx.grantPermissions(["notifications"], { origin: new URL(urlA).origin });
    await resident.click("#notify");
    await resident.locator("#notify-on").waitFor({ timeout: TIMEOUT });
    check(asked === 1, "the button did not ask for notifications");

    // a sealed help request
    await resident.click("#request summary");
    await resident.selectOption("#topic", "police");
    await resident.fill("#request-text", REQUEST);
    await resident.click("#send-request");
    await resident.locator("#request-status", { hasText: "已发送" }).waitFor({ timeout: TIMEOUT });
    await resident.locator("#feed article.card", { hasText: REQUEST }).first().waitFor({ timeout: TIMEOUT });
    await shot(resident, "request");

    // the officer on B: his key file, the request (meshed from A) opened in
    // his inbox, a sealed reply, then a referral re-sealed to the office
    await openGroup(officer, urlB, G);
    await officerCtx.grantPermissions(["notifications"], { origin: new URL(urlB).origin });
    await officer.click("#notify");
    await officer.locator("#notify-on").waitFor({ timeout: TIMEOUT });
    await officer.click("#officer summary");
    await officer.setInputFiles("#officer-key", "officer.key");
    await officer.fill("#officer-pass", readFileSync("pass.txt", "utf8").split("\n")[0]);
    await officer.click("#officer-unlock");
    await officer.locator("#officer-who", { hasText: "王警官" }).waitFor({ timeout: TIMEOUT });
    const item = officer.locator("#inbox .inbox-item", { hasText: REQUEST });
    await item.waitFor({ timeout: TIMEOUT });
    await item.locator("button.handle").click();
    await officer.fill("#act-reply", REPLY);
    const replied = officer.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
    await officer.click("#act-send-reply");
    check((await replied).status() === 201, "B answered the reply with " + (await replied).status());
    await item.locator("button.handle").click();
    await officer.selectOption("#act-state", "referred");
    await officer.fill("#act-office", OFFICE);
    await officer.fill("#act-office-key", readFileSync("office.pub", "utf8").trim());
    const referred = officer.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
    await officer.click("#act-send-state");
    check((await referred).status() === 201, "B answered the referral with " + (await referred).status());
    await scrollTo(officer, "#inbox .inbox-item", REQUEST);
    await shot(officer, "officer");

    // back on A: the reply opened, the status shown, under the request
    const mine = resident.locator("#feed > article.card", { hasText: REQUEST });
    await mine.locator(".answers article.card", { hasText: REPLY }).waitFor({ timeout: TIMEOUT });
    await mine.locator(".answers article.card", { hasText: "已转介 → " + OFFICE }).waitFor({ timeout: TIMEOUT });
    check(await mine.locator(".answers .badge", { hasText: "王警官" }).count() === 2,
      "the reply and the status under the request have no badge");
    await scrollTo(resident, "#feed > article.card", REQUEST);
    await shot(resident, "answered");

    // an alert from the CLI at A: pinned on both pages, one notification each
    await barrier("an alert posted at A");
    for (const [page, who] of [[resident, "the resident"], [officer, "the officer"]]) {
      const card = page.locator("#alerts article.card", { hasText: ALERT });
      await card.waitFor({ timeout: TIMEOUT });
      check((await card.getAttribute("class")).includes("sev-Severe"), who + ": the alert is not pinned as Severe");
      check((await card.locator(".badge").textContent()).includes("王警官"), who + ": the alert has no badge");
      await notified(page, ALERT, who);
    }
    await scrollTo(resident, "#alerts", ALERT);
    await shot(resident, "alert");

    // its update shows once, as the latest version, with the lead to the
    // first version under it, and replaces the notification
    await barrier("its update and two replies");
    const pinned = resident.locator("#alerts > article.card");
    await resident.locator("#alerts > article.card", { hasText: UPDATE }).waitFor({ timeout: TIMEOUT });
    await resident.locator("#alerts .answers article.card", { hasText: THANKS }).waitFor({ timeout: TIMEOUT });
    check(await pinned.count() === 1, "the updated alert is pinned " + await pinned.count() + " times");
    check(await resident.locator("article.card", { hasText: ALERT }).count() === 0, "the alert's first version is shown");
    check(await pinned.locator(".answers article.card", { hasText: LEAD }).count() === 1, "the lead is not under the update");
    await notified(resident, UPDATE, "the resident");

    // three hours on: the update has ended; the lead went with it, the reply
    // with a day of its own stays
    await resident.clock.fastForward("03:00:00");
    await resident.locator("#alerts").waitFor({ state: "detached", timeout: TIMEOUT });
    const ended = resident.locator("#feed > article.card", { hasText: UPDATE });
    await ended.locator(".answers article.card", { hasText: THANKS }).waitFor({ timeout: TIMEOUT });
    check(await resident.locator("article.card", { hasText: LEAD }).count() === 0, "the lead outlived its alert");
  },
};

// each page talks to its own node and nothing else (watch(page, origin))
run(cases.flow, { outdir, prefix: "failed-flow-", gone: true,
  args: ["--ignore-certificate-errors-spki-list=" + process.env.WATCHMESH_CA_SPKI] });
