// An officer's key file (proto/PROTOCOL.md section 10), opened in the page:
//
//   watchmesh-key 1
//   public <64 hex>
//   secret <128 hex>                                           plain, or
//   argon2id <opslimit> <memlimit> <salt 32 hex> <nonce 48 hex> <box 160 hex>
//
// The encrypted form is crypto_secretbox_easy (XSalsa20-Poly1305) of the
// 64-byte libsodium secret key under Argon2id13(passphrase, salt), with the
// limits the file names -- bounded as the node bounds them (16 passes,
// 1 GiB) before any is spent.  The seed that comes out is the caller's to
// keep in memory only and to wipe (officer.js).
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { unhex } from "./wire.js";

const OPS_MAX = 16;
const MEM_MAX = 1 << 30;

export class KeyFileError extends Error {}

function bad(why) {
  throw new KeyFileError(why);
}

function hexOf(s, bytes, what) {
  if (typeof s !== "string" || s.length !== 2 * bytes || !/^[0-9a-f]*$/.test(s)) bad("the key file's " + what + " is malformed");
  return unhex(s);
}

// The seed (32 bytes) and public key (hex) of a key file's text; asks
// passphrase() (a promise of a string) only when the file is encrypted.
// progress(fraction) follows the key derivation, which takes seconds.
export async function unlockKeyFile(text, passphrase, progress = () => {}) {
  const lines = String(text).replace(/\n$/, "").split("\n");
  if (lines[0] !== "watchmesh-key 1") bad("not a watchmesh key file (its first line is not watchmesh-key 1)");
  const pubLine = (lines[1] || "").split(" ");
  if (pubLine[0] !== "public" || pubLine.length !== 2) bad("the key file has no public key line");
  const pub = hexOf(pubLine[1], 32, "public key");
  if (lines.length !== 3) bad(lines.length === 2 ? "this key file holds a public key only: it cannot sign"
    : "the key file has " + lines.length + " lines, not 3");
  const f = lines[2].split(" ");
  let sk;
  if (f[0] === "secret" && f.length === 2) {
    sk = hexOf(f[1], 64, "secret key");
  } else if (f[0] === "argon2id" && f.length === 6) {
    if (!/^[1-9][0-9]{0,9}$/.test(f[1]) || !/^[1-9][0-9]{0,10}$/.test(f[2])) bad("the key file's limits are malformed");
    const ops = Number(f[1]);
    const mem = Number(f[2]);
    if (ops > OPS_MAX || mem > MEM_MAX || mem < 8192)
      bad("the key file asks " + ops + " passes over " + mem + " bytes; at most " + OPS_MAX + " passes and 1 GiB are spent");
    const salt = hexOf(f[3], 16, "salt");
    const nonce = hexOf(f[4], 24, "nonce");
    const box = hexOf(f[5], 80, "box");
    const pw = new TextEncoder().encode(await passphrase());
    const k = await argon2idAsync(pw, salt, { t: ops, m: Math.floor(mem / 1024), p: 1, dkLen: 32, version: 0x13,
      maxmem: MEM_MAX + (1 << 20), asyncTick: 20, onProgress: progress });
    pw.fill(0);
    try {
      sk = xsalsa20poly1305(k, nonce).decrypt(box);
    } catch {
      bad("wrong passphrase (or a damaged key file)");
    } finally {
      k.fill(0);
    }
  } else {
    bad("the key file's third line is neither secret nor argon2id");
  }
  const seed = sk.slice(0, 32);
  const derived = ed25519.getPublicKey(seed);
  const matches = derived.every((b, i) => b === pub[i] && b === sk[32 + i]);
  sk.fill(0);
  if (!matches) {
    seed.fill(0);
    bad("the key file's secret key does not belong to its public key");
  }
  return { seed, pub: pubLine[1] };
}
