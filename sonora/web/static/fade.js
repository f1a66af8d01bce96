// Sonora's shared playback pieces, for the session player (player.js) and the music
// player (music.js): the clock's time format, a Web Audio gain ramp (iOS ignores
// audio.volume, so every fade is a GainNode's), the sleep timer's fade-then-stop and
// the percent sliders' labels.
(function () {
  "use strict";
  // Seconds as m:ss, or h:mm:ss from an hour on.
  function fmt(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m));
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  // A new AudioContext, or null where the browser has no Web Audio.
  function context() {
    var AC = window.AudioContext || window.webkitAudioContext;
    return AC ? new AC() : null;
  }
  // Move GainNode `node` to `to` over `seconds` on the audio clock (at once for 0),
  // from `from` when given, else from where it is now.
  function ramp(node, to, seconds, from) {
    if (!node) return;
    var now = node.context.currentTime, g = node.gain;
    g.cancelScheduledValues(now);
    g.setValueAtTime(from === undefined ? g.value : from, now);
    if (seconds > 0) g.linearRampToValueAtTime(to, now + seconds);
    else g.setValueAtTime(to, now);
  }
  // The sleep timer: set(minutes) starts it (0 turns it off); tick(), on every beat of
  // the page's clock while playing, fades master() to silence over the timer's last
  // 30 s (half its length when shorter), linearly on the audio clock, then calls onEnd.
  // `fading` stays true until the page brings the level back.
  function sleepTimer(master, onEnd) {
    var t = { end: 0, fadeS: 30, fading: false };
    t.set = function (minutes) {
      t.end = minutes ? Date.now() + minutes * 60000 : 0;
      t.fadeS = Math.min(30, minutes * 60 / 2);
    };
    t.tick = function () {
      if (!t.end) return;
      var left = (t.end - Date.now()) / 1000, node = master();
      if (left <= t.fadeS && !t.fading && node) {
        t.fading = true;
        ramp(node, 0, Math.max(0.05, left));
      }
      if (left <= 0) { t.end = 0; onEnd(); }
    };
    return t;
  }
  // A 0-100 slider `el` as a fraction (0-1), its value shown as "n%" in `out` (its
  // <output>) and said as "n percent" to screen readers (aria-valuetext).
  function percent(el, out) {
    out.textContent = el.value + "%";
    el.setAttribute("aria-valuetext", el.value + " percent");
    return parseInt(el.value, 10) / 100;
  }
  window.sonoraFade = { fmt: fmt, context: context, ramp: ramp, sleepTimer: sleepTimer, percent: percent };
})();
