// Sealed boxes (proto/PROTOCOL.md section 6), byte for byte as the node's
// content_seal/content_open make and open them, so that a box the page
// seals opens with `watchmesh feed --key` and the other way round.
//
//   box = n || nonce (24) || n + 1 slots (crypto_box_seal of K; the author's
//         last) || XChaCha20-Poly1305(pad(inner), AD || the box's clear part)
//
// A slot is libsodium's anonymous sealed box, built here from X25519,
// HSalsa20, XSalsa20-Poly1305 and BLAKE2b.  Opening checks everything the
// node's reader checks (the slots against the signed recipient list, the
// author's signature inside, topic, language, the text rule) and throws a
// SealError with the reason otherwise: a refused box is never shown.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hsalsa, xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { blake2b } from "@noble/hashes/blake2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hex, unhex } from "./wire.js";

export const MAX_RECIPIENTS = 16;
export const TOPICS = ["police", "non-police", "dispute", "lost-found", "other"];

const CONTEXT = new TextEncoder().encode("watchmesh sealed 2");
const NONCE = 24;
const SLOT = 80;
const MAC = 16;
const PAD = 256;
const PAD_MAX = 72 * PAD;
const TEXT_MAX = 16000;
const LANG_RE = /^([a-zA-Z0-9-]{2,35})?$/;
// The text rule (section 4): tab and LF only among the controls, no DEL, C1
// or bidirectional embeddings, overrides and isolates.
const NOT_TEXT = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

export class SealError extends Error {}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

function cat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function hdr(n) {
  return 1 + NONCE + SLOT * (n + 1);
}

// --- libsodium's crypto_box_seal --------------------------------------------------------

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

// crypto_box_beforenm: HSalsa20 of the X25519 shared secret, nonce zero.
function boxKey(sec, pub) {
  const shared = x25519.getSharedSecret(sec, pub);
  const out = new Uint32Array(8);
  hsalsa(SIGMA, new Uint32Array(shared.slice().buffer), new Uint32Array(4), out);
  shared.fill(0);
  return new Uint8Array(out.buffer);
}

function boxSeal(msg, pub) {
  const esk = crypto.getRandomValues(new Uint8Array(32));
  const epk = x25519.getPublicKey(esk);
  const k = boxKey(esk, pub);
  const c = xsalsa20poly1305(k, blake2b(cat(epk, pub), { dkLen: NONCE })).encrypt(msg);
  esk.fill(0);
  k.fill(0);
  return cat(epk, c);
}

// The message, or null when the slot is not this key's.
function boxOpen(slot, pub, sec) {
  const epk = slot.subarray(0, 32);
  try {
    const k = boxKey(sec, epk);
    const m = xsalsa20poly1305(k, blake2b(cat(epk, pub), { dkLen: NONCE })).decrypt(slot.subarray(32));
    k.fill(0);
    return m;
  } catch {
    return null;
  }
}

// --- the box ----------------------------------------------------------------------------

// The number of recipients a box names by its shape (section 6: what a
// third party can check), or null when it is not a box.
export function boxShape(box) {
  if (!(box instanceof Uint8Array) || box.length < 1 || box[0] < 1 || box[0] > MAX_RECIPIENTS) return null;
  const body = box.length - hdr(box[0]) - MAC;
  return body > 0 && body % PAD === 0 && body <= PAD_MAX ? box[0] : null;
}

function ad(kind, network, author, group) {
  const g = utf8.encode(group);
  return cat(CONTEXT, [kind], network, author, [g.length], g);
}

function partsOk(kind, topic, lang, text) {
  if (kind === 3 && !topic) throw new SealError("the sealed request has no topic");
  if (kind === 4 && topic) throw new SealError("a sealed reply has no topic");
  if (topic && !TOPICS.includes(topic)) throw new SealError("the sealed topic is not one of the request topics");
  if (!LANG_RE.test(lang)) throw new SealError("the sealed language is not a language tag");
  const n = utf8.encode(text).length;
  if (n < 1 || n > TEXT_MAX) throw new SealError("the sealed text is " + n + " bytes, allowed 1-" + TEXT_MAX);
  if (NOT_TEXT.test(text)) throw new SealError("the sealed text holds a control or bidirectional character");
}

// A box of kind (3 request, 4 reply, 5 status) in group, by the key whose
// seed is given, for the recipients (Ed25519 public keys, bytes; 1-16,
// each once): only they and the author open it.
export function seal(seed, { kind, network, group, to, topic = "", lang = "", text }) {
  if (to.length < 1 || to.length > MAX_RECIPIENTS)
    throw new SealError("a box has 1-" + MAX_RECIPIENTS + " recipients, not " + to.length);
  for (let i = 0; i < to.length; i++)
    for (let j = 0; j < i; j++) if (same(to[i], to[j])) throw new SealError("a recipient is named twice");
  partsOk(kind, topic, lang, text);
  const author = ed25519.getPublicKey(seed);
  const a = ad(kind, network, author, group);
  const tb = utf8.encode(topic);
  const lb = utf8.encode(lang);
  const body = cat([to.length], ...to, [tb.length], tb, [lb.length], lb, utf8.encode(text));
  const inner = cat(ed25519.sign(sha256(cat(a, body)), seed), body);
  // sodium_pad: 0x80 then zeros, to the next multiple of 256 (at least one byte)
  const padded = new Uint8Array((Math.floor(inner.length / PAD) + 1) * PAD);
  if (padded.length > PAD_MAX) throw new SealError("the text is too long to seal");
  padded.set(inner);
  padded[inner.length] = 0x80;
  inner.fill(0);
  const k = crypto.getRandomValues(new Uint8Array(32));
  const clear = cat([to.length], crypto.getRandomValues(new Uint8Array(NONCE)),
    ...[...to, author].map((pk) => boxSeal(k, ed25519.utils.toMontgomery(pk))));
  const sealed = xchacha20poly1305(k, clear.subarray(1, 1 + NONCE), cat(a, clear)).encrypt(padded);
  k.fill(0);
  padded.fill(0);
  return cat(clear, sealed);
}

// Open the box of a checked event (wire.js's readEvent: hex author and
// network) with the key whose seed is given: {topic, lang, text, to (hex)};
// null when it is not sealed to this key; a SealError saying why when it is
// but does not hold.
export function openBox(ev, seed) {
  const box = ev.content && ev.content.box;
  const n = boxShape(box);
  if (n === null) throw new SealError("its box is not a sealed box");
  const author = unhex(ev.author);
  const pub = ed25519.getPublicKey(seed);
  const xpub = ed25519.utils.toMontgomery(pub);
  const xsec = ed25519.utils.toMontgomerySecret(seed);
  const mine = same(pub, author);
  let k = null;
  for (let i = mine ? n : 0; i <= (mine ? n : n - 1) && !k; i++)
    k = boxOpen(box.subarray(1 + NONCE + i * SLOT, 1 + NONCE + (i + 1) * SLOT), xpub, xsec);
  xsec.fill(0);
  if (!k) return null;
  const a = ad(ev.kind, unhex(ev.network), author, ev.group);
  const h = hdr(n);
  let m;
  try {
    m = xchacha20poly1305(k, box.subarray(1, 1 + NONCE), cat(a, box.subarray(0, h))).decrypt(box.subarray(h));
  } catch {
    throw new SealError("the box does not open: changed, or taken to another author, group or kind");
  } finally {
    k.fill(0);
  }
  let end = m.length - 1;
  // sodium_unpad looks in the last block only
  while (end >= m.length - PAD && m[end] === 0) end--;
  if (end < m.length - PAD || m[end] !== 0x80) throw new SealError("the box does not open: its padding is broken");
  m = m.subarray(0, end);
  let pos = 64;
  const take = (len) => {
    if (len > m.length - pos) throw new SealError("the opened box is cut short");
    pos += len;
    return m.subarray(pos - len, pos);
  };
  const count = take(1)[0];
  if (count !== n) throw new SealError("the box has " + n + " slots for " + count + " signed recipients: one was dropped or added");
  const to = [];
  for (let i = 0; i < count; i++) to.push(take(32));
  let topic, lang, text;
  try {
    topic = fromUtf8.decode(take(take(1)[0]));
    lang = fromUtf8.decode(take(take(1)[0]));
    text = fromUtf8.decode(m.subarray(pos));
  } catch (e) {
    if (e instanceof SealError) throw e;
    throw new SealError("the opened box is not UTF-8");
  }
  let good = false;
  try {
    good = ed25519.verify(m.subarray(0, 64), sha256(cat(a, m.subarray(64))), author);
  } catch {
    good = false;
  }
  if (!good) throw new SealError("the box is not bound to this author (it was signed inside by another key)");
  if (!mine && !to.some((r) => same(r, pub))) throw new SealError("the author's signed recipients do not name this key");
  partsOk(ev.kind, topic, lang, text);
  return { topic, lang, text, to: to.map(hex) };
}
