// Sonora player: streamed audio, live mixer, sleep timer with fade-out, breath pacer,
// night mode, and resuming at the session offset after a dropped connection.
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var planId = root.dataset.plan;
  var duration = parseFloat(root.dataset.duration);
  var quiet = root.dataset.quiet === "true";
  var audio = document.getElementById("audio");
  var playBtn = document.getElementById("play");
  var statusEl = document.getElementById("status");
  var elapsedEl = document.getElementById("elapsed");
  document.getElementById("total").textContent = fmt(duration);

  var offset = 0;          // session time where the current stream started
  var playing = false;
  var started = false;
  var retries = 0;
  var quietStart = 0, quietBase = 0;
  var timerEnd = 0, fading = false;

  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m));
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  function say(text) { statusEl.textContent = text; }
  function position() {
    if (quiet) return quietBase + (playing ? (Date.now() - quietStart) / 1000 : 0);
    return offset + (audio ? audio.currentTime : 0);
  }

  // Ogg Opus where the browser plays it, MP3 otherwise (older Safari).
  var src = audio ? audio.dataset.src : "";
  if (audio && !audio.canPlayType("audio/ogg; codecs=opus")) src = src.replace("format=opus", "format=mp3");

  function connect(at) {
    offset = at;
    audio.src = src + "&offset_s=" + at.toFixed(3);
    audio.volume = 1;
    var p = audio.play();
    if (p && p.catch) p.catch(function (e) { say("Press play to start (" + e.name + ")."); setPlaying(false); });
  }
  function setPlaying(on) {
    playing = on;
    playBtn.setAttribute("aria-pressed", on ? "true" : "false");
    playBtn.textContent = on ? "Pause" : (quiet ? (started ? "Resume resting" : "Start resting") : (started ? "Resume" : "Play"));
  }

  playBtn.addEventListener("click", function () {
    if (quiet) {
      if (playing) { quietBase = position(); setPlaying(false); }
      else { quietStart = Date.now(); started = true; setPlaying(true); }
      return;
    }
    if (playing) { audio.pause(); setPlaying(false); return; }
    started = true;
    setPlaying(true);
    if (!audio.src || audio.error) { say("Starting…"); connect(position()); }
    else { audio.play(); }
  });

  if (audio) {
    audio.addEventListener("playing", function () { retries = 0; say(""); });
    audio.addEventListener("waiting", function () { say("Loading…"); });
    audio.addEventListener("error", function () { resume("error"); });
    audio.addEventListener("ended", function () {
      if (position() < duration - 1) resume("ended early");
      else finished();
    });
  }
  function resume(why) {
    if (!playing) return;
    if (retries >= 5) { say("The connection dropped. Press play to try again."); setPlaying(false); return; }
    retries += 1;
    var at = Math.min(position(), duration - 1);
    say("Reconnecting at " + fmt(at) + "…");
    setTimeout(function () { connect(at); }, 500 * retries);
  }
  function finished() {
    setPlaying(false);
    say("Session finished. When you are ready, check out.");
    document.getElementById("finish").focus();
  }

  // -- live mixer ------------------------------------------------------------------
  var gains = Array.prototype.slice.call(document.querySelectorAll("input.gain"));
  var pending = null;
  gains.forEach(function (el) {
    el.addEventListener("input", function () {
      var out = el.parentNode.querySelector("output");
      out.textContent = el.value + "%";
      el.setAttribute("aria-valuetext", el.value + " percent");
      clearTimeout(pending);
      pending = setTimeout(sendGains, 150);
    });
  });
  function sendGains() {
    var body = JSON.stringify({ gains: gains.map(function (g) { return parseInt(g.value, 10) / 100; }) });
    fetch("/api/plans/" + planId + "/gains", {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: body, credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) return r.json().then(function (j) { say("Mixer: " + j.detail); });
    }).catch(function () { say("Mixer change not saved (offline?)."); });
  }

  // -- sleep timer with fade-out ---------------------------------------------------
  var FADE_S = 30;
  document.getElementById("timer").addEventListener("change", function (e) {
    var m = parseInt(e.target.value, 10);
    timerEnd = m ? Date.now() + m * 60000 : 0;
    fading = false;
    if (audio) audio.volume = 1;
    say(m ? "Fading out in " + m + " minutes." : "Timer off.");
  });

  // -- breath pacer ----------------------------------------------------------------
  var pacerWrap = document.getElementById("pacer-wrap");
  var pacer = document.getElementById("pacer");
  var pacerText = document.getElementById("pacer-text");
  var toggle = document.getElementById("pacer-toggle");
  var bStart = parseFloat(root.dataset.breathsStart) || 6;
  var bEnd = parseFloat(root.dataset.breathsEnd) || 6;
  var bRamp = parseFloat(root.dataset.breathsRamp) || 0;
  var pacerTimer = null, inhale = false;
  function breathsAt(t) {
    if (!bRamp || t >= bRamp) return bEnd;
    return bStart * Math.pow(bEnd / bStart, t / bRamp);
  }
  function breathStep() {
    var period = 60 / breathsAt(position());
    inhale = !inhale;
    var span = (inhale ? 0.4 : 0.6) * period;
    pacer.style.transitionDuration = span.toFixed(2) + "s";
    pacer.classList.toggle("in", inhale);
    pacerText.textContent = inhale ? "Breathe in" : "Breathe out";
    pacerTimer = setTimeout(breathStep, span * 1000);
  }
  function showPacer(on) {
    pacerWrap.hidden = !on;
    clearTimeout(pacerTimer);
    if (on) breathStep();
  }
  toggle.addEventListener("change", function () { showPacer(toggle.checked); });
  showPacer(toggle.checked);

  // -- night mode ------------------------------------------------------------------
  var cover = document.getElementById("night-cover");
  var exitBtn = document.getElementById("night-exit");
  var nightClock = document.getElementById("night-clock");
  var opener = document.getElementById("night");
  function night(on) {
    cover.hidden = !on;
    if (on) exitBtn.focus(); else opener.focus();
  }
  opener.addEventListener("click", function () { night(true); });
  exitBtn.addEventListener("click", function () { night(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !cover.hidden) night(false); });

  // -- clock -----------------------------------------------------------------------
  setInterval(function () {
    var pos = position();
    elapsedEl.textContent = fmt(pos);
    nightClock.textContent = fmt(duration - pos) + " left";
    if (quiet && playing && pos >= duration) { quietBase = duration; finished(); }
    if (timerEnd && playing) {
      var left = (timerEnd - Date.now()) / 1000;
      if (left <= FADE_S && audio) {
        fading = true;
        audio.volume = Math.max(0, Math.min(1, left / FADE_S));
      }
      if (left <= 0) {
        timerEnd = 0;
        if (audio) audio.pause(); else quietBase = position();
        setPlaying(false);
        say("Timer ended. Sleep well.");
      }
    }
  }, 250);
})();
