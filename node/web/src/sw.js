// The service worker: the app keeps working when its node is out of reach.
// Every GET of the node's own files and API goes to the node first and is
// kept; when the node does not answer, the kept copy is served, so the page
// opens with its node out of reach.  The events are not kept here: the page
// keeps those it checked in IndexedDB (db.js) and reads only what is new,
// so a copy of every listing would only fill the phone.  Streams and posts
// are left to the page.
const CACHE = "watchmesh-v2";
const SHELL = ["/", "/app.js", "/app.css", "/manifest.webmanifest", "/icon.svg"];

// the app itself at once: the page that installed us loaded it before we ran
self.addEventListener("install", (e) => e.waitUntil((async () => {
  await (await caches.open(CACHE)).addAll(SHELL);
  await self.skipWaiting();
})()));
// and the copies of an older worker (watchmesh-v1 kept every listing) go
self.addEventListener("activate", (e) => e.waitUntil((async () => {
  for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
  await self.clients.claim();
})()));

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin || url.pathname === "/api/v1/stream" ||
      url.pathname.startsWith("/api/v1/events"))
    return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const r = await fetch(e.request);
      if (r.ok) await cache.put(e.request, r.clone());
      return r;
    } catch (err) {
      const kept = await cache.match(e.request);
      if (kept) return kept;
      throw err;
    }
  })());
});

// A notification of an alert (main.js notifyAlert) pressed: back to the app.
self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  e.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window" });
    if (open.length) await open[0].focus();
    else await self.clients.openWindow("/");
  })());
});
