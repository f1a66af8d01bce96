// Sonora on every page: install the service worker, remember the browser's time zone,
// queue check-ins made offline (IndexedDB) and send them once when back online, and
// list the sessions kept for offline (/kept).
(function () {
  "use strict";
  var notices = document.getElementById("offline-notices");
  function notice(html, cls) {
    if (!notices) return;
    var p = document.createElement("p");
    p.className = "notice" + (cls ? " " + cls : "");
    p.setAttribute("role", "status");
    p.innerHTML = html;
    notices.appendChild(p);
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* not installable here */ });
  }

  // The browser's zone, so pages with times (therapist slots) show it first.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("sonora_browser_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "sonora_browser_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl */ }

  // -- offline check-in queue ----------------------------------------------------------
  var DB = "sonora", STORE = "outbox";
  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () { open.result.createObjectStore(STORE, { keyPath: "key" }); };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }
  function tx(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode);
        var out = fn(t.objectStore(STORE));
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function answersOf(form) {
    var data = new FormData(form), out = {};
    ["tension", "energy", "mood"].forEach(function (k) {
      var v = data.get(k); if (v !== null && v !== "") out[k] = parseFloat(v);
    });
    ["goal", "place", "output", "local_time", "note"].forEach(function (k) {
      var v = data.get(k); if (v !== null && v !== "") out[k] = String(v);
    });
    var m = data.get("minutes");
    if (m) out.minutes = (m === "all night") ? m : parseFloat(m);
    return out;
  }
  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    flushing = true;
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return fetch("/api/checkins", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
            body: JSON.stringify(item.answers)
          }).then(function (r) {
            if (r.status === 200 || r.status === 201) {
              return r.json().then(function (j) {
                return tx("readwrite", function (s) { s.delete(item.key); }).then(function () {
                  notice("Your check-in from " + item.queued_label + " was sent. <a href=\"/plan/" + j.plan.id + "\">See its session</a>.");
                });
              });
            }
            if (r.status === 422 || r.status === 400) {
              return r.json().then(function (j) {
                return tx("readwrite", function (s) { s.delete(item.key); }).then(function () {
                  notice("A check-in saved offline could not be sent: " + (j.detail || r.status) + ".", "error");
                });
              });
            }
            // 401, 409 (still being made), 5xx: keep it and try again later.
          });
        });
      }, Promise.resolve());
    }).catch(function () { /* offline again: try later */ }).then(function () { flushing = false; });
  }
  window.sonoraOutbox = {
    flush: flush,
    count: function () { return tx("readonly", function (s) { return s.count(); }); }
  };
  window.addEventListener("online", flush);
  if (navigator.onLine) flush();

  var form = document.getElementById("checkin-form");
  if (form) {
    form.addEventListener("submit", function (e) {
      if (navigator.onLine) return;  // the ordinary form post
      e.preventDefault();
      var now = new Date();
      var item = {
        key: newKey(), answers: answersOf(form), queued_at: now.toISOString(),
        queued_label: String(now.getHours()).padStart(2, "0") + ":" + String(now.getMinutes()).padStart(2, "0")
      };
      tx("readwrite", function (s) { s.put(item); }).then(function () {
        notice("You are offline. Your check-in is saved on this device and will be sent once when you are back online.");
        var st = document.getElementById("checkin-queued");
        if (st) st.hidden = false;
      });
    });
  }

  // Logging out or deleting the account also clears what this browser kept.
  document.querySelectorAll('form[action="/logout"], form[action="/account/delete"]').forEach(function (f) {
    f.addEventListener("submit", function () {
      if ("caches" in window) caches.delete("sonora-kept");
      try { indexedDB.deleteDatabase(DB); } catch (e) { /* ignore */ }
    });
  });

  // -- Kept for offline ----------------------------------------------------------------
  var list = document.getElementById("kept-list");
  if (list && "caches" in window) {
    var empty = document.getElementById("kept-empty");
    var total = document.getElementById("kept-total");
    var render = function () {
      caches.open("sonora-kept").then(function (c) {
        return c.keys().then(function (reqs) {
          var metas = reqs.filter(function (r) { return new URL(r.url).pathname.indexOf("/kept-meta/") === 0; });
          return Promise.all(metas.map(function (r) { return c.match(r).then(function (x) { return x.json(); }); }));
        });
      }).then(function (items) {
        list.innerHTML = "";
        var bytes = 0;
        items.sort(function (a, b) { return a.kept_at < b.kept_at ? 1 : -1; });
        items.forEach(function (m) {
          bytes += m.size_bytes;
          var li = document.createElement("li");
          li.className = "kept-item";
          var a = document.createElement("a");
          a.href = "/play/" + m.plan_id; a.textContent = m.title;
          var meta = document.createElement("span");
          meta.className = "small";
          meta.textContent = " " + Math.round(m.duration_s / 60) + " min · " + (m.size_bytes / 1048576).toFixed(1) + " MB";
          var rm = document.createElement("button");
          rm.type = "button"; rm.className = "button small-button";
          rm.textContent = "Remove"; rm.setAttribute("aria-label", "Remove " + m.title + " from this device");
          rm.addEventListener("click", function () {
            caches.open("sonora-kept").then(function (c) {
              return Promise.all([c.delete("/kept-meta/" + m.plan_id), c.delete("/play/" + m.plan_id), c.delete(m.audio_url)]);
            }).then(render);
          });
          li.appendChild(a); li.appendChild(meta); li.appendChild(rm);
          list.appendChild(li);
        });
        if (empty) empty.hidden = items.length > 0;
        if (total) total.textContent = items.length ? items.length + (items.length === 1 ? " session, " : " sessions, ") + (bytes / 1048576).toFixed(1) + " MB on this device" : "";
      });
    };
    render();
  }
})();
