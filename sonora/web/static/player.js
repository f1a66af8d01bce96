// Sonora player: streamed (or kept) audio through Web Audio gain nodes (volume, sleep
// timer fade and alarm fade-in work on iOS, which ignores audio.volume), a seek bar,
// endless mode, Media Session (lock screen and headphone buttons), the live mixer,
// breath pacer, night mode, keep for offline and downloads with progress.
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var planId = root.dataset.plan;
  var planDuration = parseFloat(root.dataset.duration);
  var ENDLESS_S = parseFloat(root.dataset.endlessS) || 43200;
  var quiet = root.dataset.quiet === "true";
  var title = root.dataset.title || "Your session";
  var goalLabel = root.dataset.goal || "";
  var audio = document.getElementById("audio");
  var playBtn = document.getElementById("play");
  var statusEl = document.getElementById("status");
  var elapsedEl = document.getElementById("elapsed");
  var totalEl = document.getElementById("total");
  var seek = document.getElementById("seek");
  var endlessBox = document.getElementById("endless");
  var volume = document.getElementById("volume");

  var offset = 0;          // session time where the current stream started
  var playing = false, started = false, retries = 0;
  var quietStart = 0, quietBase = 0;
  var local = false;       // playing a kept file from this device (seekable in place)
  var endless = false;
  var level = volume ? parseInt(volume.value, 10) / 100 : 1;
  var F = window.sonoraFade, fmt = F.fmt;  // fade.js

  function duration() { return endless ? ENDLESS_S : planDuration; }
  function say(text) { statusEl.textContent = text; }
  function position() {
    if (quiet) return quietBase + (playing ? (Date.now() - quietStart) / 1000 : 0);
    if (local) return audio.currentTime;
    return offset + (audio ? audio.currentTime : 0);
  }
  function showTotal() { totalEl.textContent = endless ? "endless" : fmt(planDuration); }
  showTotal();

  // Ogg Opus where the browser plays it, MP3 otherwise (older Safari).
  var fmtName = (audio && !audio.canPlayType("audio/ogg; codecs=opus")) ? "mp3" : "opus";
  var streamBase = "/api/plans/" + planId + "/stream?format=" + fmtName;
  var fileUrl = "/api/plans/" + planId + "/download?format=" + fmtName;

  // -- Web Audio: element -> master gain -> analyser -> speakers ----------------------
  var ctx = null, master = null, analyser = null;
  function graph() {
    if (ctx || !audio) return;
    ctx = F.context();
    if (!ctx) return;
    var srcNode = ctx.createMediaElementSource(audio);
    master = ctx.createGain();
    analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    master.gain.value = level;
    srcNode.connect(master); master.connect(analyser); analyser.connect(ctx.destination);
  }
  function setLevel(v, rampS, from) { F.ramp(master, v, rampS, from); }
  var timer = F.sleepTimer(function () { return master; }, function () {
    if (audio) audio.pause(); else quietBase = position();
    setPlaying(false);
    say("Timer ended. Sleep well.");
  });
  window.sonoraPlayer = {
    gain: function () { return master ? master.gain.value : null; },
    rms: function () {
      if (!analyser) return null;
      var buf = new Float32Array(analyser.fftSize);
      analyser.getFloatTimeDomainData(buf);
      var s = 0; for (var i = 0; i < buf.length; i++) s += buf[i] * buf[i];
      return Math.sqrt(s / buf.length);
    },
    position: position,
    local: function () { return local; }
  };

  function connect(at) {
    offset = at;
    if (local) { audio.currentTime = at; }
    else { audio.src = streamBase + (endless ? "&endless=1" : "") + "&offset_s=" + at.toFixed(3); }
    var p = audio.play();
    if (p && p.catch) p.catch(function (e) { say("Press play to start (" + e.name + ")."); setPlaying(false); });
  }
  function setPlaying(on) {
    playing = on;
    playBtn.setAttribute("aria-pressed", on ? "true" : "false");
    playBtn.textContent = on ? "Pause" : (quiet ? (started ? "Resume resting" : "Start resting") : (started ? "Resume" : "Play"));
    if ("mediaSession" in navigator) navigator.mediaSession.playbackState = on ? "playing" : "paused";
  }
  function play() {
    if (quiet) { quietStart = Date.now(); started = true; setPlaying(true); return; }
    graph();
    if (ctx && ctx.state === "suspended") ctx.resume();
    if (timer.fading || (master && master.gain.value < level)) { timer.fading = false; setLevel(level, 0); }
    started = true;
    setPlaying(true);
    if (!audio.src || audio.error) { say("Starting…"); connect(position()); }
    else { audio.play(); }
  }
  function pause() {
    if (quiet) { quietBase = position(); setPlaying(false); return; }
    audio.pause(); setPlaying(false);
  }
  playBtn.addEventListener("click", function () { if (playing) pause(); else play(); });

  if (audio) {
    audio.addEventListener("playing", function () { retries = 0; say(local ? "Playing from this device." : ""); });
    audio.addEventListener("waiting", function () { say("Loading…"); });
    audio.addEventListener("error", function () { resume("error"); });
    audio.addEventListener("ended", function () {
      if (!local && position() < duration() - 1) resume("ended early");
      else finished();
    });
  }
  function resume(why) {
    if (!playing || local) return;
    if (retries >= 5) { say("The connection dropped. Press play to try again."); setPlaying(false); return; }
    retries += 1;
    var at = Math.min(position(), duration() - 1);
    say("Reconnecting at " + fmt(at) + "…");
    setTimeout(function () { connect(at); }, 500 * retries);
  }
  function finished() {
    setPlaying(false);
    say("Session finished. When you are ready, check out.");
    document.getElementById("finish").focus();
  }

  // -- seek bar and endless mode ---------------------------------------------------------
  var seeking = false;
  if (seek) {
    seek.max = String(Math.floor(planDuration));
    seek.addEventListener("input", function () {
      seeking = true;
      seek.setAttribute("aria-valuetext", fmt(parseFloat(seek.value)) + " of " + fmt(planDuration));
    });
    seek.addEventListener("change", function () {
      seeking = false;
      seekTo(parseFloat(seek.value));
    });
  }
  function seekTo(at) {
    at = Math.max(0, Math.min(at, duration() - 1));
    if (quiet) { quietBase = at; quietStart = Date.now(); return; }
    if (!playing) { offset = at; if (local) audio.currentTime = at; else audio.removeAttribute("src"); elapsedEl.textContent = fmt(at); return; }
    say("Moving to " + fmt(at) + "…");
    connect(at);
  }
  if (endlessBox) {
    endlessBox.addEventListener("change", function () {
      endless = endlessBox.checked;
      showTotal();
      if (seek) seek.disabled = endless;
      say(endless ? "Endless: after " + fmt(planDuration) + " the sound stays as it ends, until you stop it or the timer ends." : "Plays to the end of the session.");
      if (playing && !quiet && !local) connect(position());
      else if (!local && audio) audio.removeAttribute("src");
    });
  }

  // -- volume (Web Audio gain, works where audio.volume is ignored) -----------------------
  if (volume) {
    volume.addEventListener("input", function () {
      level = F.percent(volume, volume.parentNode.querySelector("output"));
      if (!timer.fading) setLevel(level, 0.05);
    });
  }

  // -- Media Session: lock screen, notification and headphone buttons ------------------
  if ("mediaSession" in navigator && !quiet) {
    var ms = navigator.mediaSession;
    ms.metadata = new MediaMetadata({
      title: title, artist: "Sonora", album: goalLabel,
      artwork: [
        { src: "/static/icons/icon-192.png", sizes: "192x192", type: "image/png" },
        { src: "/static/icons/icon-512.png", sizes: "512x512", type: "image/png" }
      ]
    });
    var handlers = {
      play: function () { play(); },
      pause: function () { pause(); },
      stop: function () { pause(); },
      seekbackward: function (d) { seekTo(position() - ((d && d.seekOffset) || 30)); },
      seekforward: function (d) { seekTo(position() + ((d && d.seekOffset) || 30)); },
      seekto: function (d) { if (d && typeof d.seekTime === "number") seekTo(d.seekTime); }
    };
    var registered = [];
    Object.keys(handlers).forEach(function (k) {
      try { ms.setActionHandler(k, handlers[k]); registered.push(k); } catch (e) { /* not supported */ }
    });
    window.sonoraPlayer.mediaActions = registered;
  }
  function positionState() {
    if (!("mediaSession" in navigator) || !navigator.mediaSession.setPositionState || quiet) return;
    try {
      navigator.mediaSession.setPositionState({ duration: duration(), position: Math.min(position(), duration()), playbackRate: 1 });
    } catch (e) { /* ignore */ }
  }

  // -- live mixer ----------------------------------------------------------------------
  var gains = Array.prototype.slice.call(document.querySelectorAll("input.gain"));
  var pending = null;
  gains.forEach(function (el) {
    el.addEventListener("input", function () {
      F.percent(el, el.parentNode.querySelector("output"));
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
      if (local) say("Saved. A kept file keeps the mix it was kept with; the stream plays the new mix.");
    }).catch(function () { say("Mixer change not saved (offline?)."); });
  }

  // -- sleep timer: a Web Audio fade, then pause -----------------------------------------
  document.getElementById("timer").addEventListener("change", function (e) {
    var m = parseFloat(e.target.value);
    timer.set(m);
    if (timer.fading) { timer.fading = false; setLevel(level, 0.2); }
    say(m ? "Fading out in " + (m >= 1 ? m + " minutes" : Math.round(m * 60) + " seconds") + "." : "Timer off.");
  });

  // -- alarm: fades in a chosen sound at a time ------------------------------------------
  var alarmForm = document.getElementById("alarm-form");
  var alarmAt = 0, alarmStatus = document.getElementById("alarm-status");
  if (alarmForm) {
    alarmForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var t = document.getElementById("alarm-time").value;
      if (!t) { alarmStatus.textContent = "Choose a time first."; return; }
      var parts = t.split(":"), d = new Date();
      d.setHours(parseInt(parts[0], 10), parseInt(parts[1], 10), 0, 0);
      if (d.getTime() <= Date.now()) d.setDate(d.getDate() + 1);
      alarmAt = d.getTime();
      graph();
      if (ctx && ctx.state === "suspended") ctx.resume();
      alarmStatus.textContent = "Alarm set for " + t + ". Keep this page open and the phone on charge; it cannot wake a locked phone by itself.";
    });
    if (navigator.onLine) {
      fetch("/api/mixes", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { mixes: [] }; })
        .then(function (j) {
          var sel = document.getElementById("alarm-sound");
          (j.mixes || []).forEach(function (m) {
            var o = document.createElement("option"); o.value = m.id; o.textContent = "Mix: " + m.name; sel.appendChild(o);
          });
        }).catch(function () { /* offline: this session only */ });
    }
    document.getElementById("alarm-off").addEventListener("click", function () {
      alarmAt = 0; alarmStatus.textContent = "Alarm off.";
    });
  }
  function ring() {
    alarmAt = 0;
    var choice = document.getElementById("alarm-sound").value;
    var riseS = parseFloat(document.getElementById("alarm-fade").value) * 60;
    var go = function (planForWake) {
      graph();
      if (planForWake !== planId) { local = false; streamBase = "/api/plans/" + planForWake + "/stream?format=" + fmtName; }
      started = true; setPlaying(true);
      connect(0);
      setLevel(level, riseS, 0);  // from silence up to the chosen level
      alarmStatus.textContent = "Good morning. The sound is rising over " + Math.round(riseS / 60) + " minutes.";
    };
    if (choice === "this") { go(planId); return; }
    fetch("/api/mixes/" + choice + "/start", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: "{}" })
      .then(function (r) { return r.json(); })
      .then(function (j) { go(j.plan_id); })
      .catch(function () { go(planId); });
  }

  // -- keep for offline and downloads, with progress -----------------------------------
  // A file is rendered on the server's job queue: start it (or join the same one),
  // show the render's progress from its status URL, then fetch the finished file.
  function readJson(r) {
    return r.json().catch(function () { return {}; }).then(function (j) {
      if (!r.ok) throw new Error(j.detail || ("HTTP " + r.status));
      return j;
    });
  }
  function prepareFile(fmtKind, bar, label) {
    bar.hidden = false; bar.max = 100; bar.value = 0;
    function poll(j) {
      if (j.status === "done") return j;
      if (j.status === "failed") throw new Error(j.error || "the file could not be made");
      var pct = Math.round((j.progress || 0) * 100);
      bar.value = pct;
      label.textContent = j.status === "queued" ? "Waiting for its turn to be prepared…" : "Preparing the file: " + pct + "%";
      return new Promise(function (ok) { setTimeout(ok, 1000); }).then(function () {
        return fetch(j.status_url, { credentials: "same-origin" }).then(readJson).then(poll);
      });
    }
    return fetch("/api/plans/" + planId + "/downloads", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ format: fmtKind })
    }).then(readJson).then(poll);
  }
  // The finished file, with progress in bytes (its length is known now).
  function fetchFile(url, bar, label) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      var total = parseInt(r.headers.get("Content-Length") || "0", 10);
      var type = r.headers.get("Content-Type") || "application/octet-stream";
      if (!r.body || !r.body.getReader) return r.blob();
      var reader = r.body.getReader(), chunks = [], got = 0;
      function pump() {
        return reader.read().then(function (res) {
          if (res.done) return new Blob(chunks, { type: type });
          chunks.push(res.value); got += res.value.length;
          if (total) bar.value = Math.round(100 * got / total);
          label.textContent = "Fetching the file: " + (got / 1048576).toFixed(1) + (total ? " of " + (total / 1048576).toFixed(1) : "") + " MB";
          return pump();
        });
      }
      return pump();
    });
  }
  document.querySelectorAll("a.download").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (!window.fetch || !window.Promise) return;  // the link itself works too
      e.preventDefault();
      var bar = document.getElementById("dl-progress"), label = document.getElementById("dl-label");
      label.textContent = "Preparing the file…";
      prepareFile(a.dataset.format, bar, label).then(function (j) {
        // the browser saves it itself (Content-Disposition): no copy held in this page
        var tmp = document.createElement("a");
        tmp.href = j.file_url; tmp.download = j.filename;
        document.body.appendChild(tmp); tmp.click(); tmp.remove();
        bar.value = 100;
        label.textContent = "Ready (" + (j.size_bytes / 1048576).toFixed(1) + " MB): your browser is saving it.";
      }).catch(function (err) { bar.hidden = true; label.textContent = "Download failed: " + err.message + ". Try again."; });
    });
  });

  var keepBtn = document.getElementById("keep");
  function useKept() {
    if (!("caches" in window) || !audio) return Promise.resolve(false);
    return caches.open("sonora-kept").then(function (c) { return c.match(fileUrl); }).then(function (hit) {
      if (!hit) return false;
      return hit.blob().then(function (blob) {
        local = true; endless = false;
        if (endlessBox) { endlessBox.checked = false; endlessBox.disabled = true; }
        if (seek) seek.disabled = false;
        audio.src = URL.createObjectURL(blob);
        if (keepBtn) { keepBtn.textContent = "Kept on this device"; keepBtn.disabled = true; }
        var kept = document.getElementById("kept-note");
        if (kept) kept.hidden = false;
        return true;
      });
    }).catch(function () { return false; });
  }
  if (keepBtn) {
    keepBtn.addEventListener("click", function () {
      var bar = document.getElementById("keep-progress"), label = document.getElementById("keep-label");
      label.textContent = "Preparing the file…";
      keepBtn.disabled = true;
      prepareFile(fmtName, bar, label).then(function (j) {
        return fetchFile(j.file_url, bar, label);
      }).then(function (blob) {
        return caches.open("sonora-kept").then(function (c) {
          return fetch("/play/" + planId, { credentials: "same-origin" }).then(function (page) {
            var meta = {
              plan_id: planId, title: title, goal: goalLabel, duration_s: planDuration,
              size_bytes: blob.size, audio_url: fileUrl, kept_at: new Date().toISOString(),
              plan: JSON.parse(root.dataset.planJson || "null")
            };
            return Promise.all([
              c.put(fileUrl, new Response(blob, { headers: { "Content-Type": blob.type, "Content-Length": String(blob.size) } })),
              c.put("/play/" + planId, page),
              c.put("/kept-meta/" + planId, new Response(JSON.stringify(meta), { headers: { "Content-Type": "application/json" } }))
            ]);
          });
        }).then(function () {
          bar.value = 100;
          label.textContent = "Kept on this device (" + (blob.size / 1048576).toFixed(1) + " MB). It plays without a connection.";
          if (!playing) useKept();
        });
      }).catch(function (err) {
        keepBtn.disabled = false; bar.hidden = true;
        label.textContent = "Could not keep it: " + err.message + ".";
      });
    });
  }
  useKept().then(function (yes) { if (!yes && !navigator.onLine) say("You are offline, and this session is not kept on this device."); });

  // -- breath pacer ----------------------------------------------------------------------
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

  // -- night mode ------------------------------------------------------------------------
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

  // -- clock -----------------------------------------------------------------------------
  var ticks = 0;
  setInterval(function () {
    var pos = position();
    elapsedEl.textContent = fmt(pos);
    if (seek && !seeking && !endless) { seek.value = String(Math.min(pos, planDuration)); seek.setAttribute("aria-valuetext", fmt(pos) + " of " + fmt(planDuration)); }
    nightClock.textContent = endless ? "endless" : fmt(planDuration - pos) + " left";
    if (quiet && playing && pos >= planDuration) { quietBase = planDuration; finished(); }
    if (alarmAt && Date.now() >= alarmAt) ring();
    if ((ticks++ % 4) === 0 && playing) positionState();
    if (playing) timer.tick();
  }, 250);
})();
