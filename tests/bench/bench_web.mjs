// The browser half of bench_web.py: Debian's Chromium, headless, driven by
// playwright-core (from node/web/node_modules) as tests/browser/drive.mjs
// does, on a phone's screen.  Prints one JSON line of figures.
//
//   node bench_web.mjs time URL GROUP RATE     a fresh page (new context), the
//       CPU slowed RATE times (CDP Emulation.setCPUThrottlingRate; 1: not):
//       ms from navigation until the group can be picked (the certificates
//       checked), until the feed's first card shows, and until the first
//       sync is over (the group listed to the end, no fetch of the events
//       API left, a frame drawn after it).  PROFILE=1: also the page's
//       CPU profile (CDP Profiler), its functions by own time.  WORKER=block:
//       without the service worker (what it costs the sync).
//   node bench_web.mjs visits URL GROUP        two visits in one context, the
//       second once the service worker is active: after each it prints
//       "visit N" (bench_web.py reads its proxy's byte counts then) and, at
//       the end, what the page's CDP Network events say each visit loaded
//       and what the origin then keeps on the device (navigator.storage).
import { createRequire } from "node:module";

const { chromium } = createRequire(new URL("../../node/web/package.json", import.meta.url))("playwright-core");

const [mode, url, group, rate] = process.argv.slice(2);
const TIMEOUT = 20 * 60 * 1000;
// the phone of tests/browser/drive.mjs, 740 pixels high
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  locale: "zh-CN" };

const since = (t0) => Date.now() - t0;

// The events API's requests in flight and whether the group's listing has
// reached its end (a page that says more: false).
function watchSync(page) {
  const s = { inflight: 0, listedAll: false, raw: 0 };
  const api = (r) => new URL(r.url()).pathname.startsWith("/api/v1/events");
  page.on("request", (r) => {
    if (!api(r)) return;
    s.inflight++;
    if (r.url().endsWith("/raw")) s.raw++;
  });
  page.on("requestfailed", (r) => { if (api(r)) s.inflight--; });
  page.on("requestfinished", async (r) => {
    if (!api(r)) return;
    const u = new URL(r.url());
    if (u.pathname === "/api/v1/events" && u.searchParams.get("group") === group) {
      try {
        if (!(await (await r.response()).json()).more) s.listedAll = true;
      } catch {
        // not JSON: the page fails on it too, and the wait times out
      }
    }
    s.inflight--;
  });
  return s;
}

async function synced(page, s) {
  const end = Date.now() + TIMEOUT;
  while (!(s.listedAll && s.inflight === 0)) {
    if (Date.now() > end) throw new Error("the first sync did not end");
    await new Promise((r) => setTimeout(r, 20));
  }
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
}

// Own time per function of a CDP profile, the largest first, in ms.
function selfTimes(profile) {
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++)
    dt.set(profile.samples[i], (dt.get(profile.samples[i]) || 0) + (profile.timeDeltas[i + 1] || 0));
  const by = new Map();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const name = (f.functionName || "(anonymous)") + (f.url ? " " + f.url.split("/").pop() + ":" + (f.lineNumber + 1) : "");
    by.set(name, (by.get(name) || 0) + (dt.get(n.id) || 0) / 1000);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, ms]) => ({ name, ms: Math.round(ms) }));
}

async function timeOnce(browser) {
  const context = await browser.newContext({ ...PHONE, serviceWorkers: process.env.WORKER === "block" ? "block" : "allow" });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: Number(rate) });
  if (process.env.PROFILE === "1") {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 1000 });
    await cdp.send("Profiler.start");
  }
  const s = watchSync(page);
  const t0 = Date.now();
  await page.goto(url);
  const b = page.locator("#groups button[data-group='" + group + "']");
  await b.waitFor({ timeout: TIMEOUT });
  const groups = since(t0);
  await b.click();
  await page.locator("#feed article.card").first().waitFor({ timeout: TIMEOUT });
  const feed = since(t0);
  await synced(page, s);
  const sync = since(t0);
  const out = { groups, feed, sync, raw: s.raw, cards: await page.locator("article.card").count(),
    refused: await page.locator(".refused").count() };
  if (process.env.PROFILE === "1") out.profile = selfTimes((await cdp.send("Profiler.stop")).profile);
  await context.close();
  return out;
}

// One visit: the page opened, the group picked when asked for, the feed
// synced; what the page's CDP Network events counted.
async function visit(context, pick) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const n = { requests: 0, bytes: 0, fromWorker: 0 };
  await cdp.send("Network.enable");
  cdp.on("Network.responseReceived", (e) => { if (e.response.fromServiceWorker) n.fromWorker++; });
  cdp.on("Network.loadingFinished", (e) => { n.requests++; n.bytes += e.encodedDataLength; });
  const s = watchSync(page);
  const t0 = Date.now();
  await page.goto(url);
  if (pick) {
    const b = page.locator("#groups button[data-group='" + group + "']");
    await b.waitFor({ timeout: TIMEOUT });
    await b.click();
  }
  await page.locator("#feed article.card").first().waitFor({ timeout: TIMEOUT });
  await synced(page, s);
  n.ms = since(t0);
  n.worker = await page.evaluate(async () => {
    if (!("serviceWorker" in navigator)) return false;
    await navigator.serviceWorker.ready;
    return true;
  });
  // what the origin keeps on the device: IndexedDB and the worker's cache
  n.stored = (await page.evaluate(() => navigator.storage.estimate())).usage;
  await page.close();
  return n;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    if (mode === "time") {
      console.log(JSON.stringify(await timeOnce(browser)));
    } else {
      const context = await browser.newContext(PHONE);
      const first = await visit(context, true);
      console.log("visit 1");
      const later = await visit(context, false);
      console.log("visit 2");
      console.log(JSON.stringify({ first, later }));
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log("bench_web.mjs: " + e.message);
  process.exit(1);
});
