// The wire event (proto/PROTOCOL.md sections 1-3) as the page reads and
// writes it.  The page trusts no field its node computed: every event it
// shows comes from its wire bytes, checked here -- id = SHA-256(payload),
// the author's Ed25519 signature over the id, the content's hash, and the
// canonical form of every part.  @msgpack/msgpack accepts longer forms than
// the shortest, so "canonical" is checked by encoding what was decoded again
// and comparing the bytes; its encoder writes the shortest forms.
import { decode, encode } from "@msgpack/msgpack";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const MAX_WIRE = 65536;
export const KINDS = ["", "bulletin", "alert", "request", "reply", "status", "retract", "cert", "revoke", "ack"];

const GROUP_RE = /^[a-z0-9._-]{1,64}$/;
const KEY_RE = /^[a-z0-9_]{1,32}$/;

export class WireError extends Error {}

function fail(why) {
  throw new WireError(why);
}

export function hex(b) {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export function unhex(s) {
  if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s)) fail("not lower-case hex");
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isBin = (v, n) => v instanceof Uint8Array && (n === undefined || v.length === n);
const isUint = (v) => Number.isSafeInteger(v) && v >= 0;

// Decode bytes holding exactly one canonical value of the allowed types
// (section 1): no nil, booleans, floats or extensions; map keys sorted.
function canonical(bytes, what) {
  let v;
  try {
    v = decode(bytes);
  } catch (e) {
    fail(what + ": not msgpack (" + e.message + ")");
  }
  allowed(v, what);
  let again;
  try {
    again = encode(v, { sortKeys: true });
  } catch (e) {
    fail(what + ": cannot be encoded again (" + e.message + ")");
  }
  if (!same(again, bytes)) fail(what + ": not in canonical form");
  return v;
}

// A lone UTF-16 surrogate: the decoder turns the UTF-8 form of U+D800-DFFF
// (invalid UTF-8) into one, and the encoder writes it back the same way.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function allowed(v, what) {
  if (typeof v === "string") {
    if (LONE_SURROGATE.test(v)) fail(what + ": a string that is not valid UTF-8");
    return;
  }
  if (isBin(v)) return;
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) fail(what + ": a float or an integer past 2^53");
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) allowed(x, what);
    return;
  }
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const k of Object.keys(v)) allowed(v[k], what);
    return;
  }
  fail(what + ": a value of a type events never hold (nil, boolean or extension)");
}

// Check wire bytes; the event decoded from them, or a WireError saying why
// not.  `network` (16 bytes), when given, must be the event's.
export function readEvent(wire, network) {
  if (!isBin(wire)) fail("not bytes");
  if (wire.length > MAX_WIRE) fail("larger than 64 KiB");
  const w = canonical(wire, "the wrapper");
  if (!Array.isArray(w) || (w.length !== 3 && w.length !== 2)) fail("the wrapper is not [payload, sig, content]");
  const [payload, sig, content] = w;
  if (!isBin(payload) || !isBin(sig, 64) || (w.length === 3 && !isBin(content)))
    fail("the wrapper's items are not binaries");
  const id = sha256(payload);
  const h = canonical(payload, "the header");
  if (!Array.isArray(h)) fail("the header is not an array");
  if (h[0] !== 2) fail("version " + h[0] + ", not 2");
  if (h.length !== 10) fail("the header has " + h.length + " fields, not 10");
  const [, kind, author, createdAt, net, group, prev, refs, expiresAt, contentHash] = h;
  if (!isUint(kind) || !isBin(author, 32)) fail("the header's kind or author is malformed");
  let good = false;
  try {
    good = ed25519.verify(sig, id, author);
  } catch {
    good = false;
  }
  if (!good) fail("the signature does not verify");
  if (kind < 1 || kind > 9) fail("unknown kind " + kind);
  if (!isUint(createdAt) || createdAt === 0) fail("created_at is malformed");
  if (!isBin(net, 16)) fail("network is not 16 bytes");
  if (typeof group !== "string" || !GROUP_RE.test(group)) fail("bad group name");
  if (!isBin(prev) || (prev.length !== 0 && prev.length !== 32)) fail("prev is not 0 or 32 bytes");
  if (!Array.isArray(refs) || refs.length > 16 || !refs.every((r) => isBin(r, 32))) fail("refs are malformed");
  if (!isUint(expiresAt) || (expiresAt !== 0 && expiresAt <= createdAt)) fail("expires_at is malformed");
  if (!isBin(contentHash, 32)) fail("content_hash is not 32 bytes");
  if (network && !same(net, network)) fail("an event of another network (" + hex(net) + ")");
  const ev = {
    id: hex(id), kind, kindName: KINDS[kind], author: hex(author), createdAt, network: hex(net), group,
    prev: hex(prev), refs: refs.map(hex), expiresAt, withheld: w.length === 2, content: null,
  };
  if (ev.withheld) return ev;
  if (!same(sha256(content), contentHash)) fail("the content is not the one the header names");
  const c = canonical(content, "the content");
  if (c === null || typeof c !== "object" || Array.isArray(c) || isBin(c)) fail("the content is not a map");
  const keys = Object.keys(c);
  if (keys.length > 32 || !keys.every((k) => KEY_RE.test(k))) fail("the content's keys are malformed");
  for (const k of keys) {
    const v = c[k];
    const keep = kind === 8 && k === "keep";
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !isBin(v)) fail("a map inside the content");
    if (!Array.isArray(v)) continue;
    if (v.length > (keep ? 256 : 64)) fail("an array of " + v.length + " items in the content");
    for (const x of v) {
      if (x !== null && typeof x === "object" && !Array.isArray(x) && !isBin(x)) fail("a map inside the content");
      if (!Array.isArray(x)) continue;
      if (!keep || x.some((y) => Array.isArray(y))) fail("nested arrays in the content");
    }
  }
  ev.content = c;
  return ev;
}

// A new event signed with seed (32 bytes): its wire bytes and id (hex).
// content's keys are sorted here; header fields as section 3 names them.
export function makeEvent(seed, { kind, createdAt, network, group, prev, refs = [], expiresAt = 0, content }) {
  const cbytes = encode(content, { sortKeys: true });
  const author = ed25519.getPublicKey(seed);
  const header = [2, kind, author, createdAt, network, group, prev, refs, expiresAt, sha256(cbytes)];
  const payload = encode(header);
  const id = sha256(payload);
  const wire = encode([payload, ed25519.sign(id, seed), cbytes]);
  return { wire, id: hex(id) };
}
