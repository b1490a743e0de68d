package web

// serviceWorkerTemplate replaces go-app's default service worker, whose activate step
// deletes every cache but the current app version's, the model cache included: a new app
// version would then download an unchanged 24 MB model again. This one only removes older
// "app-" caches. go-app fills in {{.Version}} and {{.ResourcesToCache}}.
//
// Install fetches with cache: "reload", past the browser's HTTP cache: a plain static file
// server sends Last-Modified and no Cache-Control, so the browser holds files it fetched
// as fresh for a tenth of their age (days, on a site deployed weeks ago), and the new
// version's cache would otherwise be filled with the old version's files (e2e TestUpdate).
const serviceWorkerTemplate = `const cacheName = "app-{{.Version}}";
const resourcesToCache = {{.ResourcesToCache}};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(cacheName)
      .then((cache) => cache.addAll(resourcesToCache.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((key) => key.startsWith("app-") && key !== cacheName)
        .map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

// Cache first (the app's files, and the model from its own cache), else the network.
self.addEventListener("fetch", (event) => {
  event.respondWith(
    caches.match(event.request).then((response) => response || fetch(event.request))
  );
});
`
