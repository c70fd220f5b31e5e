// The page's sealed boxes (node/web/src/seal.js) and key-file unlocking
// (officer_key.js) against the node's, run by test_officer.py's case
// "seal": it hands over, as JSON on stdin, key files made by `watchmesh key
// new` and a request the CLI sealed to the group's officers; this script
// opens it as the officer, checks that tampered copies are refused, and
// seals a request, a reply and a referral of its own, printed as one JSON
// line of wire hex for the test to post and open with `watchmesh feed --key`.
//
//   usage: node officer_seal.mjs < input.json
import { readFileSync } from "node:fs";

const { makeEvent, readEvent, hex, unhex } = await import("../../node/web/src/wire.js");
const { openBox, seal, SealError } = await import("../../node/web/src/seal.js");
const { unlockKeyFile, KeyFileError } = await import("../../node/web/src/officer_key.js");

const input = JSON.parse(readFileSync(0, "utf8"));
const network = unhex(input.network);

function check(cond, why) {
  if (!cond) {
    console.log("FAIL: " + why);
    process.exit(1);
  }
}

async function refused(fn, what) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof SealError || e instanceof KeyFileError) return e.message;
    throw e;
  }
  check(false, what + " was not refused");
}

// the officer's key file, encrypted by `watchmesh key new`
const why = await refused(() => unlockKeyFile(input.officer_key, async () => "wrong passphrase here"), "a wrong passphrase");
check(why.startsWith("wrong passphrase"), "a wrong passphrase: " + why);
// a file asking more work than a node would spend is refused before any
const greedy = input.officer_key.replace(/^argon2id \d+ /m, "argon2id 17 ");
check(greedy !== input.officer_key, "the officer's key file is not encrypted");
const asked = await refused(() => unlockKeyFile(greedy, async () => input.passphrase), "17 passes");
check(asked.includes("at most 16 passes"), "17 passes: " + asked);
const officer = await unlockKeyFile(input.officer_key, async () => input.passphrase);
check(officer.pub === input.officer_pub, "the unlocked key is " + officer.pub + ", not " + input.officer_pub);
const res1 = await unlockKeyFile(input.res1_key, async () => check(false, "a plain key file asked a passphrase"));
const res2 = await unlockKeyFile(input.res2_key, async () => check(false, "a plain key file asked a passphrase"));

// the CLI's sealed request, opened as the officer, as its author, and not
// as another resident
const ev = readEvent(unhex(input.request), network);
const got = openBox(ev, officer.seed);
check(got && got.text === input.text && got.topic === "dispute" && got.lang === "zh",
  "the officer opened " + JSON.stringify(got));
check(openBox(ev, res1.seed).text === input.text, "its author cannot open it");
check(openBox(ev, res2.seed) === null, "another resident opened it");

// the same box taken elsewhere does not open: to another group, under
// another author (re-signed), or with a byte of it changed
const box = ev.content.box;
const moved = (seed, group, b) => readEvent(makeEvent(seed, {
  kind: 3, createdAt: Date.now(), network, group, prev: new Uint8Array(0), content: { box: b },
}).wire, network);
for (const [what, e] of [
  ["the box in another group", moved(res1.seed, "gaobu.elsewhere", box)],
  ["the box under another author", moved(res2.seed, ev.group, box)],
  ["the box with a byte changed", moved(res1.seed, ev.group, box.map((x, i) => (i === box.length - 1 ? x ^ 1 : x)))],
]) {
  let r;
  try {
    r = openBox(e, officer.seed);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    r = err.message;
  }
  // the officer's slot still opens each: the binding (the AEAD's data) fails
  check(typeof r === "string" && /does not open|not bound/.test(r), what + ": " + JSON.stringify(r));
}

// boxes that open for the officer but do not hold: refused, with the reason
for (const a of input.attacks) {
  const why = await refused(() => openBox(readEvent(unhex(a.wire), network), officer.seed), a.refused);
  check(why.includes(a.refused), "refused for " + why + ", not: " + a.refused);
}

// boxes of the page's own, for the CLI to open
const base = { createdAt: Date.now(), network, group: ev.group, prev: new Uint8Array(0) };
const request = makeEvent(res2.seed, { ...base, kind: 3, content: { box: seal(res2.seed, {
  kind: 3, network, group: ev.group, to: [unhex(officer.pub)], topic: "police", lang: "zh", text: input.page_text,
}) } });
const reply = makeEvent(officer.seed, { ...base, kind: 4, refs: [unhex(ev.id)], content: { box: seal(officer.seed, {
  kind: 4, network, group: ev.group, to: [unhex(ev.author)], text: input.reply_text,
}) } });
const referral = makeEvent(officer.seed, { ...base, kind: 5, refs: [unhex(ev.id)], content: {
  state: "referred", referred_to: "新华村人民调解委员会",
  box: seal(officer.seed, { kind: 5, network, group: ev.group, to: [unhex(input.office_pub)], topic: got.topic,
    lang: got.lang, text: got.text }),
} });
console.log(JSON.stringify({ request: hex(request.wire), reply: hex(reply.wire), referral: hex(referral.wire) }));
console.log("ok");
