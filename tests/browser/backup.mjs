// The key backup's format (node/web/src/backup.js): a seed sealed and
// opened again, from its text and from its QR code read back from pixels
// (also a code the QR decoder misses as the encoder masks it);
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
const { BackupError, drawn, openKey, qrMatrix, readQR, sealKey } = await import("../../node/web/src/backup.js");
const { encodeQR } = await import("../../node/web/node_modules/@paulmillr/qr/index.js");
const { decodeQR } = await import("../../node/web/node_modules/@paulmillr/qr/decode.js");

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
check(readQR(drawn(m, 4)) === line, "its QR code (" + m.length + " modules) reads back");
// a line whose code, masked as the encoder chooses, the decoder does not
// read at 4, 5, 6 or 8 pixels a module: qrMatrix takes another mask, and
// readQR reads the first one from a picture made smaller
const MISSED = "watchmesh-key:gnk_mdXPcB6lrCDqpPMyRBVcJyS6BzE93ACZMnSISSmf73-KgfFnEygWZJGjLzKvsdHuLQdLfJXG_cUnHU5PFsinuzUWQLTT7DV1Qp9Lk2XKGuG60HdnYGqB";
const reads = (img) => { try { return decodeQR(img) === MISSED; } catch { return false; } };
const masked = encodeQR(MISSED, "raw", { ecc: "medium", border: 4 });
check(!reads(drawn(masked, 4)), "the decoder misses that code as the encoder masks it (if not: a newer @paulmillr/qr?)");
check([4, 5, 6, 8].every((s) => reads(drawn(qrMatrix(MISSED), s))), "qrMatrix's code of it reads at 4, 5, 6 and 8 pixels a module");
const readsQR = (img) => { try { return readQR(img) === MISSED; } catch { return false; } };
check([4, 5, 6, 8].every((s) => readsQR(drawn(masked, s))), "readQR reads the missed code at 4, 5, 6 and 8 pixels a module");
let noQR = false;
try {
  readQR({ width: 64, height: 64, data: new Uint8ClampedArray(64 * 64 * 4).fill(255) });
} catch (e) {
  noQR = e instanceof BackupError;
}
check(noQR, "a picture with no QR code is refused");

console.log(failed ? failed + " checks failed" : "backup: all checks passed");
process.exit(failed ? 1 : 0);
