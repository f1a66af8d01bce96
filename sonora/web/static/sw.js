// Sonora service worker: the app shell from the cache, pages from the network with
// the cache as a fallback, and sessions the listener kept for offline.
"use strict";
// The shell's version and URLs are filled in by the server (sonora/web/pwa.py:
// CACHE_VERSION and APP_SHELL), which serves this file at /sw.js.
var SHELL = "__CACHE_VERSION__";
var KEPT = "sonora-kept";  // kept sessions: /play/<id> page, audio file, /kept-meta/<id>
var SHELL_URLS = [/* APP_SHELL */];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL).then(function (c) { return c.addAll(SHELL_URLS); }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("sonora-shell-") === 0 && n !== SHELL; })
        .map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function fromKept(request) {
  return caches.open(KEPT).then(function (c) { return c.match(request, { ignoreSearch: true }); });
}

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;

  if (req.mode === "navigate") {
    // Network first (pages carry the listener's latest data); offline: a kept session's
    // player, or the cached page itself (/kept), or the "Kept for offline" list.
    event.respondWith(
      fetch(req).catch(function () {
        return fromKept(req).then(function (hit) {
          return hit || caches.match(req, { ignoreSearch: true }).then(function (shell) {
            return shell || caches.match("/kept");
          });
        });
      })
    );
    return;
  }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    // App shell: cached copy first, refreshed in the background.
    event.respondWith(
      caches.open(SHELL).then(function (c) {
        return c.match(req).then(function (hit) {
          var net = fetch(req).then(function (resp) {
            if (resp.ok) c.put(req, resp.clone());
            return resp;
          });
          return hit || net;
        });
      })
    );
    return;
  }
  if (url.pathname.indexOf("/api/plans/") === 0 && url.pathname.slice(-9) === "/download") {
    // A kept session's file plays from the device (kept under this, the old download
    // URL; the player makes it through /api/plans/<id>/downloads and its status URL).
    // Not kept: the network, whose answer is the file or, while it is still being
    // prepared on the server's job queue, a 503 that is passed on, never kept.
    event.respondWith(fromKept(req).then(function (hit) { return hit || fetch(req); }));
  }
  // /api/downloads/<id>/file (the rendered file, Range requests for seeking) and its
  // status are never cached here: the server says no-store and each is the owner's only.
});
