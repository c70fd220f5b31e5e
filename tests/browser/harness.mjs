// The browser drivers' scaffolding (drive.mjs, flow.mjs, officer.mjs,
// resident.mjs): check() and its Failure, barrier() (the "wait: WHAT" /
// "go" handshake with the Python test on stdin), Debian's headless Chromium
// launched by playwright-core (from node/web/node_modules, loaded only when
// run() is called), each page watched for errors and for requests past its
// node, and the end of a run: "ok", or "FAIL: why" with a screenshot and the
// text of each page kept, and exit 1; and openGroup() and posted(), the
// steps every driver takes: a community picked, an event a page POSTs.
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";

// A cheap phone: the screen every driver's pages open on, in Chinese.
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  locale: "zh-CN" };

export class Failure extends Error {}

export function check(cond, why) {
  if (!cond) throw new Failure(why);
}

// Where the test must act outside the browser: print "wait: WHAT" and go on
// once it answers a line "go" on stdin (read from the first barrier on).
let lines;

export async function barrier(what) {
  lines ??= createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log("wait: " + what);
  const r = await lines.next();
  if (r.done || r.value.trim() !== "go") throw new Error("the test did not say go after: " + what);
}

// Chromium's flags for every driver; a driver adds its own (args).
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

// The page opened at url and the community group picked from its list.
export async function openGroup(page, url, group) {
  await page.goto(url);
  const b = page.locator("#groups button[data-group='" + group + "']");
  await b.waitFor({ timeout: 30000 });
  await b.click();
  await page.locator("#top h1", { hasText: group }).waitFor({ timeout: 30000 });
}

// The wire event the page POSTs next, checked, once the node answered 201.
export async function posted(page, act) {
  const { readEvent } = await import("../../node/web/src/wire.js");
  const rq = page.waitForRequest((r) => r.url().endsWith("/api/v1/events") && r.method() === "POST");
  const rs = page.waitForResponse((r) => r.url().endsWith("/api/v1/events") && r.request().method() === "POST");
  await act();
  const body = (await rq).postDataBuffer();
  check((await rs).status() === 201, "the node answered the page's event with " + (await rs).status());
  return readEvent(new Uint8Array(body));
}

// Launch Chromium with FLAGS and args, run body, print "ok" or "FAIL: why",
// and exit 0 or 1.  Options:
//   outdir  where the failure screenshots go
//   args    more Chromium flags (the SPKI list, the fake camera)
//   origin  the origin a page may talk to, besides blob: and data: (watch's
//           second argument, a page's own, overrides it)
//   prefix  the failure screenshots' names: prefix + the page's name + ".png"
//   gone    the browser going away is an error too
//   page    one page of the harness's own, in a context with these options,
//           named name: body(page), its console kept and printed on failure;
//           without it, body(browser, shots, watch) opens its own pages,
//           watch(page[, origin]) each and pushes [name, page] on shots
//   name    that one page's name
export async function run(body, { outdir, args = [], origin, prefix = "failed-", gone = false, page: one, name } = {}) {
  const { chromium } = createRequire(new URL("../../node/web/package.json", import.meta.url))("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: [...FLAGS, ...args] });
  const shots = [];
  const errors = [];
  const consoled = [];
  if (gone) browser.on("disconnected", () => errors.push("the browser went away"));
  // the pages talk to their node and nothing else (no CDN, no fonts, no beacons)
  const watch = (page, own = origin) => {
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(own + "/") && !r.url().startsWith("blob:") && !r.url().startsWith("data:"))
        errors.push("a request to " + r.url());
    });
  };
  let page;
  if (one) {
    page = await (await browser.newContext(one)).newPage();
    page.on("console", (m) => consoled.push(m.type() + ": " + m.text()));
    watch(page);
    shots.push([name, page]);
  }
  let rc = 0;
  try {
    if (one) {
      await body(page);
      check(errors.length === 0, "errors in the page, or requests past its node: " + errors.join("; "));
    } else {
      await body(browser, shots, watch);
      check(errors.length === 0, "errors in the pages, or requests past their node: " + errors.join("; "));
    }
    console.log("ok");
  } catch (e) {
    console.log("FAIL: " + (e instanceof Failure ? e.message : e.stack));
    for (const [shot, p] of shots) {
      await p.screenshot({ path: join(outdir, prefix + shot + ".png"), fullPage: true }).catch(() => {});
      const text = await p.locator("body").textContent().catch(() => "?");
      console.log(one ? "page text: " + text : shot + "'s page: " + text);
    }
    if (one) console.log("page console:\n  " + consoled.join("\n  "));
    rc = 1;
  } finally {
    await browser.close();
  }
  process.exit(rc);
}
