// The page's personal-data check (node/web/src/pii.js) against the node's
// (node/pii.c, through `watchmesh post --out`, which refuses a public text
// holding personal data and lists what it found): the same findings, masked
// the same way, for the cases of issue 8 item 12, ordinary notices, and a
// few hundred seeded random texts built from numbers, separators, invisible
// characters and other scripts' digits.  The seed is printed on failure;
// WATCHMESH_PII_SEED=N replays it.
//
//   usage: node pii.mjs WATCHMESH
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { piiScan } from "../../node/web/src/pii.js";

const watchmesh = resolve(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), "wm-pii-"));
const env = { ...process.env, WATCHMESH_TEST_FAST_KDF: "1" };
writeFileSync(join(dir, "pass"), "correct horse battery staple\n");
execFileSync(watchmesh, ["network", "create", "--name", "t", "--out", "net", "--passphrase-file", "pass"],
  { cwd: dir, env, stdio: "ignore" });
execFileSync(watchmesh, ["key", "new", "--out", "k", "--no-passphrase"], { cwd: dir, env, stdio: "ignore" });

// What `watchmesh post` finds in text: "type masked, ..." ("" for nothing).
function node(text) {
  const p = spawnSync(watchmesh, ["post", "request", "--key", "k", "--network", "net", "--group", "g",
    "--text", text, "--out", "b"], { cwd: dir, env, encoding: "utf8" });
  if (p.status === 0) return "";
  const m = /contains personal data: (.*); remove it/.exec(p.stderr);
  if (!m) throw new Error("watchmesh refused " + JSON.stringify(text) + " for another reason: " + p.stderr);
  return m[1];
}

function page(text) {
  const f = piiScan(text);
  return f.slice(0, 8).map((x) => x.type + " " + x.masked).join(", ") + (f.length > 8 ? ", ..." : "");
}

const fixed = [
  "请联系138.1234.5678。", "138/1234/5678", "(138)1234-5678", "1 3 8 1 2 3 4 5 6 7 8", "138\u200b1234\u200b5678",
  "138\ufe631234\ufe635678", "138\u20141234\u20145678", "\u2460\u2462\u2467\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467",
  [..."13812345678"].map((d) => String.fromCodePoint(0x1d7ce + Number(d))).join(""),
  "110105.19491231.002X", "622 202 123 456 789 4", "621700 123456 7890122", "+86 138 1234 5678",
  "0086-138-1234-5678", "８６１３８１２３４５６７８", "13 8123 45678", "1️⃣3️⃣8️⃣12345678", "⑬８１２３４５６７８",
  "2026年11月29日14:30，新华村一居民被骗转账3.8万元，如有疑问请拨打110或96110。",
  "停水通知：12月3日8:00-18:00新华村1-5栋停水；2026-12-01 07:00 - 2026-12-03 19:30。",
  "集合地点 18.252847, 109.511909，罚款200-500元，¥12,800.00，血压120/80。",
  "身份证11010519491231002x号", "11010519491231002Xyz", "卡号6222021234567894和13912345678",
];

// xorshift32, seeded
let seed = Number(process.env.WATCHMESH_PII_SEED) || (Date.now() >>> 0) || 1;
const seed0 = seed;
function rnd(n) {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}

function digits(n) {
  let s = "";
  for (let i = 0; i < n; i++) s += String(rnd(10));
  return s;
}

function luhnDigit(body) {
  for (let c = 0; c < 10; c++) {
    const d = body + c;
    let sum = 0;
    for (let i = 0; i < d.length; i++) {
      let v = Number(d[d.length - 1 - i]);
      if (i % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
      sum += v;
    }
    if (sum % 10 === 0) return String(c);
  }
  return "0";
}

function idNumber() {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const body = String(1 + rnd(9)) + digits(5) + String(1900 + rnd(200)) +
    String(1 + rnd(12)).padStart(2, "0") + String(1 + rnd(28)).padStart(2, "0") + digits(3);
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += w[i] * Number(body[i]);
  return body + "10X98765432"[sum % 11];
}

const NUMBERS = [
  () => "1" + String(3 + rnd(7)) + digits(9),
  () => idNumber(),
  () => { const b = String(1 + rnd(9)) + digits(14 + rnd(3)); return b + luhnDigit(b); },
  () => digits(1 + rnd(20)),
];
const SEPS = [" ", "-", ".", "/", "、", "—", "\u200b", "\u00ad", "（", "）", "＋", "+", " - ", "    ", "\u3000", "年", "号", "x", "a"];

// A number, its digits cut into groups, some in other forms.
function spelt() {
  const d = NUMBERS[rnd(NUMBERS.length)]();
  let out = rnd(4) === 0 ? ["+86", "0086", "86"][rnd(3)] + SEPS[rnd(4)] : "";
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    const k = rnd(20);
    out += x === "X" ? (rnd(2) ? "X" : "x")
      : k === 0 ? String.fromCodePoint(0xff10 + Number(x))
      : k === 1 ? String.fromCodePoint(0x0660 + Number(x))
      : k === 2 && x !== "0" ? String.fromCodePoint(0x2460 + Number(x) - 1)
      : x;
    if (i + 1 < d.length && rnd(5) === 0) out += SEPS[rnd(SEPS.length)];
  }
  return out;
}

const texts = [...fixed];
for (let i = 0; i < 300; i++) {
  let t = ["请联系", "电话", "", "转账至", "身份证"][rnd(5)];
  for (let k = 1 + rnd(3); k > 0; k--) t += spelt() + ["，", " ", "。", "和", ""][rnd(5)];
  texts.push(t);
}

let failed = 0, found = 0;
for (const t of texts) {
  const want = node(t), got = page(t);
  if (want) found++;
  if (want !== got) {
    failed++;
    console.log("FAIL " + JSON.stringify(t) + ": watchmesh finds [" + want + "], the page [" + got + "]");
  }
}
rmSync(dir, { recursive: true, force: true });
console.log("pii: " + (texts.length - failed) + " texts judged alike (" + found + " with personal data), " + failed + " not" +
  (failed ? " (WATCHMESH_PII_SEED=" + seed0 + ")" : ""));
process.exit(failed ? 1 : 0);
