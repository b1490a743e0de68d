package web

// serviceWorkerTemplate replaces go-app's default service worker, whose activate step
// deletes every cache but the current app version's, the model cache included: a new app
// version would then download an unchanged 24 MB model again. This one only removes older
// "app-" caches. go-app fills in {{.Version}} and {{.ResourcesToCache}}.
const serviceWorkerTemplate = `const cacheName = "app-{{.Version}}";
const resourcesToCache = {{.ResourcesToCache}};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(cacheName)
      .then((cache) => cache.addAll(resourcesToCache))
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
