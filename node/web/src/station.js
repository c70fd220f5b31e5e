// The station page: the figures a station reports, computed in the page
// from the events it checked itself (the group's, as synced) -- help
// requests per month by topic and by outcome, the time to the first
// official answer, bulletins by category -- drawn as inline SVG bar charts.
// Labels are text nodes in <text> elements, never markup.  A sealed
// request's topic counts only when the officer's key opened it.
import { LABELS, label, t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 340;
const ROW = 22;
const LEFT = 70;
const COLOURS = ["#1565c0", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f", "#8d6e63", "#9e9e9e"];
const OUTCOMES = ["open", "acknowledged", "assigned", "referred", "resolved", "closed"];

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function month(ms) {
  const d = new Date(ms);
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
}

// A horizontal stacked bar chart: rows [{name, values: {key: n}}], keys in
// the legend's order, with their labels.
function chart(el, id, title, rows, keys, keyLabel) {
  const max = Math.max(1, ...rows.map((r) => keys.reduce((n, k) => n + (r.values[k] || 0), 0)));
  const used = keys.filter((k) => rows.some((r) => r.values[k]));
  const h = rows.length * ROW + 8 + Math.ceil(used.length / 3) * 18;
  // as wide as the screen allows, drawn in W units
  const s = svg("svg", { width: "100%", viewBox: "0 0 " + W + " " + h, role: "img", "aria-label": title });
  rows.forEach((r, i) => {
    const y = i * ROW + 4;
    s.append(svg("text", { x: 0, y: y + 14, "font-size": 12 }, r.name));
    let x = LEFT;
    for (const k of keys) {
      const n = r.values[k] || 0;
      if (!n) continue;
      const w = ((W - LEFT - 30) * n) / max;
      s.append(svg("rect", { x, y, width: w, height: ROW - 6, fill: COLOURS[keys.indexOf(k) % COLOURS.length],
        "data-key": k, "data-n": n }, svg("title", {}, keyLabel(k) + " " + n)));
      x += w;
    }
    s.append(svg("text", { x: x + 4, y: y + 14, "font-size": 12 }, keys.reduce((n, k) => n + (r.values[k] || 0), 0)));
  });
  used.forEach((k, i) => {
    const x = (i % 3) * 110;
    const y = rows.length * ROW + 8 + Math.floor(i / 3) * 18;
    s.append(svg("rect", { x, y, width: 10, height: 10, fill: COLOURS[keys.indexOf(k) % COLOURS.length] }),
      svg("text", { x: x + 14, y: y + 10, "font-size": 11 }, keyLabel(k)));
  });
  return el("figure", { className: "chart", id, style: "margin: 0 0 1em" }, el("figcaption", {}, title),
    rows.length ? s : el("p", { className: "empty" }, t("还没有数据")));
}

// app: main.js's state; el: its DOM helper; opened(ev): a sealed request's
// parts when a key held here opens it.
export function stationView(app, el, opened) {
  const evs = [...app.events.values()].filter((e) => !e.withheld && e.content);
  const answers = new Map();
  for (const e of evs)
    if ((e.kind === 4 || e.kind === 5) && e.refs[0] && app.trust.official(e)) {
      if (!answers.has(e.refs[0])) answers.set(e.refs[0], []);
      answers.get(e.refs[0]).push(e);
    }
  const byTopic = new Map();
  const byOutcome = new Map();
  const waits = new Map();
  const row = (m, map) => {
    if (!map.has(m)) map.set(m, {});
    return map.get(m);
  };
  for (const r of evs.filter((e) => e.kind === 3)) {
    const m = month(r.createdAt);
    const o = r.content.box ? opened(r) : null;
    const topic = r.content.box ? (o && !o.refused ? o.topic : "sealed") : String(r.content.topic);
    const tv = row(m, byTopic);
    tv[topic] = (tv[topic] || 0) + 1;
    const mine = (answers.get(r.id) || []).sort((a, b) => a.createdAt - b.createdAt);
    const states = mine.filter((e) => e.kind === 5);
    const outcome = states.length ? String(states[states.length - 1].content.state) : "open";
    const ov = row(m, byOutcome);
    ov[outcome] = (ov[outcome] || 0) + 1;
    if (mine.length) {
      if (!waits.has(m)) waits.set(m, []);
      waits.get(m).push(Math.max(0, mine[0].createdAt - r.createdAt));
    }
  }
  const months = (map) => [...map.keys()].sort().map((m) => ({ name: m, values: map.get(m) }));
  const topics = [...Object.keys(LABELS.topic), "sealed"];
  const wait = [...waits.keys()].sort().map((m) => {
    const l = waits.get(m).sort((a, b) => a - b);
    return { name: m, values: { median: Math.round(l[Math.floor(l.length / 2)] / 60000) } };
  });
  const cats = {};
  for (const b of evs.filter((e) => e.kind === 1 && app.trust.official(e)))
    cats[String(b.content.category)] = (cats[String(b.content.category)] || 0) + 1;
  return el("div", {},
    chart(el, "chart-topics", t("每月求助（按类别）"), months(byTopic), topics,
      (k) => (k === "sealed" ? t("加密") : label("topic", k))),
    chart(el, "chart-outcomes", t("每月求助（按结果）"), months(byOutcome), OUTCOMES,
      (k) => (k === "open" ? t("待处理") : label("state", k))),
    chart(el, "chart-wait", t("首次回应时间（中位数，分钟）"), wait, ["median"], () => t("分钟")),
    chart(el, "chart-bulletins", t("公告（按类别）"), Object.keys(LABELS.category).filter((c) => cats[c])
      .map((c) => ({ name: label("category", c), values: { [c]: cats[c] } })), Object.keys(LABELS.category),
    (k) => label("category", k)));
}
