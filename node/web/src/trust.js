// Who is an official, computed in the page from the certificates and
// revocations it synced and checked itself (proto/PROTOCOL.md section 11),
// never from the "official" field its node sends: a node that lies cannot
// give a resident's post a badge.  The root key is the one the page pinned.
//
// This slice judges revocations coarsely: a revoke of S by R (or by root)
// takes away everything R's (root's: all) certificates gave S, whatever its
// keep list says.  A revoke therefore removes badges the node still shows
// (the kept history); it never adds one.
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

export class Trust {
  // root: the pinned root key (hex).
  constructor(root) {
    this.root = root;
    this.certs = new Map();    // subject hex -> [cert]
    this.revokes = [];         // {by, subject}
  }

  // Take a checked event of group `network` (a cert or a revoke).
  add(ev) {
    if (ev.group !== "network" || ev.withheld) return;
    if (ev.kind === 7) {
      const c = certOf(ev);
      if (!c) return;
      const l = this.certs.get(c.subject) || [];
      if (!l.some((x) => x.id === c.id)) l.push(c);
      this.certs.set(c.subject, l);
    } else if (ev.kind === 8 && ev.content && ev.content.subject instanceof Uint8Array) {
      this.revokes.push({ by: ev.author, subject: hex(ev.content.subject) });
    }
  }

  // Does cert c still hold: no revoke of its subject by its issuer or root?
  holds(c) {
    return !this.revokes.some((r) => r.subject === c.subject && (r.by === c.issuer || r.by === this.root));
  }

  // A station cert of key that is valid at t, covering group (any group
  // when group is null): its name, or null.
  station(key, group, t) {
    for (const c of this.certs.get(key) || []) {
      if (c.role === "station" && c.issuer === this.root && (group === null || covers(c, group)) &&
          validAt(c, t) && this.holds(c))
        return c.name;
    }
    return null;
  }

  // An officer cert counts only if its issuer was a station when it was
  // signed, as a node takes it only then.
  officerCertOk(c) {
    return c.role === "officer" && this.station(c.issuer, null, c.createdAt) !== null;
  }

  // {name, role, station} when the author of ev is an official of its group
  // at its created_at; else null.
  official(ev) {
    if (ev.group === "network") return null;
    const t = ev.createdAt;
    const own = this.station(ev.author, ev.group, t);
    if (own !== null) return { name: own, role: "station", station: own };
    for (const c of this.certs.get(ev.author) || []) {
      if (!this.officerCertOk(c) || !covers(c, ev.group) || !validAt(c, t) || !this.holds(c)) continue;
      const st = this.station(c.issuer, ev.group, t);
      if (st !== null) return { name: c.name, role: "officer", station: st };
    }
    return null;
  }

  // The groups named by certificates that hold now (not "*"), sorted.
  groups(now) {
    const out = new Set();
    for (const l of this.certs.values())
      for (const c of l)
        if (c.notAfter > now && this.holds(c) && (c.issuer === this.root || this.station(c.issuer, null, c.createdAt)))
          for (const g of c.groups) if (g !== "*" && g !== "network") out.add(g);
    return [...out].sort();
  }
}
