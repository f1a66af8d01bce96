// Sliders show their value; the check-in records the local time of day.
(function () {
  document.querySelectorAll('input[type="range"]').forEach(function (el) {
    var out = document.getElementById("o-" + el.name);
    var update = function () {
      if (out) out.textContent = el.value;
      var low = el.dataset.low, high = el.dataset.high;
      el.setAttribute("aria-valuetext", el.value + " of 10" + (low ? " (0 " + low + ", 10 " + high + ")" : ""));
    };
    el.addEventListener("input", update);
    update();
  });
  var t = document.getElementById("f-local_time");
  if (t) {
    var d = new Date();
    t.value = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }
})();
