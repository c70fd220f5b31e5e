// The service worker: the app keeps working when its node is out of reach.
// Every GET of the node's own files and API goes to the node first and is
// kept; when the node does not answer, the kept copy is served, so the page
// opens and shows the feed it last read while online with this worker
// running (checked again, as always, from the kept wire bytes).  Streams and
// posts are left to the page.
const CACHE = "watchmesh-v1";
const SHELL = ["/", "/app.js", "/app.css", "/manifest.webmanifest", "/icon.svg"];

// the app itself at once: the page that installed us loaded it before we ran
self.addEventListener("install", (e) => e.waitUntil((async () => {
  await (await caches.open(CACHE)).addAll(SHELL);
  await self.skipWaiting();
})()));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin || url.pathname === "/api/v1/stream")
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
