// What the page keeps on the device, in IndexedDB (one object store of
// key -> value): the resident's key seed (made here, never sent), the pinned
// root key and network id, the chosen group, and the signer's heads (the
// last lasting event this device signed in each group: the next one's prev).
const DB = "watchmesh";
const STORE = "kv";

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const rq = indexedDB.open(DB, 1);
      rq.onupgradeneeded = () => rq.result.createObjectStore(STORE);
      rq.onsuccess = () => resolve(rq.result);
      rq.onerror = () => reject(rq.error);
    });
  }
  return opening;
}

function run(mode, fn) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const rq = fn(tx.objectStore(STORE));
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
