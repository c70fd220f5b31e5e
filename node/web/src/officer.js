// The officers' half of the page: an officer imports his key file (the
// passphrase asked here; officer_key.js), and while it is unlocked works
// the open requests of every community he is an officer of, in one inbox
// (oldest unanswered first), opens sealed ones,
// answers them (sealed when the request was), sets their status -- a
// referral re-seals the request for the office it goes to -- posts
// bulletins and alerts (with a photo scaled down and re-encoded in a
// canvas, which drops its metadata), updates running alerts and sees who
// acknowledged them.
//
// The unlocked key lives in this module's memory only: never in IndexedDB,
// never sent.  It is wiped when the officer locks the page, and after
// IDLE_MS without a touch or a key press: a phone left on a desk, or
// stolen unlocked, holds it for a quarter of an hour at most.
import { LABELS, label, t } from "./i18n.js";
import { KeyFileError, unlockKeyFile } from "./officer_key.js";
import { MAX_RECIPIENTS, SealError, openBox, seal } from "./seal.js";
import { stationView } from "./station.js";
import { unhex } from "./wire.js";

export const IDLE_MS = 15 * 60 * 1000;
const PHOTO_MAX = 49152;
const BULLETIN_CATEGORIES = Object.keys(LABELS.category);
const ALERT_CATEGORIES = ["Safety", "Rescue", "Security", "Fire", "Health", "Met", "Geo", "Env", "Transport", "Infra",
  "CBRNE", "Other"];
const HAS_CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
// the panel's inputs, one a line on a 360-pixel screen (app.css lays out
// the selects and textareas of a details element so, not its inputs)
const FIELD = "display: block; width: 100%; box-sizing: border-box; margin: 0.4rem 0";

let key = null;        // {seed, pub} while unlocked
let idle = null;       // the timer that locks it
let onLock = () => {};

// The events of the officer's communities other than the page's (which
// main.js follows live): group -> {events: Map id -> event, next: cursor}.
// Read when the key is unlocked, then again from their cursors at most
// every PULL_MS while the panel is redrawn, and after an answer sent there.
const PULL_MS = 30 * 1000;
const elsewhere = new Map();
let pulledAt = 0;
let pulling = null;
let inboxGroup = "";   // the inbox's filter: one community, or "" for all

// The seeds held unlocked now (for opening boxes); none when locked.
export function officerSeeds() {
  return key ? [key.seed] : [];
}

// Wipe the key and forget it; the page redraws without what it opened.
export function lock() {
  if (!key) return;
  key.seed.fill(0);
  key = null;
  clearTimeout(idle);
  elsewhere.clear();
  pulledAt = 0;
  onLock();
}

function touched() {
  if (!key) return;
  clearTimeout(idle);
  idle = setTimeout(lock, IDLE_MS);
}

for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, touched, { capture: true, passive: true });

// The keys a request of group is sealed to (PROTOCOL.md section 6, as
// `watchmesh post request --to officers`): its stations and officers now,
// by the certificates the page checked (hex).
export function officials(trust, group, now) {
  const out = [...trust.certs.keys()].filter((subject) => trust.official({ author: subject, group, createdAt: now }));
  if (out.length > MAX_RECIPIENTS)
    throw new Error(t("这个社区有 %n 位警官，一个加密求助最多发给 %m 位", { n: out.length, m: MAX_RECIPIENTS }));
  return out;
}

// The language of a text as `watchmesh post` guesses it: zh when it has Chinese.
export function guessLang(text) {
  return HAS_CJK.test(text) ? "zh" : "";
}

function str(v) {
  return typeof v === "string" ? v : "";
}

// A photo scaled down until its JPEG fits an alert (48 KiB).  Drawing it in
// a canvas and encoding the canvas keeps the pixels only: EXIF (with a GPS
// position), XMP and comments are not carried over.
async function scalePhoto(file) {
  const bmp = await createImageBitmap(file);
  const canvas = document.createElement("canvas");
  for (let side = 1280; side >= 120; side = Math.floor(side * 0.7)) {
    const s = Math.min(1, side / Math.max(bmp.width, bmp.height));
    canvas.width = Math.max(1, Math.round(bmp.width * s));
    canvas.height = Math.max(1, Math.round(bmp.height * s));
    canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
    for (const q of [0.8, 0.6, 0.45]) {
      const blob = await new Promise((res) => canvas.toBlob(res, "image/jpeg", q));
      if (blob && blob.size <= PHOTO_MAX) return new Uint8Array(await blob.arrayBuffer());
    }
  }
  throw new Error(t("照片无法缩小到 48 KiB"));
}

// The communities the unlocked key is an officer of now.
function officerGroups(app, now) {
  return app.trust.groups(now).filter((g) => app.trust.official({ author: key.pub, group: g, createdAt: now }));
}

// The checked events of group g the page holds.
function eventsOf(app, g) {
  if (g === app.group) return [...app.events.values()];
  return elsewhere.has(g) ? [...elsewhere.get(g).events.values()] : [];
}

// Read what is new in groups (not the page's) from their cursors, then
// done().  One read at a time; a node out of reach leaves what was read.
function pull(ctx, groups, done) {
  pulledAt = Date.now();
  const p = (pulling || Promise.resolve()).then(async () => {
    for (const g of groups) {
      if (g === ctx.app.group) continue;
      // held before the read: one that fails waits PULL_MS like the others
      const held = elsewhere.get(g) || { events: new Map(), next: 0 };
      elsewhere.set(g, held);
      await ctx.listGroup(g, held.next, (evs, next) => {
        for (const ev of evs) held.events.set(ev.id, ev);
        held.next = next;
      });
    }
  }).catch((e) => console.warn("the officer's other communities were not read: " + e.message))
    .then(() => {
      if (pulling === p) pulling = null;
      if (key) done();
    });
  pulling = p;
  return p;
}

// ctx: what main.js lends: app (its state), el (DOM, text nodes only),
// send(kind, content, refs, {as, expiresAt, group}), opened(ev) (a box
// opened with the keys held here), render(), choose(group),
// listGroup(group, after, onPage) (a group's checked events from a cursor,
// handed to onPage(events, next) a page at a time).
export function officerPanel(ctx) {
  const { app, el } = ctx;
  onLock = () => {
    panel.refresh();
    ctx.render();
  };

  // --- locked: the key file and its passphrase ---
  const file = el("input", { type: "file", id: "officer-key", style: FIELD });
  const pass = el("input", { type: "password", id: "officer-pass", placeholder: t("密钥文件的口令"), style: FIELD });
  const status = el("p", { id: "officer-status" });
  const unlock = el("button", {
    type: "button", id: "officer-unlock",
    onclick: async () => {
      if (!file.files.length) return;
      unlock.disabled = true;
      status.className = "";
      status.textContent = t("正在解锁…");
      try {
        // a key file is under 400 bytes: a photo picked by mistake is not read
        if (file.files[0].size > 4096) throw new KeyFileError(t("这不是密钥文件（太大）"));
        const got = await unlockKeyFile(await file.files[0].text(), async () => pass.value,
          (p) => { status.textContent = t("正在解锁… %p%", { p: Math.round(p * 100) }); });
        key = got;
        pass.value = "";
        file.value = "";
        status.textContent = "";
        touched();
        panel.refresh();
        ctx.render();
      } catch (e) {
        // a KeyFileError, or the phone short of memory for the key derivation
        status.className = "warning";
        status.textContent = t("无法解锁：") + e.message;
      } finally {
        unlock.disabled = false;
      }
    },
  }, t("解锁"));
  const locked = el("div", { id: "officer-locked" },
    el("p", {}, t("导入您的密钥文件。解锁后的密钥只保存在本页面的内存中，15 分钟无操作自动锁定。")),
    file, pass, unlock, status);

  // --- unlocked ---
  const who = el("p", { id: "officer-who" });
  // the page's feed is one group: his others' are a press away
  const groups = el("div", { id: "officer-groups" });
  // one inbox for all his communities, or one of them
  const filter = el("select", { id: "inbox-group", onchange: () => {
    inboxGroup = filter.value;
    panel.refresh();
  } });
  const inbox = el("div", { id: "inbox" });
  const acks = el("div", { id: "alert-acks" });
  const station = el("div", { id: "station" });
  const figures = el("details", { id: "station-page", ontoggle: () => panel.refresh() },
    el("summary", {}, t("派出所统计")), station);
  const act = actForm(ctx);
  const post = postForm(ctx);
  const unlocked = el("div", { id: "officer-unlocked" },
    who, el("button", { type: "button", id: "officer-lock", onclick: lock }, t("锁定")), groups,
    el("h3", {}, t("待处理的求助")), filter, inbox, act,
    el("h3", {}, t("发布")), post,
    el("h3", {}, t("警报回应")), acks,
    figures);

  const panel = el("details", { id: "officer" }, el("summary", {}, t("警官入口")), locked);
  panel.open = key !== null;     // still unlocked, from another community's page
  panel.refresh = () => {
    if (!key) {
      act.reset();
      if (panel.lastChild !== locked) panel.replaceChildren(panel.firstChild, locked);
      return;
    }
    if (panel.lastChild !== unlocked) panel.replaceChildren(panel.firstChild, unlocked);
    const now = Date.now();
    const off = app.trust.official({ author: key.pub, group: app.group, createdAt: now });
    who.textContent = off ? t("已解锁：") + off.name + " · " + off.station
      : t("已解锁，但这把密钥不是本社区的警官：") + key.pub.slice(0, 8);
    const all = officerGroups(app, now);
    const mine = all.filter((g) => g !== app.group);
    groups.replaceChildren(...(mine.length ? [t("您的其他社区：")] : []), ...mine.map((g) => el("button", {
      type: "button", className: "group", dataset: { group: g }, onclick: () => ctx.choose(g),
    }, g)));
    if (!pulling && (Date.now() - pulledAt > PULL_MS || mine.some((g) => !elsewhere.has(g))))
      pull(ctx, mine, () => panel.refresh());
    // the page's community is in the inbox even when he is not its officer
    const shown = all.includes(app.group) ? all : [app.group, ...all];
    if (!shown.includes(inboxGroup)) inboxGroup = "";
    filter.replaceChildren(el("option", { value: "" }, t("全部社区")), ...shown.map((g) => el("option", { value: g }, g)));
    filter.value = inboxGroup;
    filter.hidden = shown.length < 2;
    inbox.replaceChildren(...inboxItems(ctx, act, (inboxGroup ? [inboxGroup] : shown).flatMap((g) => eventsOf(app, g))));
    acks.replaceChildren(...alertAcks(ctx));
    post.refresh();
    if (figures.open) station.replaceChildren(stationView(app, el, ctx.opened));
  };
  return panel;
}

// --- the inbox ------------------------------------------------------------------------

// The official answers (replies, statuses) to each request in evs, and the
// requests still open (not resolved, not closed), oldest unanswered first.
function openRequests(app, evs) {
  const answers = new Map();
  for (const e of evs) {
    if ((e.kind !== 4 && e.kind !== 5) || !e.refs[0] || e.withheld) continue;
    if (!answers.has(e.refs[0])) answers.set(e.refs[0], []);
    answers.get(e.refs[0]).push(e);
  }
  const out = [];
  for (const r of evs) {
    if (r.kind !== 3 || r.withheld) continue;
    const mine = (answers.get(r.id) || []).sort((a, b) => a.createdAt - b.createdAt);
    const official = mine.filter((e) => app.trust.official(e));
    // a status counts from an official, or "closed" from the one who asked
    const states = mine.filter((e) => e.kind === 5 && e.content &&
      (official.includes(e) || (e.author === r.author && e.content.state === "closed")));
    const state = states.length ? str(states[states.length - 1].content.state) : "";
    if (state === "resolved" || state === "closed") continue;
    out.push({ ev: r, state, answered: official.length > 0 });
  }
  return out.sort((a, b) => a.answered - b.answered || a.ev.createdAt - b.ev.createdAt);
}

function inboxItems(ctx, act, evs) {
  const { app, el } = ctx;
  const items = openRequests(app, evs);
  if (!items.length) return [el("p", { className: "empty" }, t("没有待处理的求助"))];
  return items.map(({ ev, state, answered }) => {
    const c = ev.content;
    const o = c.box ? ctx.opened(ev) : null;
    const text = !c.box ? [el("span", { className: "tag" }, label("topic", c.topic)), el("p", { className: "text" }, str(c.text))]
      : o && o.refused ? [el("p", { className: "warning" }, t("加密内容未通过校验：") + o.refused)]
        : o ? [el("span", { className: "tag" }, t("🔒 ") + label("topic", o.topic)), el("p", { className: "text" }, o.text)]
          : [el("p", { className: "sealed" }, t("[加密求助，不是发给您的]"))];
    return el("article", { className: "inbox-item" + (answered ? "" : " unanswered"), dataset: { id: ev.id } },
      el("header", {}, el("span", { className: "tag group" }, ev.group), " ", el("time", {}, new Date(ev.createdAt).toLocaleString())),
      text,
      el("p", { className: "meta" }, (answered ? t("已回应") : t("未回应")) + (state ? " · " + label("state", state) : "")),
      el("button", { type: "button", className: "handle", onclick: () => act.aim(ev) }, t("处理")));
  });
}

// The one form that answers a request, aimed at it by its 处理 button:
// a reply, and a status (a referral re-seals a sealed request).
function actForm(ctx) {
  const { app, el } = ctx;
  let target = null;
  const to = el("p", { id: "act-to" });
  const reply = el("textarea", { id: "act-reply", placeholder: t("回复求助人") });
  const state = el("select", { id: "act-state" },
    ["acknowledged", "assigned", "referred", "resolved"].map((s) => el("option", { value: s }, label("state", s))));
  const office = el("input", { id: "act-office", placeholder: t("转介给（如 新华村人民调解委员会）"), style: FIELD });
  const officeKey = el("input", { id: "act-office-key", placeholder: t("对方的公钥（64 位十六进制）或证书名称"), style: FIELD });
  const note = el("input", { id: "act-note", placeholder: t("备注（公开）"), style: FIELD });
  const status = el("p", { id: "act-status" });

  async function run(button, what) {
    button.disabled = true;
    status.className = "";
    status.textContent = t("正在发送…");
    try {
      const g = target.group;
      await what();
      // his answer in another community: read it back for the inbox
      if (g !== app.group) await pull(ctx, [g], () => {});
      status.textContent = t("已发送");
      ctx.render();
    } catch (e) {
      status.className = "warning";
      status.textContent = t("发送失败：") + e.message;
    } finally {
      button.disabled = false;
    }
  }

  const sendReply = el("button", {
    type: "button", id: "act-send-reply",
    onclick: () => reply.value.trim() && target && run(sendReply, async () => {
      const ev = target;
      if (!ev.content.box) {
        await ctx.send(4, { text: reply.value }, [ev.id], { as: key, group: ev.group });
      } else {
        const o = ctx.opened(ev);
        if (!o || o.refused) throw new Error(t("这条加密求助无法打开，不能加密回复"));
        // the one who asked, and the others it was sealed to
        const rcpt = [ev.author, ...o.to.filter((k) => k !== ev.author && k !== key.pub)].slice(0, MAX_RECIPIENTS);
        const text = reply.value;
        await ctx.send(4, (sk) => ({ box: seal(sk, { kind: 4, network: app.network, group: ev.group,
          to: rcpt.map(unhex), lang: guessLang(text), text }) }), [ev.id], { as: key, group: ev.group });
      }
      reply.value = "";
    }),
  }, t("回复"));

  const sendState = el("button", {
    type: "button", id: "act-send-state",
    onclick: () => target && run(sendState, async () => {
      const ev = target;
      const content = { state: state.value };
      if (note.value.trim()) content.note = note.value.trim();
      if (state.value === "referred") {
        if (!office.value.trim()) throw new Error(t("请写明转介给谁"));
        content.referred_to = office.value.trim();
        if (ev.content.box) {
          const o = ctx.opened(ev);
          if (!o || o.refused) throw new Error(t("这条加密求助无法打开，不能转介"));
          const pub = officeKeyOf(app, officeKey.value.trim());
          await ctx.send(5, (sk) => ({ ...content, box: seal(sk, { kind: 5, network: app.network, group: ev.group,
            to: [unhex(pub)], topic: o.topic, lang: o.lang, text: o.text }) }), [ev.id], { as: key, group: ev.group });
          return;
        }
      }
      await ctx.send(5, content, [ev.id], { as: key, group: ev.group });
    }),
  }, t("更新状态"));

  const form = el("section", { id: "act", hidden: "" }, to, reply, sendReply,
    el("div", {}, state, office, officeKey, note, sendState), status);
  // on lock: nothing the key opened stays behind, even hidden
  form.reset = () => {
    target = null;
    to.textContent = reply.value = status.textContent = "";
    form.hidden = true;
  };
  form.aim = (ev) => {
    target = ev;
    const o = ev.content.box ? ctx.opened(ev) : null;
    to.textContent = t("处理：") + (ev.content.box ? (o && !o.refused ? o.text : t("[加密求助]")) : str(ev.content.text)).slice(0, 40);
    officeKey.hidden = !ev.content.box;
    status.textContent = "";
    form.hidden = false;
  };
  return form;
}

// The office's key: 64 hex digits, or the exact name of a certificate the
// page checked (as `watchmesh post --to` takes one).
function officeKeyOf(app, v) {
  if (/^[0-9a-f]{64}$/.test(v)) return v;
  const named = [...app.trust.certs.entries()].filter(([, l]) => l.some((c) => c.name === v)).map(([k]) => k);
  if (named.length === 1) return named[0];
  throw new Error(named.length ? t("有多个证书叫这个名字，请填公钥") : t("转介需要对方的公钥（64 位十六进制）或证书名称"));
}

// --- posting ------------------------------------------------------------------------------

function runningAlerts(app) {
  const now = Date.now();
  return [...app.events.values()].filter((e) => e.kind === 2 && !e.withheld && e.content && e.expiresAt > now &&
    app.trust.official(e)).sort((a, b) => b.createdAt - a.createdAt);
}

function postForm(ctx) {
  const { app, el } = ctx;
  const kind = el("select", { id: "post-kind" }, el("option", { value: "1" }, t("公告")), el("option", { value: "2" }, t("警报")));
  const updates = el("select", { id: "post-updates" });
  const title = el("input", { id: "post-title", placeholder: t("标题"), style: FIELD });
  const text = el("textarea", { id: "post-text", placeholder: t("内容") });
  const bcat = el("select", { id: "post-category" }, BULLETIN_CATEGORIES.map((c) => el("option", { value: c }, label("category", c))));
  const acat = el("select", { id: "post-alert-category" }, ALERT_CATEGORIES.map((c) => el("option", { value: c }, c)));
  const severity = el("select", { id: "post-severity" },
    Object.keys(LABELS.severity).map((s) => el("option", { value: s }, label("severity", s))));
  severity.value = "Severe";
  const area = el("input", { id: "post-area", placeholder: t("范围（如 新华村）"), style: FIELD });
  const hours = el("input", { id: "post-hours", type: "number", value: "24", min: "1", max: "720", style: FIELD });
  const photo = el("input", { id: "post-photo", type: "file", accept: "image/jpeg,image/png,image/webp", style: FIELD });
  const status = el("p", { id: "post-status" });
  const alertOnly = el("div", { className: "alert-only" }, el("label", {}, t("更新正在进行的警报："), updates), acat, severity, area,
    el("label", {}, t("有效小时数："), hours), el("label", {}, t("照片："), photo));
  const show = () => {
    alertOnly.hidden = kind.value !== "2";
    bcat.hidden = kind.value !== "1";
  };
  kind.onchange = show;
  updates.onchange = () => {
    const a = app.events.get(updates.value);
    if (!a) return;
    title.value = str(a.content.headline);
    text.value = str(a.content.text);
    area.value = str(a.content.area_desc);
    if (ALERT_CATEGORIES.includes(a.content.category)) acat.value = a.content.category;
    if (a.content.severity in LABELS.severity) severity.value = a.content.severity;
  };
  const button = el("button", {
    type: "button", id: "post-send",
    onclick: async () => {
      if (!title.value.trim() || !text.value.trim() || !key) return;
      button.disabled = true;
      status.className = "";
      status.textContent = t("正在发送…");
      try {
        const lang = guessLang(title.value + text.value);
        if (kind.value === "1") {
          await ctx.send(1, { title: title.value.trim(), text: text.value, category: bcat.value, ...(lang && { lang }) }, [],
            { as: key });
        } else {
          if (!area.value.trim()) throw new Error(t("请填写警报范围"));
          const h = Number(hours.value);
          if (!(h >= 1 && h <= 720)) throw new Error(t("有效时间为 1 到 720 小时"));
          const c = { event: title.value.trim(), headline: title.value.trim(), text: text.value, category: acat.value,
            urgency: "Immediate", severity: severity.value, certainty: "Observed", area_desc: area.value.trim(),
            ...(lang && { lang }) };
          if (photo.files.length) {
            c.photo = await scalePhoto(photo.files[0]);
            c.photo_type = "image/jpeg";
          }
          // an update names the running alert first (CAP msgType Update, section 19)
          await ctx.send(2, c, updates.value ? [updates.value] : [], { as: key, expiresAt: Date.now() + h * 3600000 });
        }
        title.value = text.value = "";
        photo.value = "";
        updates.value = "";
        status.textContent = t("已发布");
        ctx.render();
      } catch (e) {
        status.className = "warning";
        status.textContent = t("发送失败：") + e.message;
      } finally {
        button.disabled = false;
      }
    },
  }, t("发布"));
  const form = el("section", { id: "post" }, kind, title, text, bcat, alertOnly, button, status);
  form.refresh = () => {
    const chosen = updates.value;
    updates.replaceChildren(el("option", { value: "" }, t("（新警报）")),
      ...runningAlerts(app).map((a) => el("option", { value: a.id }, str(a.content.headline))));
    updates.value = app.events.has(chosen) ? chosen : "";
  };
  show();
  return form;
}

// --- acknowledgements ----------------------------------------------------------------------

// Per running alert: how many residents acknowledged it, and how (each
// resident counted once per answer).
function alertAcks(ctx) {
  const { app, el } = ctx;
  const alerts = runningAlerts(app);
  if (!alerts.length) return [el("p", { className: "empty" }, t("没有正在进行的警报"))];
  const acks = [...app.events.values()].filter((e) => e.kind === 9 && e.content && !e.withheld);
  return alerts.map((a) => {
    const mine = acks.filter((k) => k.refs[0] === a.id);
    const by = (what) => new Set(mine.filter((k) => k.content.what === what).map((k) => k.author)).size;
    return el("p", { className: "alert-ack", dataset: { id: a.id } }, str(a.content.headline) + t("：") +
      t("%n 位居民回应", { n: new Set(mine.map((k) => k.author)).size }) + " · " +
      Object.keys(LABELS.ack).map((w) => label("ack", w) + " " + by(w)).join(" · "));
  });
}

// Opening a box with a seed, for main.js: the parts, {refused: why}, or
// null when it is not sealed to that key.
export function tryOpen(ev, seed) {
  try {
    return openBox(ev, seed);
  } catch (e) {
    if (e instanceof SealError) return { refused: e.message };
    throw e;
  }
}
