// The key backup's format (node/web/src/backup.js): a seed sealed and
// opened again, from its text and from its QR code read back from pixels;
// a wrong passphrase, a changed byte anywhere (cost, salt, nonce, box), a
// short passphrase and text that is not a backup refused, saying so.
// Exit 77 (skipped) without the web app's packages.
//
//   usage: node backup.mjs
import { existsSync } from "node:fs";

const pkgs = new URL("../../node/web/node_modules/@noble/ciphers/package.json", import.meta.url);
if (!existsSync(pkgs)) {
  console.log("SKIP: the web app's packages are not installed; run: npm ci --prefix node/web");
  process.exit(77);
}
const { BackupError, openKey, qrMatrix, readQR, sealKey } = await import("../../node/web/src/backup.js");

let failed = 0;

function check(cond, why) {
  console.log((cond ? "ok   " : "FAIL ") + why);
  if (!cond) failed++;
}

async function refused(text, pass, want) {
  try {
    await openKey(text, pass);
    return false;
  } catch (e) {
    return e instanceof BackupError && e.message.includes(want);
  }
}

const seed = crypto.getRandomValues(new Uint8Array(32));
const pass = "红灯笼挂在村口的老槐树上";
const line = await sealKey(seed, pass);
check(/^watchmesh-key:[A-Za-z0-9_-]{120}$/.test(line), "the backup is one line: " + line.length + " characters");
check((await openKey(line, pass)).every((b, i) => b === seed[i]), "it opens to the seed");
check((await openKey("  " + line + "\n", pass.normalize("NFD"))).length === 32,
  "around blanks, and with the passphrase in another Unicode form (NFKC)");
check(await refused(line, pass + "!", "口令不对"), "a wrong passphrase is refused");

// every part of the backup is bound: the version and cost by the checks,
// the salt, nonce, box and tag by the AEAD (each byte costs a scrypt: the
// first and last of each part)
const b64 = line.slice("watchmesh-key:".length);
const bytes = Uint8Array.from(atob(b64.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
let allBound = true;
const parts = [0, 1, 2, 17, 18, 41, 42, 73, 74, 89];
for (const i of parts) {
  const x = bytes.slice();
  x[i] ^= 1;
  const t = "watchmesh-key:" + btoa(String.fromCharCode(...x)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  if (!(await refused(t, pass, i < 2 ? "已损坏" : "口令不对"))) {
    allBound = false;
    console.log("     byte " + i + " changed and still taken");
  }
}
check(allBound, "a backup with a byte changed in any of its parts is refused (" + bytes.length + " bytes)");
check(await refused("watchmesh-key:" + b64.slice(0, -4), pass, "已损坏"), "a cut backup is refused");
check(await refused("hello", pass, "不是邻里守望的密钥备份"), "text that is not a backup is refused");
let short = false;
try {
  await sealKey(seed, "短口令");
} catch (e) {
  short = e instanceof BackupError && e.args.n === 10;
}
check(short, "a passphrase under 10 characters is refused");

// the QR code, drawn 4 pixels a module, read back
const m = qrMatrix(line);
const scale = 4, size = m.length * scale;
const data = new Uint8ClampedArray(size * size * 4).fill(255);
for (let y = 0; y < size; y++)
  for (let x = 0; x < size; x++)
    if (m[Math.floor(y / scale)][Math.floor(x / scale)]) data.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3);
check(readQR({ width: size, height: size, data }) === line, "its QR code (" + m.length + " modules) reads back");
let noQR = false;
try {
  readQR({ width: 64, height: 64, data: new Uint8ClampedArray(64 * 64 * 4).fill(255) });
} catch (e) {
  noQR = e instanceof BackupError;
}
check(noQR, "a picture with no QR code is refused");

console.log(failed ? failed + " checks failed" : "backup: all checks passed");
process.exit(failed ? 1 : 0);
