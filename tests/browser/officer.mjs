// The browser half of test_officer.py's case "officer": Debian's Chromium,
// headless, driven by playwright-core, with two phones on one node: a
// resident's and an officer's.  Run in the test's directory (it reads
// officer.key, office.key's public key and pass.txt there).  Where the test
// checks the node it prints "wait: WHAT" and reads "go".  A failed check
// prints "FAIL: why", keeps screenshots and exits 1.
//
//   usage: node officer.mjs CASE URL OUTDIR     (CASE: officer, groups)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { barrier, check, openGroup, PHONE, posted, run } from "./harness.mjs";

const [caseName, url, outdir] = process.argv.slice(2);
const TIMEOUT = 30000;
const G = "gaobu.xinhua";
const PAGE_TEXT = "家里门锁被撬，请上门看看";
const CLI_TEXT = "我怀疑隔壁在做传销，请勿透露我的身份。";
const REPLY = "已安排民警上门，会为您保密。";
const MARK = "WMSECRETGPS 23.1291N 113.2644E";
const G2 = "gaobu.dongfeng";
const G2_TEXT = "东风村的小卖部被人撬了锁";
const LATER_TEXT = "晚上楼道的灯又不亮了";
const G2_REPLY = "东风村的同事明早上门。";

// The officer's key file unlocked in his page's panel.
async function unlock(officer) {
  await officer.setInputFiles("#officer-key", "officer.key");
  await officer.fill("#officer-pass", readFileSync("pass.txt", "utf8").split("\n")[0]);
  await officer.click("#officer-unlock");
  await officer.locator("#officer-who", { hasText: "王警官 · 高埔派出所" }).waitFor({ timeout: TIMEOUT });
}

// A JPEG of noise drawn by the browser, with an EXIF segment (a GPS-like
// marker inside) put in after its start: what a phone's camera writes.
async function jpegWithExif(page) {
  const jpeg = Buffer.from(await page.evaluate(async () => {
    const c = document.createElement("canvas");
    c.width = 1200;
    c.height = 900;
    const g = c.getContext("2d");
    const img = g.createImageData(c.width, c.height);
    for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 2654435761) >>> 24;
    g.putImageData(img, 0, 0);
    const b = await new Promise((res) => c.toBlob(res, "image/jpeg", 0.95));
    return [...new Uint8Array(await b.arrayBuffer())];
  }));
  const payload = Buffer.concat([Buffer.from("Exif\0\0MM\0\x2a\0\0\0\x08\0\0", "latin1"), Buffer.from(MARK)]);
  const seg = Buffer.concat([Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255]), payload]);
  return Buffer.concat([jpeg.subarray(0, 2), seg, jpeg.subarray(2)]);
}

const cases = {
  async officer(browser, shots, watch) {
    const context = (clock) => browser.newContext(PHONE).then(async (c) => {
      if (clock) await c.clock.install();
      return c;
    });
    const resident = await (await context(false)).newPage();
    const officer = await (await context(true)).newPage();
    shots.push(["resident", resident], ["officer", officer]);
    watch(resident);
    watch(officer);

    // a resident's request: sealed unless chosen public, so no personal-data
    // check, and nothing of it in clear
    await openGroup(resident, url, G);
    await resident.click("#request summary");
    check((await resident.textContent("#send-request")) === "加密发送求助", "the request is not sealed by default");
    await resident.selectOption("#topic", "police");
    await resident.fill("#request-text", PAGE_TEXT);
    const req = await posted(resident, () => resident.click("#send-request"));
    check(req.kind === 3 && Object.keys(req.content).join() === "box", "the request carries " + Object.keys(req.content));
    const mine = resident.locator("#feed article.card", { hasText: PAGE_TEXT }).first();
    await mine.waitFor({ timeout: TIMEOUT });
    check((await mine.textContent()).includes("🔒 私密 · 治安求助"), "the resident's page does not open its own request");
    await barrier("the page's sealed request");

    // the officer imports his key file: a wrong passphrase first
    await openGroup(officer, url, G);
    await officer.click("#officer summary");
    // a photo picked by mistake is not read
    await officer.setInputFiles("#officer-key", { name: "IMG_0001.jpg", mimeType: "image/jpeg", buffer: Buffer.alloc(100000, 0xff) });
    await officer.click("#officer-unlock");
    await officer.locator("#officer-status", { hasText: "这不是密钥文件（太大）" }).waitFor({ timeout: TIMEOUT });
    await officer.setInputFiles("#officer-key", "officer.key");
    await officer.fill("#officer-pass", "not the passphrase at all");
    await officer.click("#officer-unlock");
    await officer.locator("#officer-status", { hasText: "无法解锁：wrong passphrase" }).waitFor({ timeout: TIMEOUT });
    await unlock(officer);
    // kept in memory only: nothing key-sized in the page's IndexedDB
    const stored = await officer.evaluate(() => new Promise((res, rej) => {
      const rq = indexedDB.open("watchmesh");
      rq.onerror = () => rej(rq.error);
      rq.onsuccess = () => {
        const all = rq.result.transaction("kv").objectStore("kv").getAll();
        all.onsuccess = () => res(all.result.map((v) => (v instanceof Uint8Array ? v.length : typeof v)));
      };
    }));
    check(!stored.includes(32) && !stored.includes(64), "key-sized bytes stored on the device: " + stored);

    // the inbox: both sealed requests opened, oldest unanswered first, the
    // answered one after them
    const items = officer.locator("#inbox .inbox-item");
    await officer.locator("#inbox .inbox-item", { hasText: PAGE_TEXT }).waitFor({ timeout: TIMEOUT });
    const texts = await items.allTextContents();
    const at = (s) => texts.findIndex((x) => x.includes(s));
    check(at(CLI_TEXT) >= 0 && at(CLI_TEXT) < at(PAGE_TEXT) && at(PAGE_TEXT) < at("楼下有人撬车门"),
      "the inbox's order: " + JSON.stringify(texts));
    await officer.screenshot({ path: join(outdir, "officer-inbox.png"), fullPage: true });

    // a sealed reply to the page's request
    await officer.locator("#inbox .inbox-item", { hasText: PAGE_TEXT }).locator("button.handle").click();
    await officer.fill("#act-reply", REPLY);
    const reply = await posted(officer, () => officer.click("#act-send-reply"));
    check(reply.kind === 4 && reply.refs[0] === req.id && Object.keys(reply.content).join() === "box",
      "the reply: " + JSON.stringify(reply.content));

    // the CLI's request referred to the office, re-sealed for its key
    await officer.locator("#inbox .inbox-item", { hasText: CLI_TEXT }).locator("button.handle").click();
    await officer.selectOption("#act-state", "referred");
    await officer.fill("#act-office", "新华村人民调解委员会");
    await officer.fill("#act-office-key", readFileSync("office.pub", "utf8").trim());
    const ref = await posted(officer, () => officer.click("#act-send-state"));
    check(ref.kind === 5 && ref.content.state === "referred" && ref.content.box, "the referral: " + JSON.stringify(ref.content));
    await barrier("the reply and the referral");

    // an alert with a photo: scaled to fit, its EXIF gone
    const photo = await jpegWithExif(officer);
    check(photo.includes(Buffer.from(MARK)) && photo.length > 49152, "the test photo has no EXIF or is small");
    await officer.selectOption("#post-kind", "2");
    await officer.fill("#post-title", "寻找走失儿童 小明");
    await officer.fill("#post-text", "八岁，穿红色上衣，下午三点在村口走失。");
    await officer.fill("#post-area", "新华村村口");
    await officer.setInputFiles("#post-photo", { name: "camera.jpg", mimeType: "image/jpeg", buffer: photo });
    const alert = await posted(officer, () => officer.click("#post-send"));
    const p = Buffer.from(alert.content.photo);
    check(alert.kind === 2 && alert.content.photo_type === "image/jpeg" && p.length <= 49152 && p[0] === 0xff && p[1] === 0xd8,
      "the alert's photo: " + p.length + " bytes, " + alert.content.photo_type);
    check(!p.includes(Buffer.from("Exif")) && !p.includes(Buffer.from("WMSECRETGPS")), "the photo still carries its EXIF");

    // the running alert updated: refs[0] is it (CAP Update)
    await officer.locator("#post-status", { hasText: "已发布" }).waitFor({ timeout: TIMEOUT });
    await officer.selectOption("#post-kind", "2");
    await officer.locator("#post-updates option[value='" + alert.id + "']").waitFor({ state: "attached", timeout: TIMEOUT });
    await officer.selectOption("#post-updates", alert.id);
    check((await officer.inputValue("#post-title")) === "寻找走失儿童 小明", "the update is not filled from the alert");
    await officer.fill("#post-text", "八岁，穿红色上衣。有人在河边见过他。");
    await officer.fill("#post-hours", "12");
    const update = await posted(officer, () => officer.click("#post-send"));
    check(update.kind === 2 && update.refs[0] === alert.id && update.group === alert.group, "the update's refs: " + update.refs);

    // the resident: the alert pinned with its badge, the sealed reply opened
    const pinned = resident.locator("#alerts article.card", { hasText: "有人在河边见过他" }).first();
    await pinned.waitFor({ timeout: TIMEOUT });
    check((await pinned.locator(".badge").textContent()).includes("王警官"), "the officer's alert has no badge");
    await mine.locator(".answers article.card", { hasText: REPLY }).waitFor({ timeout: TIMEOUT });
    await pinned.locator(".acks button[data-what=seen]").click();
    await officer.locator("#alert-acks .alert-ack[data-id='" + update.id + "']", { hasText: "1 位居民回应 · 已看到 1" })
      .waitFor({ timeout: TIMEOUT });
    await resident.screenshot({ path: join(outdir, "resident-sealed.png"), fullPage: true });

    // the station page: charts from the checked events
    await officer.click("#station-page summary");
    await officer.locator("#chart-topics svg rect[data-key=police]").first().waitFor({ timeout: TIMEOUT });
    check(await officer.locator("#chart-bulletins svg rect[data-key=fraud]").count() === 1, "no bulletin in the chart");
    await officer.locator("#station-page").screenshot({ path: join(outdir, "officer-station.png") });
    // all of it on a 360-pixel screen: nothing wider than the page
    const wide = await officer.evaluate(() => [document.scrollingElement.scrollWidth,
      [...document.querySelectorAll("#officer *")].filter((e) => e.getBoundingClientRect().right > 360)
        .map((e) => e.tagName + (e.id ? "#" + e.id : "")).slice(0, 5).join(" ")]);
    check(wide[0] <= 360, "the officer's page is " + wide[0] + " pixels wide: " + wide[1]);

    // left idle a quarter of an hour, the key is locked and what it opened
    // is gone from the page
    await officer.clock.fastForward("15:05");
    await officer.locator("#officer-locked").waitFor({ timeout: TIMEOUT });
    check(await officer.locator("body", { hasText: CLI_TEXT }).count() === 0, "what the key opened is still shown");
  },

  // An officer of two communities: one inbox, the page's community and the
  // other's requests in it, oldest unanswered first, each with its
  // community, and a filter by community; his sealed answer to the other
  // community's request is signed into that community and counts as an
  // answer there, and stays out of the page's feed.
  async groups(browser, shots, watch) {
    const ctx = await browser.newContext(PHONE);
    const officer = await ctx.newPage();
    shots.push(["officer", officer]);
    watch(officer);
    await openGroup(officer, url, G);
    await officer.click("#officer summary");
    await unlock(officer);
    const items = officer.locator("#inbox .inbox-item");
    await officer.locator("#inbox .inbox-item", { hasText: G2_TEXT }).waitFor({ timeout: TIMEOUT });
    const order = ["<img src=x", G2_TEXT, LATER_TEXT, "楼下有人撬车门"];
    const inOrder = async () => {
      const texts = await items.allTextContents();
      return texts.length === order.length && order.every((s, i) => texts[i].includes(s));
    };
    check(await inOrder(), "the inbox's order: " + JSON.stringify(await items.allTextContents()));
    for (const [text, group] of [[G2_TEXT, G2], [LATER_TEXT, G], ["楼下有人撬车门", G]]) {
      const tag = await officer.locator("#inbox .inbox-item", { hasText: text }).locator(".tag.group").textContent();
      check(tag === group, text + " is labelled " + tag);
    }
    await officer.screenshot({ path: join(outdir, "officer-groups.png"), fullPage: true });

    // the filter: one community, then all again
    await officer.selectOption("#inbox-group", G2);
    check((await items.allTextContents()).join("|").includes(G2_TEXT) && await items.count() === 1,
      "the inbox filtered to " + G2 + ": " + JSON.stringify(await items.allTextContents()));
    await officer.selectOption("#inbox-group", "");
    check(await items.count() === order.length, "the inbox for all communities again: " + await items.count());

    // a sealed answer to the other community's request, signed there
    const req = await officer.locator("#inbox .inbox-item", { hasText: G2_TEXT }).getAttribute("data-id");
    await officer.locator("#inbox .inbox-item", { hasText: G2_TEXT }).locator("button.handle").click();
    await officer.fill("#act-reply", G2_REPLY);
    const reply = await posted(officer, () => officer.click("#act-send-reply"));
    check(reply.group === G2 && reply.refs[0] === req && Object.keys(reply.content).join() === "box",
      "the reply to " + G2 + "'s request: in " + reply.group + ", refs " + reply.refs + ", content " + Object.keys(reply.content));
    await barrier("the reply in the other community");
    // answered now: after the unanswered ones
    await officer.locator("#inbox .inbox-item", { hasText: G2_TEXT }).locator(".meta", { hasText: "已回应" })
      .waitFor({ timeout: TIMEOUT });
    const texts = await items.allTextContents();
    check(texts.findIndex((x) => x.includes(G2_TEXT)) > texts.findIndex((x) => x.includes(LATER_TEXT)),
      "the answered request is still among the unanswered: " + JSON.stringify(texts));
    check(await officer.locator("#feed article.card", { hasText: G2_REPLY }).count() === 0 &&
      await officer.locator("#feed article.card", { hasText: G2_TEXT }).count() === 0,
      "the other community's events are in the page's feed");
  },
};

run(cases[caseName], { outdir, origin: new URL(url).origin, gone: true });
