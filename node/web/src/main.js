// The residents' app: pick a community, read its feed (active alerts pinned
// on top, official posts with a badge, replies under what they answer),
// search it; send a public help request, acknowledge an alert or answer a
// post, each signed on this device, checked by the content rules before it
// is signed, and kept in the outbox until the node takes it (written
// offline, it goes when the node answers again).
//
// The node is a courier, not an authority: the page takes only ids and
// cursors from its JSON, fetches each event's wire bytes and checks them
// (wire.js), and computes the badge itself (trust.js).  Every string from
// the network reaches the page through text nodes (el() below), never as
// HTML.
import { ed25519 } from "@noble/curves/ed25519.js";
import { BackupError, PASSPHRASE_MIN, openKey, qrMatrix, readQR, sealKey } from "./backup.js";
import { contentProblem } from "./content.js";
import * as db from "./db.js";
import { LABELS, isEnglish, label, locale, setEnglish, t } from "./i18n.js";
import { guessLang, officerPanel, officerSeeds, officials, tryOpen } from "./officer.js";
import { piiScan } from "./pii.js";
import { boxShape, seal } from "./seal.js";
import { Trust } from "./trust.js";
import { WireError, hex, makeEvent, readEvent, unhex } from "./wire.js";

const API = "/api/v1";
const PAGE = 200;
const FETCHERS = 6;
const WINDOW = 100;    // feed cards drawn at a time; "show older" adds as many
const KEEP = 20000;    // events of a group this device keeps (db.js), the newest

const SEVERITY_ORDER = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];

const app = {
  root: null,          // pinned root key, hex
  network: null,       // pinned network id, bytes
  trust: null,
  group: null,
  events: new Map(),   // id -> checked event, of the chosen group
  refused: new Set(),  // ids of events whose bytes did not check out
  next: 0,             // the node's cursor after the last event read
  loads: 0,            // loadFeed() calls: one that is no longer the latest stops
  checking: null,      // while the feed syncs: how many new events were checked
  unreached: "",       // why the node could not be read: the feed is what this device kept
  shown: WINDOW,       // how many of the feed's cards are drawn
  source: null,        // the live stream
  content: null,       // the element render() redraws, once the group's page is built
  reply: null,         // the reply form
  replyTo: null,       // the id it answers
  query: "",
  results: null,       // search results (checked events), or null
  notice: "",
  waiting: new Set(),  // ids of events signed here that the node has not taken yet
  refusals: new Map(), // id -> the node's reason, for events signed here that it refused
  mine: null,          // this device's key seed once made: it opens what is sealed to it
  officer: null,       // the officers' panel (officer.js)
};

// --- DOM: strings always become text nodes --------------------------------------------

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "className" || k === "value" || k === "type" || k === "placeholder" || k === "disabled" ||
             k === "src" || k === "alt" || k === "id")
      e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

function str(v) {
  return typeof v === "string" ? v : "";
}


// --- the node -------------------------------------------------------------------------

// GET from the API, waiting as the node asks when it answers 429 (at most
// half a minute a time, whatever it says), and asking again, three times at
// most, when it fails on its side (5xx: a store busy or failing for now).
async function get(path) {
  for (let failed = 0; ; ) {
    const r = await fetch(API + path, { cache: "no-store" });
    let wait;
    if (r.status === 429) wait = Math.min(30, Number(r.headers.get("Retry-After")) || 1);
    else if (r.status >= 500 && ++failed < 4) wait = failed;
    else return r;
    await new Promise((res) => setTimeout(res, 1000 * wait));
  }
}

async function getJSON(path) {
  const r = await get(path);
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

// The event named id, from its wire bytes, checked; null when the node does
// not hand them over, and null (counted) when they are not that event or do
// not check out.
async function fetchEvent(id) {
  const r = await get("/events/" + encodeURIComponent(id) + "/raw");
  if (!r.ok) {
    console.warn("event " + id + " not fetched: HTTP " + r.status);
    return null;
  }
  return checked(id, new Uint8Array(await r.arrayBuffer()));
}

// The event of the wire bytes the node gave for id, checked here; null
// (counted) when they are not that event or do not check out.
function checked(id, bytes) {
  try {
    const ev = readEvent(bytes, app.network);
    if (ev.id !== id) return refuse(id, "the node sent another event");
    const p = ev.withheld ? null : contentProblem(ev);
    if (p) return refuse(id, "its content breaks the rules: " + t(p.why, p.args));
    // every event is a link the revocations' keep walks may pass through
    if (app.trust) app.trust.add(ev);
    return ev;
  } catch (e) {
    if (e instanceof WireError) return refuse(id, e.message);
    throw e;
  }
}

// Base64 (the listing's "wire") to bytes; null when it is not base64.
function unbase64(s) {
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function refuse(id, why) {
  app.refused.add(id);
  console.warn("event " + id + " refused: " + why);
  return null;
}

async function fetchAll(ids) {
  const out = new Array(ids.length);
  let i = 0;
  async function worker() {
    while (i < ids.length) {
      const k = i++;
      out[k] = await fetchEvent(ids[k]);
    }
  }
  await Promise.all(Array.from({ length: FETCHERS }, worker));
  return out.filter(Boolean);
}

// A page of a group's listing after cursor `after` (newest: its newest
// events, PROTOCOL.md §18), checked: [the events, the listing, how many it
// listed].
async function listPage(group, after, newest) {
  const evs = [];
  // wire=1: each event's bytes come with the page, checked here all the
  // same; one the node left out is fetched alone
  const page = await getJSON("/events?group=" + encodeURIComponent(group) + "&after=" + after + "&limit=" + PAGE +
    "&wire=1" + (newest ? "&newest=1" : ""));
  const listed = page.events.filter((e) => e && typeof e.id === "string");
  const ids = listed.map((e) => e.id);
  const rest = [];
  for (const e of listed) {
    const bytes = typeof e.wire === "string" ? unbase64(e.wire) : null;
    if (bytes) {
      const ev = checked(e.id, bytes);
      if (ev) evs.push(ev);
    } else {
      rest.push(e.id);
    }
  }
  evs.push(...await fetchAll(rest));
  return [evs, page, ids.length];
}

// Every event of a group from cursor `after` on, a page at a time: each
// page's checked events and the cursor after it go to onPage(evs, next),
// which stops the listing when it returns false.
async function listGroup(group, after, onPage) {
  for (;;) {
    const [evs, page, n] = await listPage(group, after, false);
    // a cursor that does not move on would keep a lying node's page coming
    const moved = Number.isSafeInteger(page.next) && page.next > after;
    if (moved) after = page.next;
    if (await onPage(evs, after) === false || !page.more || n === 0 || !moved) return;
  }
}

// --- trust: the root, the network, the certificates -----------------------------------

// The certificates and revocations, then live: an officer certified
// after the page opened gets his badge without a reload.
// What this device kept of them on earlier visits comes first, and only
// what is new is read; with the node out of reach, what it kept serves.
async function syncTrust() {
  const known = app.root !== null && app.network !== null;
  const evs = known ? await db.kept("network") : [];
  let next = known ? (await db.get("cursor:network")) || 0 : 0;
  const fresh = [];
  if (known) {
    app.trust = new Trust(app.root);
    for (const ev of evs) app.trust.add(ev);
  }
  try {
    await listGroup("network", next, (page, after) => {
      fresh.push(...page);
      next = after;
    });
  } catch (e) {
    if (!known) throw e;
    unreached(e);
  }
  evs.push(...fresh);
  if (!app.root) {
    // First contact: the key that signed the station certs.  A page opened
    // from the station's link (#root=...) never needs this guess.
    const roots = new Set(evs.filter((e) => e.kind === 7 && e.content && e.content.role === "station")
      .map((e) => e.author));
    if (roots.size !== 1) throw new Error(t(roots.size ? "这个节点的证书来自多个根密钥，请用派出所给的链接打开" : "这个节点还没有派出所证书"));
    app.root = [...roots][0];
    await db.put("root", app.root);
  }
  if (!app.network) {
    const mine = evs.find((e) => e.author === app.root);
    if (!mine) throw new Error(t("这个节点没有本网络根密钥签发的证书"));
    app.network = unhex(mine.network);
    await db.put("network", mine.network);
  }
  const ours = (ev) => ev.network === hex(app.network);
  app.trust = new Trust(app.root);
  for (const ev of evs) if (ours(ev)) app.trust.add(ev);
  await db.keep("network", fresh.filter(ours), next);
  follow("network", next, (ev) => {
    app.trust.add(ev);
    return [ev];
  });
}

// The node did not answer (or failed) while the page synced: it goes on
// with what the device kept, saying so.
function unreached(e) {
  console.warn("the node was not read: " + e.message);
  app.unreached = e.message;
}

// --- the feed ---------------------------------------------------------------------------

// The group's feed: what this device kept from earlier visits, drawn at
// once, then what the node has after the kept cursor, drawn as each page of
// it is checked (a line says how far it is), then live.
async function loadFeed() {
  const group = app.group;
  const load = ++app.loads;
  app.events.clear();
  app.shown = WINDOW;
  const now = Date.now();
  const gone = [];
  for (const ev of await db.kept(group)) {
    // the node collects expired events; the device lets them go too
    if (ev.expiresAt !== 0 && ev.expiresAt <= now) {
      gone.push(ev.id);
      continue;
    }
    app.events.set(ev.id, ev);
    app.trust.add(ev);
  }
  await db.forget(gone);
  app.next = (await db.get("cursor:" + group)) || 0;
  await outboxEvents();
  app.checking = 0;
  render();
  try {
    // the newest page first, drawn at once; when that was all, the cursor
    // moves past it, otherwise the listing from the cursor, oldest first,
    // reads it again in its turn
    const [newest, page] = await listPage(group, app.next, true);
    if (load !== app.loads) return;
    const all = !page.more;
    const last = all ? Math.max(app.next, ...page.events.map((e) => Number.isSafeInteger(e && e.cursor) ? e.cursor : 0))
      : null;
    await db.keep(group, newest.flatMap(take), last);
    if (all) {
      app.next = last;
      app.checking += newest.length;
    }
    render();
    if (!all) await listGroup(group, app.next, async (evs, next) => {
      if (load !== app.loads) return false;
      const changed = evs.flatMap(take);
      await db.keep(group, changed, next);
      app.next = next;
      app.checking += evs.length;
      // a first sync of more than the bound does not hold it all meanwhile
      if (app.events.size > KEEP + 10 * PAGE) await bound();
      drawSoon();
      return load === app.loads;
    });
  } catch (e) {
    unreached(e);
  }
  if (load !== app.loads) return;
  app.checking = null;
  await bound();
  render();
  live();
}

// A checked event of the group joins the feed.  A retract that holds
// (PROTOCOL.md §11 "Retractions", as the node judges it: same group, not
// dated before its target, by the target's author or an official) withholds
// its target here too, so a device that kept the content drops it as the
// node did.  What changed, to keep.
function take(ev) {
  app.events.set(ev.id, ev);
  const target = ev.kind === 6 && !ev.withheld ? app.events.get(ev.refs[0]) : null;
  if (!target || target.withheld || (target.kind >= 6 && target.kind <= 8) || target.group !== ev.group ||
      ev.createdAt < target.createdAt || (target.author !== ev.author && !app.trust.official(ev)))
    return [ev];
  const gone = { ...target, withheld: true, content: null };
  app.events.set(gone.id, gone);
  return [ev, gone];
}

// A phone keeps the newest KEEP events of a group (by created_at), in
// memory and on the device; the node still holds the older ones.
async function bound() {
  if (app.events.size <= KEEP) return;
  const old = [...app.events.values()].filter((ev) => !app.waiting.has(ev.id))
    .sort((a, b) => a.createdAt - b.createdAt).slice(0, app.events.size - KEEP);
  for (const ev of old) app.events.delete(ev.id);
  await db.forget(old.map((ev) => ev.id));
}

// Follow a group live from cursor `after`: each new event, checked, goes
// to take(), and what it returns is kept on the device with the cursor.
// Messages are taken in order; after one whose event was not fetched the
// cursor stays where it was, so the next visit reads that event again.  The
// EventSource resumes by itself (Last-Event-ID).
function follow(group, after, take) {
  const src = new EventSource(API + "/stream?group=" + encodeURIComponent(group) + "&last_event_id=" + after);
  let taking = Promise.resolve();
  let missed = false;
  // the node answers again: what was written meanwhile goes now
  src.onopen = () => {
    flushSoon();
    if (app.unreached) {
      app.unreached = "";
      if (app.content) render();
    }
  };
  src.onmessage = (m) => {
    taking = taking.then(() => message(m)).catch((e) => console.warn("a live event was not kept: " + e.message));
  };
  async function message(m) {
    let id;
    try {
      id = JSON.parse(m.data).id;
    } catch {
      return;
    }
    if (typeof id !== "string") return;
    let ev = null;
    try {
      ev = await fetchEvent(id);
    } catch (e) {
      // the node went away between the message and the fetch
      console.warn("event " + id + " not fetched: " + e.message);
    }
    const cursor = Number(m.lastEventId);
    if (!ev || !Number.isSafeInteger(cursor)) missed = true;
    if (!ev || ev.group !== group) return;
    const changed = take(ev);
    await db.keep(group, changed, missed ? null : cursor);
    render();
  }
  return src;
}

function live() {
  if (app.source) app.source.close();
  app.source = follow(app.group, app.next, (ev) => {
    if (!app.events.has(ev.id)) notifyAlert(ev);
    return take(ev);
  });
}

// --- notifications: a new alert while the app is open ---------------------------------

// A running official alert that has just arrived raises a notification
// through the service worker (the way a phone shows it; `new Notification`
// is refused on Android).  One per alert: an update of it (§4) replaces its
// notification, tagged by the alert's first version, rather than adding
// one.  The permission is asked only by notifyButton().
function notifyAlert(ev) {
  if (ev.kind !== 2 || ev.withheld || ev.expiresAt <= Date.now() || !app.trust.official(ev) ||
      !("Notification" in window) || Notification.permission !== "granted" || !("serviceWorker" in navigator))
    return;
  let first = ev;
  for (let i = 0; i < 64; i++) {
    const of = app.events.get(first.refs[0]);
    if (!of || of.kind !== 2 || of.group !== first.group) break;
    first = of;
  }
  const c = ev.content;
  navigator.serviceWorker.getRegistration()
    .then((reg) => reg && reg.showNotification(str(c.headline), {
      body: [str(c.area_desc), left(ev.expiresAt)].filter(Boolean).join(" · "),
      tag: first.id, icon: "icon.svg",
    }))
    .catch((e) => console.warn("no notification for " + ev.id + ": " + e.message));
}

// "开启警报通知": the browser asks for the permission only when the resident
// presses it, never on load; once granted it says so and goes (on the next
// visit), and when refused it says where to allow them.
function notifyButton() {
  if (!("Notification" in window) || !("serviceWorker" in navigator) || !window.isSecureContext ||
      Notification.permission === "granted")
    return null;
  if (Notification.permission === "denied")
    return el("p", { id: "notify-off", className: "notice" }, t("警报通知已被浏览器关闭，可在浏览器的网站设置里开启"));
  const b = el("button", {
    type: "button", id: "notify",
    onclick: async () => {
      await Notification.requestPermission();
      b.replaceWith(notifyButton() || el("p", { id: "notify-on" }, t("已开启警报通知")));
    },
  }, t("开启警报通知"));
  return b;
}

async function search(q) {
  app.query = q;
  if (!q) {
    app.results = null;
    render();
    return;
  }
  const r = await getJSON("/search?q=" + encodeURIComponent(q) + "&group=" + encodeURIComponent(app.group));
  const ids = r.events.map((e) => e.id).filter((id) => typeof id === "string");
  const fetched = new Map((await fetchAll(ids.filter((id) => !app.events.has(id)))).map((ev) => [ev.id, ev]));
  app.results = ids.map((id) => app.events.get(id) || fetched.get(id)).filter((ev) => ev && ev.group === app.group && !hidden(ev));
  render();
}

// --- sending ----------------------------------------------------------------------------

// This device's one key: made on first use, or restored from a backup.
let seeding = null;

function seed() {
  if (!seeding) {
    seeding = (async () => {
      let s = await db.get("seed");
      if (!s) {
        s = crypto.getRandomValues(new Uint8Array(32));
        await db.put("seed", s);
      }
      app.mine = s;
      return s;
    })();
  }
  return seeding;
}

// Sign an event of the chosen group (or `group`: an officer answers in all
// his communities) on this device, keep it in the outbox and hand it to
// the node.  By the device's key, or by an officer's (`as`:
// its seed and public key, officer.js), each with its own heads; content may
// be a function of the seed (a box is sealed by its author's key).  Its
// content is checked first by the rules the node applies (content.js): what
// the node would refuse is never signed.  A lasting event becomes the key's
// head in the group at once, so the next event chains to it even before the
// node has it (the outbox sends them in order); an expiring one (an alert)
// only points back to it.  Resolves to the id once the node took it, or to
// null when it waits for the node; throws when the node refused it.
async function send(kind, content, refs = [], { as = null, expiresAt = 0, group = app.group } = {}) {
  const sk = as ? as.seed : await seed();
  const body = typeof content === "function" ? content(sk) : content;
  const p = contentProblem({ kind, group, refs, expiresAt, content: body });
  if (p) throw new Error(t("内容不符合规则：") + t(p.why, p.args));
  const headKey = as ? "head:" + as.pub + ":" + group : "head:" + group;
  const prev = (await db.get(headKey)) || "";
  const { wire, id } = makeEvent(sk, {
    kind, createdAt: Date.now(), network: app.network, group, prev: unhex(prev),
    refs: refs.map(unhex), expiresAt, content: body,
  });
  await db.queue({ id, group, wire });
  if (expiresAt === 0) await db.put(headKey, id);
  const ev = readEvent(wire, app.network);
  // an officer's answer in another of his communities is not this feed's
  if (group === app.group) app.events.set(id, ev);
  app.trust.add(ev);
  app.waiting.add(id);
  await flush();
  if (app.refusals.has(id)) throw new Error(app.refusals.get(id));
  return app.waiting.has(id) ? null : id;
}

// Send what the outbox holds, in order, until the node is out of reach or
// busy (it stays for the next try: the live stream coming back, the
// browser going online, the minute's timer, the app opening).  An event
// the node refuses leaves the outbox and the page, its reason noted in
// app.refusals.  Passes run one after the other, so an event queued during
// one is sent by the next.
let flushing = Promise.resolve();

function flush() {
  // a pass that failed was told to its caller; the next one starts afresh
  flushing = flushing.catch(() => {}).then(flushOnce);
  return flushing;
}

// flush() from a timer or an event: a failure is only logged.
function flushSoon() {
  flush().catch((e) => console.warn("the outbox was not sent: " + e.message));
}

async function flushOnce() {
  for (const [key, item] of await db.queued()) {
    let r, answer = {};
    try {
      r = await fetch(API + "/events", { method: "POST", body: item.wire, headers: { "Content-Type": "application/msgpack" } });
      answer = await r.json().catch(() => ({}));
    } catch (e) {
      console.warn("the node is out of reach, " + item.id + " waits: " + e.message);
      break;
    }
    if (r.status === 429 || r.status >= 500) break;
    await db.sent(key);
    app.waiting.delete(item.id);
    if (r.status !== 201 && r.status !== 200) {
      app.refusals.set(item.id, str(answer.error) || "HTTP " + r.status);
      app.events.delete(item.id);
    }
  }
  if (app.content) render();
}

// What waits in the outbox from an earlier visit shows as waiting.
async function outboxEvents() {
  for (const [, item] of await db.queued()) {
    if (item.group !== app.group) continue;
    const ev = readEvent(item.wire, app.network);
    app.events.set(item.id, ev);
    app.trust.add(ev);
    app.waiting.add(item.id);
  }
}

// --- sealed boxes (seal.js; officer.js holds an officer's unlocked key) -----------------

// What each box opened to, per key: the key is the map's key, so what an
// officer's key opened goes with it when the page locks.
const boxes = new WeakMap();

// A box opened with a key held here: its parts, {refused: why}, or null.
function opened(ev) {
  for (const sk of [app.mine, ...officerSeeds()]) {
    if (!sk) continue;
    if (!boxes.has(sk)) boxes.set(sk, new Map());
    const m = boxes.get(sk);
    if (!m.has(ev.id)) m.set(ev.id, tryOpen(ev, sk));
    if (m.get(ev.id)) return m.get(ev.id);
  }
  return null;
}

// A sealed request, reply or referral: opened when it is sealed to a key
// held here, refused with the reason when it does not hold (never its
// text), otherwise said to be sealed and to how many.
function sealedBody(ev) {
  const o = opened(ev);
  if (o && o.refused) return [el("p", { className: "warning sealed" }, t("加密内容未通过校验：") + o.refused)];
  if (o) return [el("span", { className: "tag private" }, t("🔒 私密") + (o.topic ? " · " + label("topic", o.topic) : "")),
    el("p", { className: "text" }, o.text)];
  const n = boxShape(ev.content.box) || 0;
  return [el("p", { className: "sealed" }, t(ev.kind === 3 ? "[加密求助，%n 位收件人]" : ev.kind === 4 ? "[加密回复，%n 位收件人]"
    : "[转介材料已加密，%n 位收件人]", { n }))];
}

// --- rendering --------------------------------------------------------------------------

// One formatter per language: Date.toLocaleString makes one per call, the
// costliest step of drawing a card.
const formats = new Map();

function when(ms) {
  const l = locale();
  if (!formats.has(l))
    formats.set(l, new Intl.DateTimeFormat(l, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric",
      minute: "numeric", second: "numeric", hour12: false }));
  return formats.get(l).format(ms);
}

function left(ms) {
  const m = Math.max(0, Math.round((ms - Date.now()) / 60000));
  return m >= 60 ? t("还剩 %h 小时 %m 分", { h: Math.floor(m / 60), m: m % 60 }) : t("还剩 %m 分钟", { m });
}

function who(ev) {
  const off = app.trust.official(ev);
  if (off)
    return el("span", { className: "badge" }, "✔ " + t(off.role === "station" ? "派出所 " : "警官 ") + off.name,
      off.role === "officer" ? " · " + off.station : "");
  return el("span", { className: "author" }, t("用户 ") + ev.author.slice(0, 8));
}

// One object URL per photo for the page's life: render() runs often.
const photoUrls = new Map();

function photo(ev) {
  const c = ev.content;
  if (!(c.photo instanceof Uint8Array) || !/^image\/(jpeg|png|webp)$/.test(str(c.photo_type))) return null;
  if (!photoUrls.has(ev.id)) photoUrls.set(ev.id, URL.createObjectURL(new Blob([c.photo], { type: c.photo_type })));
  return el("img", { className: "photo", src: photoUrls.get(ev.id), alt: t("照片") });
}

function body(ev) {
  const c = ev.content;
  if (ev.withheld || !c) return [el("p", { className: "withheld" }, t("（已撤回）"))];
  switch (ev.kind) {
  case 1:
    return [el("h3", {}, str(c.title)), el("span", { className: "tag" }, label("category", c.category)),
      el("p", { className: "text" }, str(c.text))];
  case 2:
    return [el("h3", {}, str(c.headline)),
      el("p", { className: "meta" }, label("severity", c.severity) + " · " +
        (ev.expiresAt > Date.now() ? left(ev.expiresAt) : t("已结束")) + " · " + str(c.area_desc)),
      photo(ev), el("p", { className: "text" }, str(c.text)),
      c.instruction ? el("p", { className: "text" }, str(c.instruction)) : null];
  case 3:
    if (c.box) return sealedBody(ev);
    return [el("span", { className: "tag" }, t("求助 · ") + label("topic", c.topic)),
      el("p", { className: "text" }, str(c.text))];
  case 4:
    return c.box ? sealedBody(ev) : [el("p", { className: "text" }, str(c.text))];
  case 5:
    return [el("p", { className: "text" }, t("状态：") + label("state", c.state),
      c.referred_to ? " → " + str(c.referred_to) : "", c.note ? " · " + str(c.note) : ""),
    c.box ? sealedBody(ev) : null];
  case 9:
    return [el("p", { className: "text" }, label("ack", c.what), c.text ? " · " + str(c.text) : "")];
  default:
    return [];
  }
}

function card(ev, answers) {
  const official = app.trust.official(ev) !== null;
  // Bulletins and alerts are valid only from officials: one that is not
  // shown as a warning, never pinned (a node that lies, or a revoked key).
  const suspect = (ev.kind === 1 || ev.kind === 2) && !official;
  const cls = ["card", "kind-" + ev.kindName];
  if (ev.kind === 2 && !suspect) cls.push("sev-" + (SEVERITY_ORDER.includes(ev.content && ev.content.severity) ? ev.content.severity : "Unknown"));
  if (suspect) cls.push("suspect");
  const all = (answers.get(ev.id) || []).sort((a, b) => a.createdAt - b.createdAt);
  // on an alert, acks are counted rather than listed
  const acks = ev.kind === 2 ? all.filter((k) => k.kind === 9) : [];
  const kids = all.filter((k) => !acks.includes(k));
  const running = ev.kind === 2 && !suspect && !ev.withheld && ev.expiresAt > Date.now();
  return el("article", { className: cls.join(" "), dataset: { id: ev.id, kind: ev.kindName } },
    el("header", {}, who(ev), el("time", {}, when(ev.createdAt))),
    app.waiting.has(ev.id) ? el("p", { className: "waiting" }, t("等待发送：节点连上后自动发送")) : null,
    suspect ? el("p", { className: "warning" }, t("⚠ 发布者不是本社区的警官，内容未经核实")) : null,
    body(ev),
    running ? ackBar(ev, acks) : null,
    answerable(ev, suspect) ? el("button", { type: "button", className: "reply", onclick: () => app.reply.aim(ev) }, t("回复")) : null,
    kids.length ? el("div", { className: "answers" }, kids.map((k) => card(k, answers))) : null);
}

// A resident answers a post in clear: bulletins, alerts, public requests.
function answerable(ev, suspect) {
  return !suspect && !ev.withheld && ev.content && (ev.kind === 1 || ev.kind === 2 || (ev.kind === 3 && !ev.content.box));
}

// An answer to an alert goes with it (PROTOCOL.md §4) unless it carries an
// expiry of its own: "keep" gives it this long from now, as `watchmesh post
// reply --expires 30d` does.
const KEEP_MS = 30 * 24 * 3600 * 1000;

function keepUntil(keep) {
  return keep ? Date.now() + KEEP_MS : 0;
}

// The alerts whose acks are kept after they end, as ticked here (the bar
// is drawn again on every render).
const keptAcks = new Set();

// "Seen", "I can help", "found" on a running alert, each with its count,
// and whether the ack outlives the alert.
function ackBar(ev, acks) {
  const keep = el("input", { type: "checkbox", className: "keep",
    onchange: () => (keep.checked ? keptAcks.add(ev.id) : keptAcks.delete(ev.id)) });
  keep.checked = keptAcks.has(ev.id);
  return el("div", { className: "acks" }, Object.keys(LABELS.ack).map((what) => {
    const name = label("ack", what);
    const n = acks.filter((a) => a.content && a.content.what === what).length;
    const b = el("button", {
      type: "button", dataset: { what },
      onclick: async () => {
        b.disabled = true;
        try {
          await send(9, { what }, [ev.id], { expiresAt: keepUntil(keep.checked) });
        } catch (e) {
          b.replaceChildren(name + t("（发送失败：") + e.message + t("）"));
          b.disabled = false;
        }
      },
    }, name + " " + n);
    return b;
  }), el("label", { className: "keep" }, keep, t("警报结束后仍保留 30 天")));
}

// What only an official may post, by a key whose certificates were revoked
// for it (trust.js): the node hides it, and so does the page; it is kept,
// and shows again if the revocations change.
function hidden(ev) {
  const target = app.events.get(ev.refs[0]);
  const needsOfficial = ev.kind === 1 || ev.kind === 2 || (ev.kind === 5 && !(target && target.author === ev.author));
  return needsOfficial && app.trust.revoked(ev);
}

// Alert updates (PROTOCOL.md §4 "Updates", as `watchmesh feed`): id ->
// the newest alert of the group whose refs[0] is that alert.  An update
// that was retracted replaces nothing, and neither does one that is not an
// official's: a lying node could otherwise hide an alert behind a forgery.
function updates(evs) {
  const next = new Map();
  for (const ev of evs) {
    const of = app.events.get(ev.refs[0]);
    if (ev.kind !== 2 || ev.withheld || !of || of.kind !== 2 || of.group !== ev.group || !app.trust.official(ev))
      continue;
    const seen = next.get(of.id);
    if (!seen || ev.createdAt > seen.createdAt) next.set(of.id, ev);
  }
  return next;
}

// An alert's latest version: its newest update, then that one's, and so on
// (64 at most, as the CLI follows).
function latest(ev, next) {
  for (let i = 0; i < 64 && next.has(ev.id); i++) ev = next.get(ev.id);
  return ev;
}

// Replies, statuses and acks go under what they answer when it is here; an
// updated alert shows once, as its latest version, with the answers to
// every version under it; a reply or ack to an alert goes when that latest
// version has expired, unless it carries an expiry of its own (§4).
function threads(evs) {
  const answers = new Map();
  const top = [];
  const next = updates(evs);
  const now = Date.now();
  for (const ev of evs) {
    if (ev.kind === 6 || ev.kind === 7 || ev.kind === 8 || hidden(ev)) continue;
    if (ev.kind === 2 && next.has(ev.id)) continue;
    let target = ev.refs[0];
    const of = app.events.get(target);
    if ((ev.kind === 4 || ev.kind === 9) && of && of.kind === 2 && !of.withheld) {
      const last = latest(of, next);
      if (ev.expiresAt === 0 && last.expiresAt <= now) continue;
      target = last.id;
    }
    if ((ev.kind === 4 || ev.kind === 5 || ev.kind === 9) && target && app.events.has(target)) {
      if (!answers.has(target)) answers.set(target, []);
      answers.get(target).push(ev);
    } else {
      top.push(ev);
    }
  }
  return [top, answers];
}

function feedView() {
  const now = Date.now();
  const [top, answers] = threads([...app.events.values()]);
  const pinned = top.filter((ev) => ev.kind === 2 && !ev.withheld && ev.expiresAt > now && app.trust.official(ev))
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.content.severity) - SEVERITY_ORDER.indexOf(b.content.severity) ||
      b.createdAt - a.createdAt);
  const pins = new Set(pinned);
  const rest = top.filter((ev) => !pins.has(ev)).sort((a, b) => b.createdAt - a.createdAt);
  return [
    pinned.length ? el("section", { id: "alerts" }, el("h2", {}, t("正在进行的警报")), pinned.map((ev) => card(ev, answers))) : null,
    el("section", { id: "feed" }, el("h2", {}, t("社区动态")),
      rest.length ? rest.slice(0, app.shown).map((ev) => card(ev, answers)) : el("p", { className: "empty" }, t("还没有消息")),
      rest.length > app.shown ? olderButton(rest.length - app.shown) : null),
  ];
}

// The feed draws its newest WINDOW cards, not the whole group: "show older"
// (pressed, or scrolled into view) draws as many more.
const olderInView = "IntersectionObserver" in window
  ? new IntersectionObserver((seen) => { if (seen.some((e) => e.isIntersecting)) showOlder(); }) : null;

function showOlder() {
  app.shown += WINDOW;
  render();
}

function olderButton(n) {
  const b = el("button", { type: "button", id: "older", onclick: showOlder }, t("显示更早的消息（还有 %n 条）", { n }));
  if (olderInView) {
    olderInView.disconnect();
    olderInView.observe(b);
  }
  return b;
}

// While the feed syncs, render() runs at most every so often (each draw
// judges the whole group): at least 300 ms apart, and four times as long
// as the last draw took.
let drawing = null;
let drawnAt = 0;
let drawCost = 0;

function drawSoon() {
  if (drawing) return;
  drawing = setTimeout(() => {
    drawing = null;
    render();
  }, Math.max(0, drawnAt + Math.max(300, 4 * drawCost) - Date.now()));
}

function resultsView() {
  const [, answers] = threads([...app.events.values()]);
  return el("section", { id: "results" }, el("h2", {}, t("搜索结果")),
    app.results.length ? app.results.map((ev) => card(ev, answers)) : el("p", { className: "empty" }, t("没有找到")));
}

// The personal-data check before a public text is signed, as `watchmesh
// post` runs it: a text holding a phone, ID or card number is sent only when
// the resident presses send again on the same text.  ok(text) says whether
// to send now; otherwise status says what was found.
function personalCheck(status) {
  let confirmed = null;
  return (text) => {
    const found = piiScan(text);
    if (found.length === 0 || text === confirmed) return true;
    confirmed = text;
    status.textContent = t("内容含有个人信息（") + found.map((f) => label("pii", f.type) + " " + f.masked).join(t("，")) +
      t("），会公开给社区所有人看到。请删除后再发送；确需公开，请再按一次发送。");
    status.className = "warning";
    return false;
  };
}

function requestForm() {
  const topic = el("select", { id: "topic" }, Object.keys(LABELS.topic).map((v) => el("option", { value: v }, label("topic", v))));
  const text = el("textarea", { id: "request-text" });
  const status = el("p", { id: "request-status" });
  const ok = personalCheck(status);
  // sealed to the group's officers unless the resident chooses public
  const open = el("input", { type: "checkbox", id: "request-public" });
  const sealedOrOpen = () => {
    text.placeholder = open.checked ? t("请描述您需要的帮助（会公开显示，请勿写电话、身份证号）")
      : t("请描述您需要的帮助（加密，只有本社区的警官能看到）");
    button.textContent = open.checked ? t("公开发送求助") : t("加密发送求助");
  };
  open.onchange = sealedOrOpen;
  const button = el("button", {
    id: "send-request", type: "button",
    onclick: async () => {
      if (!text.value.trim() || (open.checked && !ok(text.value))) return;
      button.disabled = true;
      status.className = "";
      status.textContent = t("正在发送…");
      try {
        let sent;
        if (open.checked) {
          sent = await send(3, { topic: topic.value, text: text.value });
        } else {
          const to = officials(app.trust, app.group, Date.now());
          if (!to.length) throw new Error(t("这个社区还没有警官的证书，无法加密发送；可以选择公开发送"));
          const parts = { kind: 3, network: app.network, group: app.group, to: to.map(unhex), topic: topic.value,
            lang: guessLang(text.value), text: text.value };
          sent = await send(3, (sk) => ({ box: seal(sk, parts) }));
        }
        text.value = "";
        status.textContent = t(sent ? "已发送" : "已保存，等待发送");
      } catch (e) {
        status.textContent = t("发送失败：") + e.message;
      } finally {
        button.disabled = false;
      }
    },
  });
  sealedOrOpen();
  return el("details", { id: "request" }, el("summary", {}, t("发送求助")), topic, text,
    el("label", {}, open, t("公开发送（社区所有人都能看到）")), button, status);
}

// The reply form: one for the page, aimed at a post by its 回复 button.
// A reply to an alert goes with it unless "keep" is ticked.
function replyForm() {
  const to = el("p", { id: "reply-to" });
  const text = el("textarea", { id: "reply-text", placeholder: t("您的线索或回答（会公开显示）") });
  const keep = el("input", { type: "checkbox", id: "reply-keep" });
  const keepRow = el("label", { hidden: "" }, keep, t("警报结束后仍保留 30 天"));
  const status = el("p", { id: "reply-status" });
  const ok = personalCheck(status);
  const button = el("button", {
    id: "send-reply", type: "button",
    onclick: async () => {
      if (!text.value.trim() || !app.replyTo || !ok(text.value)) return;
      button.disabled = true;
      status.className = "";
      status.textContent = t("正在发送…");
      try {
        const sent = await send(4, { text: text.value }, [app.replyTo], { expiresAt: keepUntil(!keepRow.hidden && keep.checked) });
        text.value = "";
        status.textContent = t(sent ? "已回复" : "已保存，等待发送");
      } catch (e) {
        status.textContent = t("发送失败：") + e.message;
      } finally {
        button.disabled = false;
      }
    },
  }, t("公开回复"));
  const form = el("section", { id: "reply", hidden: "" }, el("h2", {}, t("回复")), to, text, keepRow, button, status);
  form.aim = (ev) => {
    app.replyTo = ev.id;
    to.textContent = t("回复：") + excerpt(ev);
    keepRow.hidden = ev.kind !== 2;
    keep.checked = false;
    status.textContent = "";
    form.hidden = false;
    text.focus();
  };
  return form;
}

function excerpt(ev) {
  const c = ev.content || {};
  const t = str(c.headline) || str(c.title) || str(c.text);
  return t.length > 40 ? t.slice(0, 40) + "…" : t;
}

function searchBox() {
  const input = el("input", { id: "search", type: "search", placeholder: t("搜索"), value: app.query });
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); search(input.value.trim()).catch(fail); } },
    input, el("button", { type: "submit" }, t("搜索")));
  return form;
}

// --- the key: a certificate from the station, backup, restore -------------------------

// A QR code drawn as SVG elements (one path of dark modules).
function qrSvg(text, id) {
  const NS = "http://www.w3.org/2000/svg";
  const m = qrMatrix(text);
  let d = "";
  m.forEach((row, y) => row.forEach((dark, x) => { if (dark) d += "M" + x + " " + y + "h1v1h-1z"; }));
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + m.length + " " + m.length);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("class", "qr");
  if (id) svg.id = id;
  const bg = document.createElementNS(NS, "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "#fff");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", d);
  svg.append(bg, path);
  return svg;
}

// A message from the key's code: a BackupError's phrase translated, or the
// error as it is.
function keyMessage(e) {
  return e instanceof BackupError ? t(e.message, e.args) : e.message;
}

// The text of a restore file: a backup file as it is, a photo of the
// printed QR code read from its pixels.
async function backupText(file) {
  const text = file.size < 4096 ? await file.text() : "";
  if (/^\s*watchmesh-key:/.test(text)) return text;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new BackupError("请选择密钥备份文件，或密钥二维码的照片");
  }
  // a phone's photo is large: the code reads as well from 1200 pixels
  return readPicture(document.createElement("canvas"), bitmap, bitmap.width, bitmap.height, 1200);
}

// The QR code's text in a picture (a bitmap, a video's frame) of w x h,
// drawn into canvas at most `side` pixels a side; a BackupError when
// there is none.
function readPicture(canvas, picture, w, h, side) {
  const k = Math.min(1, side / Math.max(w, h));
  canvas.width = Math.round(w * k);
  canvas.height = Math.round(h * k);
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(picture, 0, 0, canvas.width, canvas.height);
  return readQR(g.getImageData(0, 0, canvas.width, canvas.height));
}

// The camera: the first backup code it sees, read by the browser where it
// reads QR codes itself (BarcodeDetector), otherwise from the video's
// frames in the page (@paulmillr/qr, as a photo is: Chromium on Linux and
// Firefox have no BarcodeDetector).
async function scanBackup(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  try {
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const read = "BarcodeDetector" in window ? detectorReader() : frameReader();
    for (const end = Date.now() + 60000; Date.now() < end; ) {
      const text = await read(video);
      if (text && text.startsWith("watchmesh-key:")) return text;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new BackupError("一分钟内没有认出密钥二维码");
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.hidden = true;
  }
}

function detectorReader() {
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  return async (video) => {
    const found = (await detector.detect(video)).find((c) => c.rawValue.startsWith("watchmesh-key:"));
    return found ? found.rawValue : null;
  };
}

// A frame read at most 800 pixels a side (a code filling a fraction of the
// picture still has several pixels a module); a frame without one is null.
function frameReader() {
  const canvas = document.createElement("canvas");
  return (video) => {
    if (video.readyState < 2 || !video.videoWidth) return null;
    try {
      return readPicture(canvas, video, video.videoWidth, video.videoHeight, 800);
    } catch (e) {
      if (e instanceof BackupError) return null;
      throw e;
    }
  };
}

// The printed backup: the QR code alone on the page, with what it is.
function printBackup(line) {
  const sheet = el("section", { id: "print" },
    el("h2", {}, t("邻里守望 · 密钥备份")),
    qrSvg(line, "print-qr"),
    el("p", {}, t("用这张二维码和您的口令，可以在新手机上恢复您的密钥。没有口令，二维码打不开。请收好，不要拍照发给别人。")),
    el("p", {}, new Date().toLocaleDateString(locale())),
    el("button", { type: "button", id: "print-close", onclick: () => sheet.remove() }, t("关闭")));
  document.body.append(sheet);
  window.print();
}

// "My key": the public key for the station to certify (QR code and hex),
// the backup (a file, a printed QR code) and the restore (a file, a photo
// of the QR code, or the camera).  One key per device: a restore replaces
// it, after a second press.
function keyPanel() {
  const status = el("p", { id: "key-status" });
  const say = (msg, bad) => {
    status.textContent = msg;
    status.className = bad ? "warning" : "";
  };
  const hexOut = el("p", { id: "key-hex", className: "hex" });
  const qrBox = el("div", { id: "key-qr" });
  const showKey = async () => {
    const pub = hex(ed25519.getPublicKey(await seed()));
    hexOut.textContent = pub;
    qrBox.replaceChildren(qrSvg(pub));
  };

  const pass = el("input", { id: "backup-pass", type: "password", placeholder: t("设一个口令（至少 %n 个字）", { n: PASSPHRASE_MIN }) });
  const pass2 = el("input", { id: "backup-pass2", type: "password", placeholder: t("再输一次口令") });
  const sealed = async () => {
    if (pass.value !== pass2.value) throw new BackupError("两次输入的口令不一样");
    say(t("正在加密…"));
    return sealKey(await seed(), pass.value);
  };
  const backupButton = (id, label, use) => {
    const b = el("button", {
      id, type: "button",
      onclick: async () => {
        b.disabled = true;
        try {
          use(await sealed());
          say(t("已备份。请把文件或二维码和口令分开保管。"));
        } catch (e) {
          say(keyMessage(e), true);
        } finally {
          b.disabled = false;
        }
      },
    }, label);
    return b;
  };
  const download = (line) => {
    const a = el("a", { href: URL.createObjectURL(new Blob([line + "\n"], { type: "text/plain" })),
      download: "watchmesh-key.txt" });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  };

  const file = el("input", { id: "restore-file", type: "file", accept: ".txt,text/plain,image/*" });
  const rpass = el("input", { id: "restore-pass", type: "password", placeholder: t("备份时设的口令") });
  const video = el("video", { id: "restore-video", hidden: "", playsinline: "" });
  let scanned = null;
  let replacing = null;   // the backup a second press replaces the key with
  const restore = async (line) => {
    const s = await openKey(line, rpass.value);
    const mine = await seed();
    if (line !== replacing && hex(s) !== hex(mine)) {
      replacing = line;
      say(t("这台手机已有另一把密钥，恢复会替换它（一台手机只用一把密钥）。确定替换，请再按一次恢复。"), true);
      return;
    }
    replacing = null;
    await db.put("seed", s);
    seeding = Promise.resolve(s);
    app.mine = s;
    // the old key's chains stay its own: the restored key starts new ones here
    // (an officer's heads, "head:<key>:<group>", are not this device key's)
    for (const k of await db.keys()) if (/^head:[^:]*$/.test(k)) await db.del(k);
    await showKey();
    say(t("密钥已恢复"));
  };
  const restoreButton = el("button", {
    id: "restore", type: "button",
    onclick: async () => {
      restoreButton.disabled = true;
      try {
        const line = scanned || (file.files[0] ? await backupText(file.files[0]) : null);
        if (!line) throw new BackupError("请先选择备份文件或二维码照片，或用相机扫描");
        say(t("正在解密…"));
        await restore(line);
      } catch (e) {
        say(keyMessage(e), true);
      } finally {
        restoreButton.disabled = false;
      }
    },
  }, t("恢复密钥"));
  file.addEventListener("change", () => { scanned = null; });
  const camera = navigator.mediaDevices && navigator.mediaDevices.getUserMedia ? el("button", {
    id: "restore-camera", type: "button",
    onclick: async () => {
      try {
        scanned = await scanBackup(video);
        say(t("已扫描到密钥二维码，请输入口令后恢复"));
      } catch (e) {
        say(keyMessage(e), true);
      }
    },
  }, t("用相机扫描二维码")) : null;

  const panel = el("details", { id: "key", ontoggle: () => { if (panel.open) showKey().catch((e) => say(e.message, true)); } },
    el("summary", {}, t("我的密钥")),
    el("h3", {}, t("申请居民证书")),
    el("p", {}, t("请派出所的警官扫描下面的二维码（或核对这串公钥），为这台手机发居民证书。")),
    qrBox, hexOut,
    el("h3", {}, t("备份")),
    pass, pass2,
    el("div", { className: "row" }, backupButton("backup-file", t("下载备份文件"), download),
      backupButton("backup-print", t("打印二维码"), printBackup)),
    el("h3", {}, t("恢复")),
    el("label", {}, t("备份文件或二维码照片"), file), camera, video, rpass, restoreButton,
    status);
  return panel;
}

// Replace what `root` shows with the nodes given (nested lists; nulls skipped).
function show(root, ...kids) {
  root.replaceChildren(...kids.flat(Infinity).filter((k) => k instanceof Node));
}

// Chinese by default; English when chosen, remembered on the device.
function langButton() {
  return el("button", {
    type: "button", id: "lang",
    onclick: async () => {
      useLanguage(!isEnglish());
      await db.put("lang", isEnglish() ? "en" : "zh");
      app.content = null;
      render();
    },
  }, t("English"));
}

function useLanguage(english) {
  setEnglish(english);
  document.title = t("邻里守望");
}

// The group's page is built once (so that a live event never wipes what the
// resident is typing); render() then redraws only its feed.
function render() {
  const root = document.getElementById("app");
  if (!app.group) {
    app.content = null;
    const groups = app.trust.groups(Date.now());
    show(root, langButton(), el("h1", {}, t("选择您的社区")),
      groups.length ? el("div", { id: "groups" }, groups.map((g) => el("button", {
        type: "button", className: "group", dataset: { group: g },
        onclick: () => choose(g),
      }, g))) : el("p", {}, t("这个网络还没有社区")), keyPanel());
    return;
  }
  if (!app.content) {
    app.content = el("div", { id: "content" });
    app.reply = replyForm();
    show(root,
      el("header", { id: "top" }, el("h1", {}, app.group),
        el("button", { type: "button", id: "change-group", onclick: () => choose(null) }, t("切换社区")), langButton()),
      app.notice ? el("p", { className: "notice" }, app.notice) : null,
      notifyButton(), searchBox(), requestForm(), keyPanel(), app.reply, officerHook(), app.content);
  }
  if (app.officer) app.officer.refresh();
  const t0 = performance.now();
  show(app.content,
    app.checking !== null ? el("p", { id: "checking", className: "notice" },
      t("正在核对新消息：已核对 %n 条", { n: app.checking.toLocaleString(locale()) })) : null,
    app.unreached ? el("p", { id: "unreached", className: "notice" }, t("连不上节点，显示的是这台手机保存的内容")) : null,
    app.results ? resultsView() : feedView(),
    app.refused.size ? el("p", { className: "refused" }, app.refused.size + t(" 条消息未通过校验，已隐藏")) : null);
  drawnAt = Date.now();
  drawCost = performance.now() - t0;
}

// The officers' panel (officer.js), lent what it needs of the page.
function officerHook() {
  app.officer = officerPanel({ app, el, send, opened, render, choose, listGroup });
  return app.officer;
}

async function choose(g) {
  app.group = g;
  app.loads++;         // a feed still syncing stops
  app.content = null;
  app.replyTo = null;
  app.results = null;
  app.query = "";
  await db.put("group", g);
  if (app.source) app.source.close();
  if (g) await loadFeed();
  else render();
}

function fail(e) {
  console.error(e);
  show(document.getElementById("app"), el("p", { className: "error" }, t("出错了：") + e.message));
}

async function main() {
  useLanguage((await db.get("lang")) === "en");
  // offline: the app and the feed it last read (sw.js); browsers give
  // service workers to secure contexts only (HTTPS, or the node itself)
  if ("serviceWorker" in navigator && window.isSecureContext)
    navigator.serviceWorker.register("sw.js").catch((e) => console.warn("no service worker: " + e.message));
  const pinned = /^#root=([0-9a-f]{64})$/.exec(location.hash);
  app.root = (await db.get("root")) || null;
  if (pinned && !app.root) {
    app.root = pinned[1];
    await db.put("root", app.root);
  } else if (pinned && pinned[1] !== app.root) {
    app.notice = t("这个页面已绑定另一个网络的根密钥，链接中的根密钥未采用");
  }
  app.mine = (await db.get("seed")) || null;
  const net = await db.get("network");
  if (net) app.network = unhex(net);
  await syncTrust();
  const g = await db.get("group");
  app.group = g && app.trust.groups(Date.now()).includes(g) ? g : null;
  if (app.group) await loadFeed();
  else render();
  // the time left on pinned alerts, and alerts that ran out leaving the top;
  // and the outbox, on opening, when the browser is online again, and each
  // minute (a node that comes back while the stream is not retrying)
  setInterval(() => {
    if (app.group) render();
    flushSoon();
  }, 60000);
  addEventListener("online", flushSoon);
  flushSoon();
}

main().catch(fail);
