// The page's checker of wire bytes (node/web/src/wire.js) against the
// committed vectors (tests/vectors/events.json, proto/PROTOCOL.md section
// 15) and its content rules (node/web/src/content.js, sections 4 and 5):
// every valid vector accepted with its id; every invalid one refused, those
// a node refuses for their content (WM_ECONTENT) by the content rules.
// Exit 77 (skipped) without the web app's packages.
//
//   usage: node vectors.mjs EVENTS_JSON
import { existsSync, readFileSync } from "node:fs";

const pkgs = new URL("../../node/web/node_modules/@msgpack/msgpack/package.json", import.meta.url);
if (!existsSync(pkgs)) {
  console.log("SKIP: the web app's packages are not installed; run: npm ci --prefix node/web");
  process.exit(77);
}
const { readEvent, unhex } = await import("../../node/web/src/wire.js");
const { contentProblem } = await import("../../node/web/src/content.js");
const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
let passed = 0, failed = 0, byContent = 0;
for (const v of vectors) {
  let ev = null, why = "";
  try {
    ev = readEvent(unhex(v.wire), unhex(v.network));
    const p = ev.withheld ? null : contentProblem(ev);
    if (p) {
      why = p.why;
      ev = null;
    }
  } catch (e) {
    why = e.message;
  }
  let ok;
  if (v.valid) ok = ev !== null && (!v.id || ev.id === v.id) && ev.withheld === Boolean(v.withheld);
  else ok = ev === null;
  if (ok && !v.valid && v.error === "WM_ECONTENT") byContent++;
  if (ok) passed++;
  else {
    failed++;
    console.log("FAIL " + v.name + ": " + (v.valid ? "refused: " + why : "accepted, the node says " + v.error));
  }
}
console.log("vectors: " + passed + " judged as the nodes judge them (" + byContent + " refused for their content), " +
  failed + " not");
process.exit(failed ? 1 : 0);
