// The page's trust rules (node/web/src/trust.js) on revocations by ancestry
// (proto/PROTOCOL.md section 11, "Revocations"), on events signed here with
// the page's own signer (wire.js): keep lists of lasting chains and of
// expiring events, gaps that count as kept and are walked on when they
// arrive, two revokes by one signer joined, a station's revoke undone by
// root revoking that station (hidden, not deleted: the officer's history
// comes back), and the coarse case of an empty keep list.  Each case prints
// what it checks; exit 1 on the first verdict the node would not give.
// Exit 77 (skipped) without the web app's packages.
//
//   usage: node trust.mjs
import { existsSync } from "node:fs";

const pkgs = new URL("../../node/web/node_modules/@noble/curves/package.json", import.meta.url);
if (!existsSync(pkgs)) {
  console.log("SKIP: the web app's packages are not installed; run: npm ci --prefix node/web");
  process.exit(77);
}
const { hex, makeEvent, readEvent, unhex } = await import("../../node/web/src/wire.js");
const { Trust } = await import("../../node/web/src/trust.js");
const { ed25519 } = await import("../../node/web/node_modules/@noble/curves/ed25519.js");

const NET = new Uint8Array(16).fill(7);
const G = "gaobu.xinhua";
const DAY = 86400000;
const T0 = 1780000000000;

function key(n) {
  const seed = new Uint8Array(32).fill(n);
  return { seed, pub: ed25519.getPublicKey(seed), hex: hex(ed25519.getPublicKey(seed)), heads: new Map() };
}

// An event signed by k; lasting ones chain through k's head in the group.
function ev(k, kind, t, group, content, { expires = 0, refs = [] } = {}) {
  const prev = k.heads.get(group) || "";
  const { wire, id } = makeEvent(k.seed, { kind, createdAt: t, network: NET, group, prev: unhex(prev),
    refs: refs.map(unhex), expiresAt: expires, content });
  if (expires === 0) k.heads.set(group, id);
  return readEvent(wire, NET);
}

function cert(issuer, subject, role, name, t) {
  return ev(issuer, 7, t, "network", { subject: subject.pub, role, name, groups: [G], not_before: t - 1000,
    not_after: t + 365 * DAY });
}

function revoke(signer, subject, t, keep) {
  return ev(signer, 8, t, "network", { subject: subject.pub, reason: "test",
    keep: keep.map((e) => [e.group, unhex(e.id), e.expiresAt]) });
}

const bulletin = (k, t, title) => ev(k, 1, t, G, { title, text: title, category: "notice" });
const alert = (k, t, h) => ev(k, 2, t, G, { event: h, headline: h, text: h, category: "Safety", urgency: "Immediate",
  severity: "Severe", certainty: "Observed", area_desc: "村口" }, { expires: t + DAY });

let failed = 0;

function verdict(trust, e, badge, why) {
  const got = trust.official(e) !== null;
  console.log((got === badge ? "ok   " : "FAIL ") + why + (got === badge ? "" : " (badge: " + got + ")"));
  if (got !== badge) failed++;
}

// A world: root, a station, two officers.
function world() {
  const root = key(1), station = key(2), wang = key(3), zhao = key(4);
  const trust = new Trust(root.hex);
  const evs = [cert(root, station, "station", "高埔派出所", T0), cert(station, wang, "officer", "王警官", T0 + 1),
    cert(station, zhao, "officer", "赵警官", T0 + 2)];
  for (const e of evs) trust.add(e);
  return { root, station, wang, zhao, trust };
}

{
  const { station, wang, zhao, trust } = world();
  const b1 = bulletin(wang, T0 + 10, "一"), b2 = bulletin(wang, T0 + 20, "二"), a1 = alert(wang, T0 + 25, "三");
  const b3 = bulletin(wang, T0 + 30, "四"), a2 = alert(wang, T0 + 40, "五");
  const other = bulletin(zhao, T0 + 50, "赵");
  for (const e of [b1, b2, a1, b3, a2, other]) trust.add(e);
  verdict(trust, b3, true, "before any revoke, the officer's posts are official");
  // keep: the chain's tip b2 (so b1 by ancestry) and the alert a1, not b3, a2
  trust.add(revoke(station, wang, T0 + 60, [b2, a1]));
  verdict(trust, b2, true, "the kept tip keeps its badge");
  verdict(trust, b1, true, "its ancestor through prev keeps its badge");
  verdict(trust, a1, true, "a kept expiring event keeps its badge");
  verdict(trust, b3, false, "a later lasting post, past the kept tip, loses it");
  verdict(trust, a2, false, "a later alert, not kept, loses it");
  if (!trust.revoked(a2) || trust.revoked(other)) {
    console.log("FAIL the later alert is not judged hidden by revocation, or the other officer's post is");
    failed++;
  } else console.log("ok   the later alert is hidden by revocation, not for want of a cert");
  verdict(trust, other, true, "another officer of the station keeps his badge");
  // a second revoke by the same signer adds to the kept set
  trust.add(revoke(station, wang, T0 + 70, [a2]));
  verdict(trust, a2, true, "a second revoke by the same signer joins its keep list");
  verdict(trust, b3, false, "and keeps nothing it does not name");
}

{
  const { station, wang, trust } = world();
  const b1 = bulletin(wang, T0 + 10, "一"), b2 = bulletin(wang, T0 + 20, "二"), b3 = bulletin(wang, T0 + 30, "三");
  // the page has b1 and b3, not b2: the walk from b3 stops at the gap b2
  trust.add(b1);
  trust.add(b3);
  trust.add(revoke(station, wang, T0 + 60, [b3]));
  verdict(trust, b3, true, "gap: the kept tip keeps its badge");
  verdict(trust, b1, false, "gap: an ancestor past a link not seen is not kept yet");
  trust.add(b2);
  verdict(trust, b2, true, "gap: the missing link, once seen, is kept");
  verdict(trust, b1, true, "gap: and the walk goes on to its ancestors");
}

{
  const { root, station, wang, trust } = world();
  const b1 = bulletin(wang, T0 + 10, "一");
  trust.add(b1);
  // the station's key stolen: it revokes the officer keeping nothing
  const stolen = revoke(station, wang, T0 + 100, []);
  trust.add(stolen);
  verdict(trust, b1, false, "a station's revoke with an empty keep takes everything");
  // root revokes the station, keeping what it signed before the theft (its
  // chain in group network up to the officers' certs): the stolen revoke
  // stops counting, and the officer's history shows again
  const certs = [...trust.certs.get(wang.hex)];
  trust.add(revoke(root, station, T0 + 200, [{ group: "network", id: certs[0].id, expiresAt: 0 }]));
  verdict(trust, b1, true, "root revoking the station, keeping its good certs, undoes the stolen revoke");
  const after = bulletin(wang, T0 + 300, "后");
  trust.add(after);
  verdict(trust, after, true, "and an officer whose cert root kept stays official");
}

{
  const { root, wang, trust } = world();
  const b1 = bulletin(wang, T0 + 10, "一");
  trust.add(b1);
  trust.add(revoke(root, wang, T0 + 20, [b1]));
  verdict(trust, b1, true, "root's revoke keeping the post keeps it");
  const b2 = bulletin(wang, T0 + 30, "二");
  trust.add(b2);
  verdict(trust, b2, false, "root's revoke counts against every cert of the key");
  if (trust.groups(T0 + 40).length !== 1) {
    console.log("FAIL the groups offered");
    failed++;
  }
}

console.log(failed ? failed + " verdicts differ from the node's rules" : "trust: every verdict as the node's rules give it");
process.exit(failed ? 1 : 0);
