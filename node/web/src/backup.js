// The key backup: this device's key seed sealed under a passphrase, as one
// line of text that is both the backup file and the printed QR code
// (node/web/README.md, "Key backup"):
//
//   watchmesh-key:<base64url of: 1 (version) || log2 N (1) || salt (16) ||
//                 nonce (24) || XChaCha20-Poly1305(seed (32)) (48)>
//
// The key is scrypt(passphrase NFKC, salt, N, r 8, p 1) and the AEAD's
// associated data is "watchmesh key backup" followed by the first 42 bytes,
// so the cost and salt cannot be changed without the box failing to open.
// A wrong passphrase and a changed backup are told apart from nothing: both
// fail to open.  No I/O here: main.js reads and writes the files, the camera
// and the page.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { decodeQR } from "@paulmillr/qr/decode.js";
import { encodeQR } from "@paulmillr/qr";

const PREFIX = "watchmesh-key:";
const VERSION = 1;
// 2^15 x 1 KiB: 32 MiB and about a second on a cheap phone, once per
// backup or restore
const LOG_N = 15;
// read up to 2^17 (128 MiB): a backup asking more is refused, not obeyed
const LOG_N_MAX = 17;
const HEAD = 2 + 16 + 24;
const LEN = HEAD + 32 + 16;
const AD = new TextEncoder().encode("watchmesh key backup");
export const PASSPHRASE_MIN = 10;

// message: a phrase of i18n.js, with %name slots filled from args
export class BackupError extends Error {
  constructor(message, args = {}) {
    super(message);
    this.args = args;
  }
}

function b64url(b) {
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new BackupError("这不是邻里守望的密钥备份");
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function kdf(passphrase, salt, logN) {
  return scryptAsync(new TextEncoder().encode(passphrase.normalize("NFKC")), salt, { N: 2 ** logN, r: 8, p: 1, dkLen: 32 });
}

function aead(key, head) {
  const ad = new Uint8Array(AD.length + HEAD);
  ad.set(AD);
  ad.set(head, AD.length);
  return xchacha20poly1305(key, head.subarray(18, HEAD), ad);
}

// The backup line of seed (32 bytes) under passphrase.
export async function sealKey(seed, passphrase) {
  if (passphrase.length < PASSPHRASE_MIN) throw new BackupError("口令至少要 %n 个字", { n: PASSPHRASE_MIN });
  const out = new Uint8Array(LEN);
  out[0] = VERSION;
  out[1] = LOG_N;
  out.set(crypto.getRandomValues(new Uint8Array(16 + 24)), 2);
  const head = out.subarray(0, HEAD);
  const key = await kdf(passphrase, head.subarray(2, 18), LOG_N);
  out.set(aead(key, head).encrypt(seed), HEAD);
  key.fill(0);
  return PREFIX + b64url(out);
}

// The seed in a backup line (a file's text or a QR code's), or a
// BackupError saying why not.
export async function openKey(text, passphrase) {
  const s = text.trim();
  if (!s.startsWith(PREFIX)) throw new BackupError("这不是邻里守望的密钥备份");
  const b = unb64url(s.slice(PREFIX.length));
  if (b.length !== LEN || b[0] !== VERSION || b[1] < LOG_N || b[1] > LOG_N_MAX)
    throw new BackupError("这个密钥备份已损坏，或来自更新的版本");
  const head = b.subarray(0, HEAD);
  const key = await kdf(passphrase, head.subarray(2, 18), b[1]);
  try {
    return aead(key, head).decrypt(b.subarray(HEAD));
  } catch {
    throw new BackupError("口令不对（或备份被改动过），密钥没有恢复");
  } finally {
    key.fill(0);
  }
}

// The QR code of text as rows of booleans (dark modules), for an SVG
// drawn by the page.  readQR's decoder misses about 1 code in 100 as the
// encoder masks it, at any size, so the code is read back here and another
// of the 8 masks taken when it does not read.
export function qrMatrix(text) {
  const first = encodeQR(text, "raw", { ecc: "medium", border: 4 });
  for (let mask = -1; mask < 8; mask++) {
    const m = mask < 0 ? first : encodeQR(text, "raw", { ecc: "medium", border: 4, mask });
    try {
      if (decodeQR(drawn(m, 4)) === text) return m;
    } catch {
      // this mask's code does not read: the next one
    }
  }
  return first;
}

// A QR code's rows drawn black on white, scale pixels a module, as RGBA.
export function drawn(m, scale) {
  const size = m.length * scale;
  const data = new Uint8ClampedArray(size * size * 4).fill(255);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (m[Math.floor(y / scale)][Math.floor(x / scale)]) data.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3);
  return { width: size, height: size, data };
}

// The text of the QR code in an image ({width, height, data: RGBA}), or a
// BackupError.  A picture it does not read is tried again smaller: the
// decoder reads most of the codes it misses (those printed before qrMatrix
// read its codes back) at under 2 pixels a module.
export function readQR(image) {
  for (const k of [1, 0.6, 0.4]) {
    try {
      return decodeQR(k === 1 ? image : shrunk(image, k));
    } catch {
      // not at this size
    }
  }
  throw new BackupError("照片里没有认出二维码，请拍清楚整个二维码再试");
}

// The image scaled by k (< 1), nearest pixel.
function shrunk(image, k) {
  const w = Math.max(1, Math.floor(image.width * k)), h = Math.max(1, Math.floor(image.height * k));
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    const row = Math.floor(y / k) * image.width;
    for (let x = 0; x < w; x++) {
      const from = (row + Math.floor(x / k)) * 4;
      data.set(image.data.subarray(from, from + 4), (y * w + x) * 4);
    }
  }
  return { width: w, height: h, data };
}
