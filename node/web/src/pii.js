// The personal-data check the page runs on public text before it signs:
// node/pii.c's rules, line for line (mainland mobile numbers, resident ID
// numbers, bank card numbers; every script's digits and NFKC's numerals,
// invisible characters skipped, up to three separators between groups).
// The rules and their reasons are in node/pii.h; tests/browser/pii.mjs
// checks that this and `watchmesh post` find the same numbers.
const CH_OTHER = 0, CH_DIGIT = 1, CH_SEP = 2, CH_PLUS = 3, CH_X = 4, CH_ALNUM = 5, CH_FORMAT = 6;

const ND_ZERO = [
  0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66,
  0x0ce6, 0x0d66, 0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810,
  0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0,
  0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0,
  0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0,
  0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1e140, 0x1e2f0,
  0x1e950, 0x1fbf0,
];

// [first, last, first_value]
const NUMERALS = [
  [0x00b2, 0x00b3, 2], [0x00b9, 0x00b9, 1], [0x2070, 0x2070, 0], [0x2074, 0x2079, 4],
  [0x2080, 0x2089, 0], [0x2460, 0x2473, 1], [0x2474, 0x2487, 1], [0x2488, 0x249b, 1],
  [0x24ea, 0x24ea, 0], [0x24eb, 0x24f4, 11], [0x24f5, 0x24fe, 1], [0x24ff, 0x24ff, 0],
  [0x2776, 0x277f, 1], [0x2780, 0x2789, 1], [0x278a, 0x2793, 1], [0x3251, 0x325f, 21],
  [0x32b1, 0x32bf, 36], [0x1d7ce, 0x1d7d7, 0], [0x1d7d8, 0x1d7e1, 0], [0x1d7e2, 0x1d7eb, 0],
  [0x1d7ec, 0x1d7f5, 0], [0x1d7f6, 0x1d7ff, 0], [0x1f100, 0x1f100, 0], [0x1f101, 0x1f10a, 0],
  [0x1f10b, 0x1f10b, 0], [0x1f10c, 0x1f10c, 0],
];

// [first, last, class]
const RANGES = [
  [0x00a0, 0x00bf, CH_SEP], [0x00d7, 0x00d7, CH_SEP], [0x00f7, 0x00f7, CH_SEP],
  [0x0300, 0x036f, CH_FORMAT], [0x061c, 0x061c, CH_FORMAT], [0x115f, 0x1160, CH_FORMAT],
  [0x17b4, 0x17b5, CH_FORMAT], [0x180b, 0x180f, CH_FORMAT], [0x2000, 0x200a, CH_SEP],
  [0x200b, 0x200f, CH_FORMAT], [0x2010, 0x2029, CH_SEP], [0x202a, 0x202e, CH_FORMAT],
  [0x202f, 0x205f, CH_SEP], [0x2060, 0x206f, CH_FORMAT], [0x20d0, 0x20ff, CH_FORMAT],
  [0x2212, 0x2219, CH_SEP], [0x2500, 0x257f, CH_SEP], [0x2e00, 0x2e7f, CH_SEP],
  [0x3000, 0x3004, CH_SEP], [0x3008, 0x3020, CH_SEP], [0x3030, 0x3030, CH_SEP],
  [0x303d, 0x303d, CH_SEP], [0x30fb, 0x30fb, CH_SEP], [0x3164, 0x3164, CH_FORMAT],
  [0xfe00, 0xfe0f, CH_FORMAT], [0xfe10, 0xfe19, CH_SEP], [0xfe20, 0xfe2f, CH_FORMAT],
  [0xfe30, 0xfe6b, CH_SEP], [0xfeff, 0xfeff, CH_FORMAT], [0xff01, 0xff0f, CH_SEP],
  [0xff1a, 0xff20, CH_SEP], [0xff21, 0xff3a, CH_ALNUM], [0xff3b, 0xff40, CH_SEP],
  [0xff41, 0xff5a, CH_ALNUM], [0xff5b, 0xff65, CH_SEP], [0xffa0, 0xffa0, CH_FORMAT],
  [0xffe0, 0xffee, CH_SEP], [0xfff9, 0xfffb, CH_FORMAT], [0x1d173, 0x1d17a, CH_FORMAT],
  [0xe0000, 0xe007f, CH_FORMAT], [0xe0100, 0xe01ef, CH_FORMAT],
];

const RUN_MAX = 20;
const SEP_MAX = 3;

function number(v) {
  return { cls: CH_DIGIT, dig: String(v) };
}

function asciiClass(b) {
  if (b === 0x58 || b === 0x78) return CH_X;
  if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) return CH_ALNUM;
  if (b === 0x2b) return CH_PLUS;
  if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || (b > 0x20 && b < 0x7f)) return CH_SEP;
  return CH_OTHER;
}

// The class of code point u, and its digits as NFKC (and further) reads them.
function chOf(u) {
  const other = { cls: CH_OTHER, dig: "" };
  if (u >= 0x30 && u <= 0x39) return number(u - 0x30);
  if (u < 0x80) return { cls: asciiClass(u), dig: "" };
  if (u >= 0x3400 && u <= 0x9fff) return other;
  for (const z of ND_ZERO) if (u >= z && u <= z + 9) return number(u - z);
  for (const [first, last, v] of NUMERALS) if (u >= first && u <= last) return number(v + u - first);
  if (u === 0xff38 || u === 0xff58) return { cls: CH_X, dig: "" };
  if (u === 0xff0b || u === 0xfe62) return { cls: CH_PLUS, dig: "" };
  if (u === 0xad) return { cls: CH_FORMAT, dig: "" };
  if (u === 0xaa || u === 0xb5 || u === 0xba || (u >= 0xbc && u <= 0xbe)) return other;
  for (const [first, last, cls] of RANGES) if (u >= first && u <= last) return { cls, dig: "" };
  return other;
}

// The text as classified characters, one per code point.
function chars(text) {
  return Array.from(text, (c) => chOf(c.codePointAt(0)));
}

// The next character at or after p that is not invisible: [ch, where].
function visibleAt(cs, p) {
  while (p < cs.length && cs[p].cls === CH_FORMAT) p++;
  return [p < cs.length ? cs[p] : { cls: CH_OTHER, dig: "" }, p];
}

// Digits read ahead from a group start: d (digits, or a last 'X'), and for
// each, its start and end (code point indices) and whether a group ends there.
function runRead(cs, p) {
  const r = { d: [], start: [], end: [], groupEnd: [] };
  for (;;) {
    let nsep = 0;
    let c;
    [c, p] = visibleAt(cs, p);
    if (c.cls === CH_DIGIT) {
      if (r.d.length + c.dig.length > RUN_MAX) return r;
      for (const x of c.dig) {
        r.d.push(x);
        r.start.push(p);
        r.end.push(p + 1);
        r.groupEnd.push(false);
      }
      p++;
      continue;
    }
    if (r.d.length === 0) return r;
    r.groupEnd[r.d.length - 1] = true;
    while ((c.cls === CH_SEP || c.cls === CH_PLUS) && nsep < SEP_MAX) {
      nsep++;
      [c, p] = visibleAt(cs, p + 1);
    }
    if (c.cls === CH_X && r.d.length < RUN_MAX) {
      const next = visibleAt(cs, p + 1)[0].cls;
      if (next !== CH_DIGIT && next !== CH_X && next !== CH_ALNUM) {
        r.d.push("X");
        r.start.push(p);
        r.end.push(p + 1);
        r.groupEnd.push(true);
      }
      return r;
    }
    if (c.cls !== CH_DIGIT || nsep === 0) return r;
  }
}

function runGroups(r, from, to) {
  const g = [];
  let cur = 0;
  for (let i = from; i < to; i++) {
    cur++;
    if (r.groupEnd[i] || i + 1 === to) {
      g.push(cur);
      cur = 0;
    }
  }
  return g;
}

const allDigits = (d) => /^[0-9]*$/.test(d);
const isMobile = (d) => d.length === 11 && allDigits(d) && d[0] === "1" && d[1] >= "3" && d[1] <= "9";
const mobileGrouping = (r, from, to) => !runGroups(r, from, to).includes(2);

function isIdNumber(d) {
  const weight = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const mdays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (!allDigits(d.slice(0, 17)) || d[0] === "0" || !/^[0-9X]$/.test(d[17])) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += weight[i] * Number(d[i]);
  if ("10X98765432"[sum % 11] !== d[17]) return false;
  const y = Number(d.slice(6, 10)), m = Number(d.slice(10, 12)), day = Number(d.slice(12, 14));
  if (y < 1900 || y > 2099 || m < 1 || m > 12) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return day >= 1 && day <= mdays[m - 1] + (m === 2 && leap ? 1 : 0);
}

function luhn(d) {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = Number(d[d.length - 1 - i]);
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 === 0;
}

function cardGrouping(r, to) {
  const g = runGroups(r, 0, to);
  const n = g.length;
  if (n === 1) return true;
  if (n === 3 && ((g[0] === 4 && g[1] === 6 && g[2] === 5) || (g[0] === 6 && g[1] === 6 && g[2] === 7))) return true;
  if (g[0] === 2 || (g[0] !== 4 && to !== 16 && to !== 19)) return false;
  for (let i = 1; i + 1 < n; i++) if (g[i] !== g[0]) return false;
  return g[n - 1] <= g[0];
}

// [type, skip] of the span d[0..e), or null.
function spanType(r, e) {
  const d = r.d.slice(0, e).join("");
  if (e === 18 && isIdNumber(d)) return ["resident ID number", 0];
  if (!allDigits(d)) return null;
  if (e === 11 && isMobile(d) && mobileGrouping(r, 0, e)) return ["mobile number", 0];
  if (e === 13 && d.startsWith("86") && isMobile(d.slice(2)) && mobileGrouping(r, 2, e)) return ["mobile number", 2];
  if (e === 15 && d.startsWith("0086") && isMobile(d.slice(4)) && mobileGrouping(r, 4, e)) return ["mobile number", 4];
  if (e >= 13 && e <= 19 && d[0] !== "0" && luhn(d) && cardGrouping(r, e)) return ["bank card number", 0];
  return null;
}

function mask(d, head, tail) {
  return Array.from(d, (x, i) => (i < head || i + tail >= d.length ? x : "*")).join("");
}

// The personal data in text: [{type, masked}] in text order, e.g.
// {type: "mobile number", masked: "138****5678"}.
export function piiScan(text) {
  const cs = chars(text);
  const out = [];
  let prev = CH_OTHER;
  let p = 0;
  while (p < cs.length) {
    const c = cs[p];
    if (c.cls === CH_FORMAT) {
      p++;
      continue;
    }
    if (c.cls !== CH_DIGIT || prev === CH_DIGIT) {
      prev = c.cls;
      p++;
      continue;
    }
    const r = runRead(cs, p);
    let e, t = null;
    for (e = r.d.length; e > 0; e--) {
      if (!r.groupEnd[e - 1]) continue;
      if ((t = spanType(r, e)) !== null) break;
    }
    if (t === null) {
      prev = CH_DIGIT;
      p++;
      continue;
    }
    const [type, skip] = t;
    out.push({ type, masked: mask(r.d.slice(skip, e).join(""), type === "bank card number" ? 4 : 3, 4) });
    prev = r.d[e - 1] === "X" ? CH_X : CH_DIGIT;
    p = r.end[e - 1];
  }
  return out;
}
