// Show consult times in the listener's own time zone: if the page was not asked for a
// zone explicitly (?tz=) and the browser's zone differs, pick it and reload.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  var params = new URLSearchParams(window.location.search);
  document.querySelectorAll("form.tz-form select[name=tz]").forEach(function (sel) {
    if (params.has("tz") || sel.value === zone) return;
    var known = Array.prototype.some.call(sel.options, function (o) { return o.value === zone; });
    if (!known) return;
    sel.value = zone;
    sel.form.submit();
  });
  document.querySelectorAll("form.search input[name=tz]").forEach(function (inp) {
    if (!params.has("tz") && inp.value !== zone) inp.value = zone;
  });
})();
