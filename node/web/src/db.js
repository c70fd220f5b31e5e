// What the page keeps on the device, in IndexedDB (one object store of
// key -> value): the resident's key seed (made here, never sent), the pinned
// root key and network id, the chosen group, and the signer's heads (the
// last lasting event this device signed in each group: the next one's prev);
// and the outbox: events signed here that the node has not taken yet, in
// the order they were signed (a chain must reach the node in order); and the
// events this page checked (wire.js), decoded, by id, with each group's
// cursor in kv ("cursor:<group>"), so a later visit reads only what is new.
const DB = "watchmesh";
const STORE = "kv";
const OUTBOX = "outbox";
const EVENTS = "events";

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const rq = indexedDB.open(DB, 3);
      rq.onupgradeneeded = (e) => {
        if (e.oldVersion < 1) rq.result.createObjectStore(STORE);
        if (e.oldVersion < 2) rq.result.createObjectStore(OUTBOX, { autoIncrement: true });
        if (e.oldVersion < 3) rq.result.createObjectStore(EVENTS, { keyPath: "id" }).createIndex("group", "group");
      };
      rq.onsuccess = () => resolve(rq.result);
      rq.onerror = () => reject(rq.error);
    });
  }
  return opening;
}

function run(mode, fn, store = STORE) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const rq = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(rq.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  }));
}

export function get(key) {
  return run("readonly", (s) => s.get(key));
}

export function put(key, value) {
  return run("readwrite", (s) => s.put(value, key));
}

export function del(key) {
  return run("readwrite", (s) => s.delete(key));
}

export function keys() {
  return run("readonly", (s) => s.getAllKeys());
}

// The outbox: queue(item) adds at the end; queued() gives [[key, item]] in
// order; sent(key) takes one out.
export function queue(item) {
  return run("readwrite", (s) => s.add(item), OUTBOX);
}

export async function queued() {
  const out = [];
  await run("readonly", (s) => {
    const rq = s.openCursor();
    rq.onsuccess = () => {
      if (!rq.result) return;
      out.push([rq.result.key, rq.result.value]);
      rq.result.continue();
    };
    return rq;
  }, OUTBOX);
  return out;
}

export function sent(key) {
  return run("readwrite", (s) => s.delete(key), OUTBOX);
}

// The checked events kept of a group.
export function kept(group) {
  return run("readonly", (s) => s.index("group").getAll(group), EVENTS);
}

// Keep checked events of a group and move its cursor (unless null) in one
// transaction: a cursor is never ahead of the events kept (a visit cut short
// reads the rest again next time).
export function keep(group, evs, cursor) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction([EVENTS, STORE], "readwrite");
    const events = tx.objectStore(EVENTS);
    for (const ev of evs) events.put(ev);
    if (cursor !== null) tx.objectStore(STORE).put(cursor, "cursor:" + group);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  }));
}

export function forget(ids) {
  return run("readwrite", (s) => {
    let rq = null;
    for (const id of ids) rq = s.delete(id);
    return rq || s.count();
  }, EVENTS);
}
