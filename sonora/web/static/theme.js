// Dark at night: the listener's own clock decides (21:00-06:00), or the system's dark mode.
(function () {
  var h = new Date().getHours();
  var night = h >= 21 || h < 6;
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.setAttribute("data-theme", night || dark ? "night" : "day");
})();
