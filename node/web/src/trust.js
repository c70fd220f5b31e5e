// Who is an official, computed in the page from the certificates and
// revocations it synced and checked itself (proto/PROTOCOL.md section 11),
// never from the "official" field its node sends: a node that lies cannot
// give a resident's post a badge.  The root key is the one the page pinned.
//
// Revocations judge by ancestry, as node/trust.c does: a revoke of S by X
// takes away what X's certificates (root's: all) gave S, except from the
// events its keep lists reach -- an expiring entry keeps itself, a lasting
// one its chain back through prev (S's lasting events in that group); a link
// the page has not seen is a gap and counts as kept.  Several revokes by one
// signer are one kept set.  A station's certs and revokes count only while
// its own station cert holds for them, so root revoking a station undoes
// what that station signed outside root's keep list.  Nothing here is
// deleted: every verdict is computed from what the page holds, so a hidden
// event comes back when the revocations change.
import { hex } from "./wire.js";

const CERT_BACKDATE_MS = 24 * 60 * 60 * 1000;

function startsAt(c) {
  return Math.max(c.notBefore, c.createdAt - CERT_BACKDATE_MS);
}

function validAt(c, t) {
  return startsAt(c) <= t && t < c.notAfter;
}

function covers(c, group) {
  return c.groups.includes("*") || c.groups.includes(group);
}

// A cert event's fields, or null when its content is not a cert's.
function certOf(ev) {
  const c = ev.content;
  if (!c || typeof c.name !== "string" || !Array.isArray(c.groups) || !c.groups.every((g) => typeof g === "string"))
    return null;
  if (!(c.subject instanceof Uint8Array) || c.subject.length !== 32) return null;
  if (!Number.isSafeInteger(c.not_before) || !Number.isSafeInteger(c.not_after)) return null;
  return {
    id: ev.id, issuer: ev.author, subject: hex(c.subject), role: c.role, name: c.name, groups: c.groups,
    notBefore: c.not_before, notAfter: c.not_after, createdAt: ev.createdAt,
  };
}

// A revoke event's fields, or null.  Its keep entries are [group, id hex,
// expires_at]; malformed ones are skipped, as the node skips them.
function revokeOf(ev) {
  const c = ev.content;
  if (!c || !(c.subject instanceof Uint8Array) || c.subject.length !== 32 || !Array.isArray(c.keep)) return null;
  const keep = c.keep.filter((e) => Array.isArray(e) && e.length === 3 && typeof e[0] === "string" &&
    e[1] instanceof Uint8Array && e[1].length === 32 && Number.isSafeInteger(e[2]) && e[2] >= 0)
    .map((e) => [e[0], hex(e[1]), e[2]]);
  return { id: ev.id, by: ev.author, subject: hex(c.subject), keep, createdAt: ev.createdAt };
}

export class Trust {
  // root: the pinned root key (hex).
  constructor(root) {
    this.root = root;
    this.certs = new Map();    // subject hex -> [cert]
    this.revokes = new Map();  // subject hex -> [revoke]
    this.links = new Map();    // id -> {author, group, prev, expiresAt}: every event seen, for the walks
    this.kept = new Map();     // "signer subject" -> Set of ids, computed when asked; cleared by any change
  }

  // Take a checked event of any group: a cert or revoke of group `network`
  // counts; every event is a link the keep walks may pass through.
  add(ev) {
    if (!this.links.has(ev.id)) {
      this.links.set(ev.id, { author: ev.author, group: ev.group, prev: ev.prev, expiresAt: ev.expiresAt });
      this.kept.clear();
    }
    if (ev.group !== "network" || ev.withheld) return;
    const [item, map] = ev.kind === 7 ? [certOf(ev), this.certs] : ev.kind === 8 ? [revokeOf(ev), this.revokes] : [null];
    if (!item) return;
    const l = map.get(item.subject) || [];
    if (!l.some((x) => x.id === item.id)) l.push(item);
    map.set(item.subject, l);
    this.kept.clear();
  }

  // Does revoke r count: root's always; a station's while it holds, at the
  // revoke's created_at, a station cert that holds for the revoke.
  counts(r) {
    return r.by === this.root || this.station(r.by, null, r.createdAt, r.id, false) !== null;
  }

  // The revokes of subject by signer that count.
  revokesBy(signer, subject) {
    return (this.revokes.get(subject) || []).filter((r) => r.by === signer && r.subject !== this.root && this.counts(r));
  }

  // The kept set of subject by signer: what the keep lists of its counting
  // revokes reach (node/trust.c, keep_walk).
  keptSet(signer, subject) {
    const k = signer + " " + subject;
    let set = this.kept.get(k);
    if (set) return set;
    set = new Set();
    for (const r of this.revokesBy(signer, subject)) {
      for (const [group, id, expiresAt] of r.keep) {
        if (expiresAt !== 0) {
          set.add(id);
          continue;
        }
        for (let cur = id; cur && !set.has(cur); ) {
          const l = this.links.get(cur);
          if (l && (l.author !== subject || l.group !== group || l.expiresAt !== 0)) break;
          set.add(cur);      // held and of the chain, or a gap: kept
          cur = l ? l.prev : "";
        }
      }
    }
    this.kept.set(k, set);
    return set;
  }

  // Does what cert c gives its subject hold for the event `id` by it: each
  // signer (its issuer, root) with a counting revoke of the subject keeps it.
  // ignore: judge as if there were no revocations.
  holds(c, id, ignore) {
    if (ignore) return true;
    for (const signer of c.issuer === this.root ? [this.root] : [c.issuer, this.root])
      if (this.revokesBy(signer, c.subject).length && !this.keptSet(signer, c.subject).has(id)) return false;
    return true;
  }

  // A station cert of key valid at t, covering group (any group when group
  // is null), holding for the event `id` the station signed: its name, or null.
  station(key, group, t, id, ignore) {
    for (const c of this.certs.get(key) || []) {
      if (c.role === "station" && c.issuer === this.root && (group === null || covers(c, group)) &&
          validAt(c, t) && this.holds(c, id, ignore))
        return c.name;
    }
    return null;
  }

  // An officer cert counts only if its issuer was a station when it was
  // signed, with a station cert that holds for this cert, as a node takes
  // it only then.
  officerCertOk(c, ignore) {
    return c.role === "officer" && this.station(c.issuer, null, c.createdAt, c.id, ignore) !== null;
  }

  judge(ev, ignore) {
    if (ev.group === "network") return null;
    const t = ev.createdAt;
    const own = this.station(ev.author, ev.group, t, ev.id, ignore);
    if (own !== null) return { name: own, role: "station", station: own };
    for (const c of this.certs.get(ev.author) || []) {
      if (!this.officerCertOk(c, ignore) || !covers(c, ev.group) || !validAt(c, t) || !this.holds(c, ev.id, ignore))
        continue;
      const st = this.station(c.issuer, ev.group, t, c.id, ignore);
      if (st !== null) return { name: c.name, role: "officer", station: st };
    }
    return null;
  }

  // {name, role, station} when the author of ev is an official of its group
  // at its created_at; else null.
  official(ev) {
    return this.judge(ev, false);
  }

  // Is ev official but for revocations?  The node hides such an event (it
  // is refused WM_EREVOKED, its bytes kept); the page does not show it
  // either, and shows it again if the revocations change.
  revoked(ev) {
    return this.judge(ev, false) === null && this.judge(ev, true) !== null;
  }

  // The groups named by certificates that hold now (not "*"), sorted: a
  // revoked key keeps only its past, so its certs name no group now.
  groups(now) {
    const out = new Set();
    for (const l of this.certs.values())
      for (const c of l)
        if (c.notAfter > now && this.holds(c, null, false) &&
            (c.issuer === this.root || this.station(c.issuer, null, c.createdAt, c.id, false)))
          for (const g of c.groups) if (g !== "*" && g !== "network") out.add(g);
    return [...out].sort();
  }
}
