// Sonora's player for a playlist of the listener's own music: each track is an <audio>
// element fetched from the server with range requests, played through Web Audio gain
// nodes (crossfades, the sleep-timer fade and the sound layer work on iOS, which
// ignores audio.volume).  Between tracks: a crossfade of 3-10 s, or straight on (the
// next track is loaded ahead and starts on "ended").  An optional Sonora sound (the
// check-in's plan, streamed endless) plays under and between the tracks and, after the
// last track, rises to become the sleep bed.
(function () {
  "use strict";
  var root = document.getElementById("music-player");
  if (!root) return;
  var tracks = Array.prototype.slice.call(root.querySelectorAll("audio.music-track"));
  var layer = document.getElementById("music-layer");
  var playBtn = document.getElementById("music-play");
  var statusEl = document.getElementById("music-status");
  var indexEl = document.getElementById("music-index");
  var nameEl = document.getElementById("music-name");
  var elapsedEl = document.getElementById("music-elapsed");
  var xfadeSel = document.getElementById("music-xfade");
  var layerSlider = document.getElementById("music-layer-gain");

  var idx = 0, playing = false, started = false, done = false;
  var ctx = null, master = null, gains = [], layerGain = null;
  var layerLevel = layerSlider ? parseInt(layerSlider.value, 10) / 100 : 0.3;
  var BED_RISE_S = 10;
  var F = window.sonoraFade, fmt = F.fmt, ramp = F.ramp;  // fade.js
  var timer = F.sleepTimer(function () { return master; }, function () {
    pause(); say("Timer ended. Sleep well.");
  });

  function say(t) { statusEl.textContent = t; }
  function xfade() { return parseFloat(xfadeSel.value) || 0; }
  function lengthOf(el) {
    return isFinite(el.duration) && el.duration > 0 ? el.duration : parseFloat(el.dataset.duration) || 0;
  }

  function graph() {
    if (ctx) return;
    ctx = F.context();
    if (!ctx) return;
    master = ctx.createGain();
    master.connect(ctx.destination);
    tracks.forEach(function (el, i) {
      var g = ctx.createGain();
      g.gain.value = 0;
      ctx.createMediaElementSource(el).connect(g);
      g.connect(master);
      gains[i] = g;
    });
    if (layer) {
      layerGain = ctx.createGain();
      layerGain.gain.value = layerLevel;
      ctx.createMediaElementSource(layer).connect(layerGain);
      layerGain.connect(master);
    }
  }
  function load(i) {
    var el = tracks[i];
    if (el && !el.src) { el.preload = "auto"; el.src = el.dataset.src; }
    return el;
  }
  function show() {
    indexEl.textContent = String(idx + 1);
    nameEl.textContent = tracks[idx] ? tracks[idx].dataset.name : "";
  }
  function startTrack(i, fadeInS) {
    var el = load(i);
    if (!el) return;
    idx = i;
    show();
    ramp(gains[i], 1, fadeInS);
    var p = el.play();
    if (p && p.catch) p.catch(function (e) { say("Press play to start (" + e.name + ")."); });
    load(i + 1);  // straight on: the next one is ready when this one ends
  }
  function advance(fadeS2) {
    var from = idx;
    if (from + 1 >= tracks.length) { finished(); return; }
    if (fadeS2 > 0) ramp(gains[from], 0, fadeS2);
    else { tracks[from].pause(); ramp(gains[from], 0, 0); }
    startTrack(from + 1, fadeS2);
    if (fadeS2 > 0) setTimeout(function () { tracks[from].pause(); }, (fadeS2 + 0.5) * 1000);
  }
  function finished() {
    done = true;
    if (layer && layerGain && playing) {
      ramp(layerGain, 1, BED_RISE_S);
      say("The playlist has ended; the sound carries on as your sleep bed until you stop it or the timer ends.");
    } else {
      setPlaying(false);
      say("Playlist finished. When you are ready, check out.");
      document.getElementById("finish").focus();
    }
  }
  tracks.forEach(function (el, i) {
    el.addEventListener("ended", function () {
      if (i === idx && playing && !done) advance(0);
    });
    el.addEventListener("error", function () {
      if (i === idx && playing) { say("Track " + (i + 1) + " could not be played; going on."); advance(0); }
    });
  });

  function setPlaying(on) {
    playing = on;
    playBtn.setAttribute("aria-pressed", on ? "true" : "false");
    playBtn.textContent = on ? "Pause" : (started ? "Resume" : "Play");
  }
  function play() {
    graph();
    if (ctx && ctx.state === "suspended") ctx.resume();
    if (timer.fading) { timer.fading = false; ramp(master, 1, 0); }
    setPlaying(true);
    if (layer) {
      if (!layer.src) layer.src = layer.dataset.src;
      layer.play();
    }
    if (!started) { started = true; startTrack(0, 0); return; }
    if (!done) tracks[idx].play();
  }
  function pause() {
    tracks.forEach(function (el) { el.pause(); });
    if (layer) layer.pause();
    setPlaying(false);
  }
  playBtn.addEventListener("click", function () { if (playing) pause(); else play(); });

  document.getElementById("music-timer").addEventListener("change", function (e) {
    var m = parseFloat(e.target.value);
    timer.set(m);
    say(m ? "Fades out and stops in " + m + " minutes." : "Plays to the end.");
  });
  if (layerSlider) {
    layerSlider.addEventListener("input", function () {
      layerLevel = F.percent(layerSlider, layerSlider.nextElementSibling);
      if (layerGain && !done) ramp(layerGain, layerLevel, 0.2);
    });
  }

  setInterval(function () {
    if (!playing) return;
    var el = tracks[idx];
    if (el && !done) {
      elapsedEl.textContent = fmt(el.currentTime);
      var x = xfade(), left = lengthOf(el) - el.currentTime;
      if (x > 0 && idx + 1 < tracks.length && left > 0 && left <= x && !el.paused) advance(left);
    }
    timer.tick();
  }, 250);

  window.sonoraMusic = {
    index: function () { return idx; },
    position: function () { return tracks[idx] ? tracks[idx].currentTime : 0; },
    gain: function () { return master ? master.gain.value : null; },
    layerGain: function () { return layerGain ? layerGain.gain.value : null; },
    playing: function () { return playing; },
    done: function () { return done; }
  };
})();
