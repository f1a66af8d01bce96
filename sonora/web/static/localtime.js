// Times in the listener's own zone: a page rendered before the server knew the browser's
// zone (no sonora_browser_tz cookie yet) shows UTC; rewrite each <time datetime> in the
// browser's zone with Intl, and say which zone. Without JavaScript the UTC times stay,
// labelled UTC.
(function () {
  var note = document.querySelector("[data-times-zone]");
  if (!note || note.getAttribute("data-times-zone") !== "") return; // the server knew it
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  var fmt = new Intl.DateTimeFormat(undefined, {
    day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    hour12: false, timeZone: zone, timeZoneName: "short"
  });
  document.querySelectorAll("time[datetime][data-local]").forEach(function (el) {
    var t = new Date(el.getAttribute("datetime"));
    if (!isNaN(t)) el.textContent = fmt.format(t);
  });
  var strong = note.querySelector("strong");
  if (strong) strong.textContent = zone;
  note.setAttribute("data-times-zone", zone);
})();
