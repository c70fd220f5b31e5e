// The kinds' content rules (proto/PROTOCOL.md sections 4 and 5), as the
// node's proto/content.c enforces them, with its limits: the page checks
// what it is about to sign, so a resident learns in the page, in one line,
// why the node would refuse it; and it refuses what it reads that a node
// would not have taken.  Limits are UTF-8 bytes.
//
// contentProblem(ev) takes an event as wire.js's readEvent gives it (kind,
// group, refs, expiresAt, content) and returns null when the content keeps
// the rules, else {key, why, args}: `why` is a Chinese phrase with %name
// slots for args, the key of its English in i18n.js.
const TITLE_MAX = 200;
const TEXT_MAX = 16000;
const NOTE_MAX = 4000;
const REASON_MAX = 1000;
const AREA_MAX = 500;
const NAME_MAX = 127;
const PHOTO_MAX = 49152;
const MAX_WIRE = 65536;
const CERT_GROUPS_MAX = 64;
const CERT_GROUPS_JOINED = 1023;
const SEAL_MAX_RECIPIENTS = 16;
const SEAL_PAD = 256;
const SEAL_PAD_MAX = 72 * SEAL_PAD;
const SEAL_MAC = 16;

export const ENUMS = {
  bulletinCategory: ["fraud", "safety", "traffic", "weather", "notice", "lost-found", "other"],
  capCategory: ["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"],
  urgency: ["Immediate", "Expected", "Future", "Past", "Unknown"],
  severity: ["Extreme", "Severe", "Moderate", "Minor", "Unknown"],
  certainty: ["Observed", "Likely", "Possible", "Unlikely", "Unknown"],
  photoType: ["image/jpeg", "image/png", "image/webp"],
  topic: ["police", "non-police", "dispute", "lost-found", "other"],
  state: ["acknowledged", "assigned", "referred", "resolved", "closed"],
  role: ["station", "officer", "node", "resident"],
  ack: ["seen", "helping", "found"],
};

// [key, type, required, min, max | enum list]
const LINE = "line", TEXT = "text", ENUM = "enum", BIN = "bin", KEY = "key", UINT = "uint", ARRAY = "array";
const LANG = ["lang", LINE, false, 2, 35];
const RULES = [
  null,
  [["title", LINE, true, 1, TITLE_MAX], ["text", TEXT, true, 1, TEXT_MAX],
    ["category", ENUM, true, ENUMS.bulletinCategory], LANG],
  [["event", LINE, true, 1, TITLE_MAX], ["headline", LINE, true, 1, TITLE_MAX], ["text", TEXT, true, 1, TEXT_MAX],
    ["category", ENUM, true, ENUMS.capCategory], ["urgency", ENUM, true, ENUMS.urgency],
    ["severity", ENUM, true, ENUMS.severity], ["certainty", ENUM, true, ENUMS.certainty],
    ["area_desc", LINE, true, 1, AREA_MAX], ["circle", ARRAY, false], ["instruction", TEXT, false, 1, NOTE_MAX],
    ["contact", LINE, false, 1, TITLE_MAX], ["photo", BIN, false, 1, PHOTO_MAX],
    ["photo_type", ENUM, false, ENUMS.photoType], LANG],
  [["topic", ENUM, false, ENUMS.topic], ["text", TEXT, false, 1, TEXT_MAX], ["to", ARRAY, false],
    ["box", BIN, false, 1, MAX_WIRE], LANG],
  [["text", TEXT, false, 1, TEXT_MAX], ["box", BIN, false, 1, MAX_WIRE], LANG],
  [["state", ENUM, true, ENUMS.state], ["note", TEXT, false, 1, NOTE_MAX], ["referred_to", LINE, false, 1, TITLE_MAX],
    ["box", BIN, false, 1, MAX_WIRE]],
  [["reason", TEXT, false, 1, REASON_MAX]],
  [["subject", KEY, true], ["role", ENUM, true, ENUMS.role], ["name", LINE, true, 1, NAME_MAX],
    ["groups", ARRAY, true], ["not_before", UINT, true], ["not_after", UINT, true]],
  [["subject", KEY, true], ["reason", TEXT, false, 1, REASON_MAX], ["keep", ARRAY, true]],
  [["what", ENUM, true, ENUMS.ack], ["text", TEXT, false, 1, NOTE_MAX]],
];

const GROUP_RE = /^[a-z0-9._-]{1,64}$/;
const utf8 = new TextEncoder();

function bytes(s) {
  return utf8.encode(s).length;
}

function problem(key, why, args = {}) {
  return { key, why, args: { key, ...args } };
}

// Characters a terminal or a text layout acts on instead of showing
// (proto/mp.c, mp_char_control); a text keeps tab and newline.
function badChar(s, multiline) {
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    const control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
      (cp >= 0x2066 && cp <= 0x2069);
    if (control && !(multiline && (cp === 9 || cp === 10))) return cp;
  }
  return -1;
}

function stringProblem(key, s, multiline) {
  const cp = badChar(s, multiline);
  if (cp < 0) return null;
  const u = "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
  if (cp === 9 || cp === 10) return problem(key, "「%key」只能写一行", { char: u });
  if (cp === 13) return problem(key, "「%key」含有回车符", { char: u });
  return problem(key, "「%key」含有控制字符（%char）", { char: u });
}

function typeOf(v) {
  if (typeof v === "string") return "string";
  if (v instanceof Uint8Array) return "binary";
  if (Array.isArray(v)) return "array";
  if (Number.isSafeInteger(v)) return v >= 0 ? "uint" : "int";
  return "other";
}

function ruleProblem(c, [key, type, required, min, max]) {
  if (!Object.hasOwn(c, key)) return required ? problem(key, "缺少「%key」") : null;
  const v = c[key];
  const want = { [LINE]: "string", [TEXT]: "string", [ENUM]: "string", [BIN]: "binary", [KEY]: "binary",
    [UINT]: "uint", [ARRAY]: "array" }[type];
  if (typeOf(v) !== want) return problem(key, "「%key」的类型不对");
  if (type === ENUM) return min.includes(v) ? null : problem(key, "「%key」只能是：%list", { list: min.join(", ") });
  if (type === KEY) return v.length === 32 ? null : problem(key, "「%key」不是公钥");
  if (type === LINE || type === TEXT || type === BIN) {
    const n = type === BIN ? v.length : bytes(v);
    if (n === 0 && min > 0) return problem(key, "「%key」是空的");
    if (n < min || n > max) return problem(key, "「%key」有 %n 字节，只能是 %min-%max 字节", { n, min, max });
    if (type !== BIN) return stringProblem(key, v, type === TEXT);
  }
  return null;
}

// A sealed box's shape, all a third party can check (crypto's seal_shape).
function boxProblem(box) {
  const n = box[0];
  if (box.length < 1 || n < 1 || n > SEAL_MAX_RECIPIENTS) return problem("box", "「%key」不是密封内容");
  const body = box.length - (1 + 24 + 80 * (n + 1)) - SEAL_MAC;
  if (body <= 0 || body % SEAL_PAD !== 0 || body > SEAL_PAD_MAX) return problem("box", "「%key」不是密封内容");
  return null;
}

function sealedOnly(c, inside) {
  for (const k of inside) if (Object.hasOwn(c, k)) return problem(k, "密封的消息不能明文带「%key」");
  return boxProblem(c.box);
}

function needRef(ev) {
  return ev.refs.length < 1 ? problem("refs", "没有指明回应的是哪条消息") : null;
}

function alertProblem(ev, c) {
  if (ev.expiresAt === 0) return problem("expires_at", "警报必须有结束时间");
  if (Object.hasOwn(c, "photo") !== Object.hasOwn(c, "photo_type"))
    return problem("photo_type", "「photo」和「photo_type」必须一起出现");
  if (Object.hasOwn(c, "circle")) {
    const lo = [-90000000, -180000000, 1], hi = [90000000, 180000000, 1000000];
    if (c.circle.length !== 3) return problem("circle", "「%key」不是 [纬度, 经度, 半径]");
    for (let k = 0; k < 3; k++) {
      const v = c.circle[k];
      if (!Number.isSafeInteger(v) || v < lo[k] || v > hi[k]) return problem("circle", "「%key」超出了地图范围");
    }
  }
  return null;
}

function requestProblem(c) {
  if (Object.hasOwn(c, "to")) return problem("to", "「%key」明文列出了收件人");
  if (Object.hasOwn(c, "box")) return sealedOnly(c, ["topic", "text", "lang"]);
  if (!Object.hasOwn(c, "text")) return problem("text", "缺少「%key」");
  if (!Object.hasOwn(c, "topic")) return problem("topic", "缺少「%key」");
  return null;
}

function replyProblem(ev, c) {
  const p = needRef(ev);
  if (p) return p;
  if (Object.hasOwn(c, "box")) return sealedOnly(c, ["text", "lang"]);
  return Object.hasOwn(c, "text") ? null : problem("text", "缺少「%key」");
}

function statusProblem(ev, c) {
  const p = needRef(ev);
  if (p || !Object.hasOwn(c, "box")) return p;
  if (c.state !== "referred") return problem("box", "只有转介状态才能带密封内容");
  return boxProblem(c.box);
}

function certProblem(c) {
  const g = c.groups;
  if (g.length < 1 || g.length > CERT_GROUPS_MAX) return problem("groups", "「%key」有 %n 项", { n: g.length });
  for (let k = 0; k < g.length; k++) {
    if (typeof g[k] !== "string" || !(g[k] === "*" || GROUP_RE.test(g[k])))
      return problem("groups", "「%key」里有不是社区名的内容");
    if (g[k] === "*" && g.length !== 1) return problem("groups", "「*」必须是唯一的社区");
    if (g.indexOf(g[k]) !== k) return problem("groups", "「%key」里有重复的社区");
  }
  if (g.reduce((n, s) => n + bytes(s), g.length - 1) > CERT_GROUPS_JOINED) return problem("groups", "「%key」太长");
  if (c.not_before >= c.not_after) return problem("not_after", "「%key」不在 not_before 之后");
  return null;
}

function revokeProblem(c) {
  for (const e of c.keep) {
    if (!Array.isArray(e) || e.length !== 3) return problem("keep", "「%key」里有一项不是 [社区, 编号, 结束时间]");
    if (typeof e[0] !== "string" || !GROUP_RE.test(e[0])) return problem("keep", "「%key」里有不是社区名的内容");
    if (!(e[1] instanceof Uint8Array) || e[1].length !== 32) return problem("keep", "「%key」里有不是 32 字节的编号");
    if (typeOf(e[2]) !== "uint") return problem("keep", "「%key」里有不是时间的结束时间");
  }
  return null;
}

export function contentProblem(ev) {
  const c = ev.content;
  const rules = RULES[ev.kind];
  if (!rules || !c) return problem("kind", "未知的消息类型");
  for (const r of rules) {
    const p = ruleProblem(c, r);
    if (p) return p;
  }
  // keys this version does not know keep the text rule, alone or in arrays
  for (const [k, v] of Object.entries(c)) {
    if (rules.some((r) => r[0] === k)) continue;
    for (const s of Array.isArray(v) ? v : [v]) {
      const p = typeof s === "string" ? stringProblem(k, s, true) : null;
      if (p) return p;
    }
  }
  if (typeof c.lang === "string" && !/^[a-zA-Z0-9-]*$/.test(c.lang)) return problem("lang", "「%key」不是语言标签");
  const net = ev.group === "network";
  if ((ev.kind === 7 || ev.kind === 8) !== net) return problem("group", "证书和吊销只在 network 组里，network 组里也只有它们");
  switch (ev.kind) {
  case 2: return alertProblem(ev, c);
  case 3: return requestProblem(c);
  case 4: return replyProblem(ev, c);
  case 5: return statusProblem(ev, c);
  case 6: case 9: return needRef(ev);
  case 7: return certProblem(c);
  case 8: return revokeProblem(c);
  default: return null;
  }
}
