"""The phone experience in real Chromium at 390x844 (issue #14).

* install criteria: Chromium's own installability check (DevTools
  ``Page.getInstallabilityErrors``) finds nothing missing: manifest, service worker,
  icons;
* a session kept for offline plays after a reload with the network cut;
* a check-in made offline is queued in IndexedDB and sent exactly once when back online;
* lock-screen metadata and Media Session handlers are set while playing;
* the sleep-timer fade reaches silence through the Web Audio graph (measured by an
  analyser after the gain node), and Play afterwards restores the level;
* keyboard only: the player is reached and started with Tab and Enter;
* axe-core (vendored from npm, ``tests/e2e/vendor``) on every page, phone and desktop:
  zero serious or critical violations, and no horizontal scroll.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import e2e_server

from sonora.therapists.demo import seed_demo, verify_demo
from sonora.web.testing import RunningServer

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
CHECKIN = {"tension": 7, "energy": 4, "mood": 4, "goal": "unwind", "minutes": 5}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with e2e_server(tmp_path_factory, "pwa", triage_notes=False, stream_lead_s=2.0) as s:
        svc, store = s.core.therapists, s.core.store
        seed_demo(svc)
        admin = store.register(store.create_user().id, email="admin@example.org", password_hash="x")
        svc.repo.set_admin(admin.id)
        assert verify_demo(svc, "admin@example.org")
        yield s


def _wait(pred: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _listener(ctx: Any, url: str, **checkin: Any) -> dict[str, Any]:
    """A guest with a profile and one check-in, made through the API in the context."""
    r = ctx.request.post(url + "/api/guest", data={})
    assert r.status == 201, r.text()
    r = ctx.request.put(url + "/api/profile", data={"loved": ["rain", "water"]})
    assert r.status == 200, r.text()
    r = ctx.request.post(url + "/api/checkins", data={**CHECKIN, **checkin})
    assert r.status == 201, r.text()
    return r.json()


def _errors(page: Any) -> list[str]:
    out: list[str] = []
    page.on("pageerror", lambda e: out.append(str(e)))
    return out


def test_installable_offline_media_session_and_fade(
    browser: Any, server: RunningServer, shots: Path, tmp_path: Path
) -> None:
    # A persistent profile: Playwright's usual contexts are off the record, where
    # Chromium refuses to install anything ("in-incognito") before checking the rest.
    ctx = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=os.environ.get("SONORA_TEST_CHROMIUM", "/usr/bin/chromium"),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
            "--mute-audio",
        ],
        headless=True,
        **PHONE,
    )
    page = ctx.new_page()
    errors = _errors(page)
    made = _listener(ctx, server.url)
    plan_id, title = made["plan"]["id"], made["plan"]["plan"].get("title") or "Your session"

    page.goto(f"{server.url}/play/{plan_id}")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.reload()  # now controlled by the worker
    _wait(lambda: page.evaluate("!!navigator.serviceWorker.controller"), what="SW control")

    # Chromium's own install check: no errors means manifest, worker and icons are fine
    cdp = ctx.new_cdp_session(page)
    errs = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errs == [], errs
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}

    # keyboard only: Tab to Play, Enter starts it
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "play":
            break
    assert page.evaluate("document.activeElement.id") == "play"
    page.keyboard.press("Enter")
    _wait(lambda: page.evaluate("document.getElementById('audio').currentTime") > 1.5, 60, "play")
    assert page.get_by_role("button", name="Pause").get_attribute("aria-pressed") == "true"

    # lock screen: metadata and the actions a phone or headphones send
    meta = page.evaluate(
        "({t: navigator.mediaSession.metadata.title, a: navigator.mediaSession.metadata.artist,"
        " art: navigator.mediaSession.metadata.artwork.length,"
        " state: navigator.mediaSession.playbackState, acts: window.sonoraPlayer.mediaActions})"
    )
    assert meta["t"] == title and meta["a"] == "Sonora" and meta["art"] >= 1
    assert meta["state"] == "playing"
    assert {"play", "pause", "seekto", "seekbackward", "seekforward"} <= set(meta["acts"])

    # the sleep-timer fade, measured after the gain node: loud, then silence
    _wait(lambda: page.evaluate("window.sonoraPlayer.rms()") > 1e-3, 20, "sound in the graph")
    page.evaluate(
        "(() => { const s = document.getElementById('timer'); const o = new Option('6 s', '0.1');"
        " s.add(o); s.value = '0.1'; s.dispatchEvent(new Event('change')); })()"
    )
    _wait(lambda: page.evaluate("window.sonoraPlayer.gain()") == 0, 15, "gain at 0")
    silent = page.evaluate("window.sonoraPlayer.rms()")
    assert silent < 1e-5, silent
    _wait(lambda: page.evaluate("document.getElementById('play').textContent") == "Resume", 10)
    page.get_by_role("button", name="Resume").click()
    _wait(lambda: page.evaluate("window.sonoraPlayer.gain()") == 1, 10, "level restored")
    _wait(lambda: page.evaluate("window.sonoraPlayer.rms()") > 1e-3, 20, "sound again")
    page.get_by_role("button", name="Pause").click()

    # keep it for offline: rendered on the job queue (here the app's download thread),
    # its progress shown from the status URL, then the finished file fetched and kept
    page.get_by_role("button", name="Keep for offline").click()
    _wait(
        lambda: re.search(r"Preparing the file: \d+%", page.inner_text("#keep-label")),
        120,
        "render progress",
    )
    assert page.is_visible("#keep-progress")
    _wait(lambda: "Kept on this device" in page.inner_text("#keep-label"), 240, "kept")
    assert page.evaluate("document.getElementById('keep-progress').value") == 100
    # the download link reuses that render: the browser saves the finished file
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("link", name="Opus").click()
    assert dl.value.suggested_filename.endswith("-5min.opus")
    saved = Path(dl.value.path())
    assert saved.read_bytes()[:4] == b"OggS" and saved.stat().st_size > 100_000
    _wait(lambda: "your browser is saving it" in page.inner_text("#dl-label"), 10, "ready")
    page.screenshot(path=str(shots / "pwa-player-kept-phone.png"), full_page=True)

    # network cut: the kept session's page and audio come from the device
    ctx.set_offline(True)
    page.reload()
    _wait(lambda: page.evaluate("window.sonoraPlayer && window.sonoraPlayer.local()"), 20, "local")
    page.get_by_role("button", name="Play").click()
    _wait(
        lambda: page.evaluate("document.getElementById('audio').currentTime") > 1.5, 30, "offline"
    )
    assert page.evaluate("document.getElementById('audio').error") is None
    page.get_by_role("button", name="Pause").click()

    page.goto(f"{server.url}/kept")
    item = page.locator("#kept-list li")
    _wait(lambda: item.count() == 1, 10, "kept list")
    assert re.search(r"\d+ min · \d+\.\d MB", item.inner_text())
    page.screenshot(path=str(shots / "pwa-kept-list-phone.png"), full_page=True)
    page.get_by_role("button", name=re.compile("^Remove")).click()
    _wait(lambda: item.count() == 0, 10, "removed")
    assert page.locator("#kept-empty").is_visible()
    ctx.set_offline(False)
    assert errors == []
    ctx.close()


def test_a_check_in_made_offline_is_sent_exactly_once(browser: Any, server: RunningServer) -> None:
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors = _errors(page)
    _listener(ctx, server.url)
    before = len(ctx.request.get(server.url + "/api/history").json()["sessions"])
    page.goto(server.url + "/checkin")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    ctx.set_offline(True)
    page.locator("#f-tension").fill("8")
    page.locator("input[name=goal][value=sleep]").check()
    page.get_by_role("button", name=re.compile("Make my session|Check in|Start", re.I)).click()
    notice = page.locator("#offline-notices .notice")
    _wait(lambda: notice.count() >= 1, 10, "queued notice")
    assert "saved on this device" in notice.first.inner_text()
    assert page.evaluate("window.sonoraOutbox.count()") == 1
    assert page.url.endswith("/checkin")  # nothing was lost to a failed navigation

    ctx.set_offline(False)  # the 'online' event sends it
    _wait(lambda: page.evaluate("window.sonoraOutbox.count()") == 0, 30, "sent")
    _wait(lambda: "was sent" in notice.last.inner_text(), 10, "sent notice")
    page.evaluate("window.sonoraOutbox.flush()")  # flushing again sends nothing
    page.reload()
    page.wait_for_load_state("networkidle")
    sessions = ctx.request.get(server.url + "/api/history").json()["sessions"]
    assert len(sessions) == before + 1
    new = ctx.request.get(f"{server.url}/api/checkins/" + _newest_checkin(ctx, server.url))
    assert new.json()["answers"]["tension"] == 8.0
    assert errors == []
    ctx.close()


def _newest_checkin(ctx: Any, url: str) -> str:
    export = ctx.request.get(url + "/api/export").json()
    return export["checkins"][-1]["id"]


AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""
OVERFLOW = """() => ({doc: document.documentElement.scrollWidth, win: window.innerWidth,
  wide: Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect();
    // (clipped, visually hidden text such as a table's headings on a phone is not seen)
    return r.right > window.innerWidth + 1 && !e.closest('.table-wrap')
      && !e.closest('.visually-hidden, table.cards thead');
  }).slice(0, 3).map(e => e.tagName + '.' + e.className)})"""
CHART_FITS = """() => Array.from(document.querySelectorAll('svg.chart')).flatMap(svg => {
  const vb = svg.viewBox.baseVal;
  return Array.from(svg.querySelectorAll('text')).filter(t => {
    const b = t.getBBox();
    return b.x < vb.x - 0.5 || b.x + b.width > vb.x + vb.width + 0.5;
  }).map(t => t.textContent);
})"""


def _pages(ctx: Any, url: str) -> list[tuple[str, str]]:
    """A listener with history (checked out, a mix shared) and every page to visit."""
    made = _listener(ctx, url, goal="ease_anxiety")
    plan_id = made["plan"]["id"]
    r = ctx.request.post(f"{url}/api/plans/{plan_id}/outcome", data={"tension": 3, "rating": 8})
    assert r.status == 201
    second = ctx.request.post(url + "/api/checkins", data={**CHECKIN, "goal": "sleep"}).json()
    ctx.request.post(
        f"{url}/api/plans/{second['plan']['id']}/outcome", data={"tension": 2, "mood": 7}
    )
    mix = ctx.request.post(
        url + "/api/mixes", data={"plan_id": plan_id, "name": "Rain for a busy head"}
    ).json()
    shared = ctx.request.patch(f"{url}/api/mixes/{mix['id']}", data={"shared": True}).json()
    tid = json.loads(ctx.request.get(url + "/api/therapists").text())["therapists"][0]["id"]
    return [
        ("welcome", "/"),
        ("onboarding", "/onboarding"),
        ("checkin", "/checkin"),
        ("plan", f"/plan/{plan_id}"),
        ("player", f"/play/{plan_id}"),
        ("after", f"/after/{plan_id}"),
        ("history", "/history"),
        ("mixes", "/mixes"),
        ("shared-mix", shared["share_url"]),
        ("kept", "/kept"),
        ("account", "/account"),
        ("listening", "/listening"),
        ("guide", "/guide"),
        ("guide-which", "/guide/which"),
        ("evidence", "/evidence"),
        ("about", "/about"),
        ("therapists", "/therapists"),
        ("therapist", f"/therapists/{tid}"),
        ("therapists-join", "/therapists/join"),
        ("signup", "/signup"),
        ("login", "/login"),
    ]


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_page_passes_axe_and_fits_the_screen(
    browser: Any, server: RunningServer, shots: Path, device: str
) -> None:
    # bypass_csp only so the test can inject axe-core; the pages are unchanged
    ctx = browser.new_context(**(PHONE if device == "phone" else DESKTOP), bypass_csp=True)
    page = ctx.new_page()
    errors = _errors(page)
    failures: dict[str, Any] = {}
    for name, path in _pages(ctx, server.url):
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        bad = page.evaluate(AXE_RUN)
        if bad:
            failures[f"{name} axe"] = bad
        over = page.evaluate(OVERFLOW)
        if over["doc"] > over["win"] or over["wide"]:
            failures[f"{name} overflow"] = over
        cut = page.evaluate(CHART_FITS)
        if cut:
            failures[f"{name} chart labels cut"] = cut
        page.screenshot(path=str(shots / f"pwa-{name}-{device}.png"), full_page=True)
    assert failures == {}, json.dumps(failures, indent=1)
    assert errors == []
    ctx.close()


def test_seek_bar_and_endless_mode(browser: Any, server: RunningServer) -> None:
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors = _errors(page)
    made = _listener(ctx, server.url)
    page.goto(f"{server.url}/play/{made['plan']['id']}")
    page.get_by_role("button", name="Play").click()
    audio = "document.getElementById('audio')"
    _wait(lambda: page.evaluate(f"{audio}.currentTime") > 0.5, 60, "play")
    # the seek bar (a labelled slider) moves the session to 2:00
    seek = page.get_by_label("Position")
    seek.evaluate("(el) => { el.value = '120'; el.dispatchEvent(new Event('change')); }")
    _wait(lambda: page.evaluate("window.sonoraPlayer.position()") > 120.5, 60, "moved")
    assert "offset_s=120.000" in page.evaluate(f"{audio}.src")
    assert page.locator("#elapsed").inner_text().startswith("2:0")
    # endless: the stream continues past the plan's end with its final state
    page.get_by_role("checkbox", name=re.compile("Endless")).check()
    _wait(lambda: "endless=1" in page.evaluate(f"{audio}.src"), 10, "endless stream")
    assert page.locator("#total").inner_text() == "endless"
    _wait(lambda: page.evaluate("window.sonoraPlayer.position()") > 121.0, 60, "still playing")
    assert page.evaluate(f"{audio}.error") is None
    assert errors == []
    ctx.close()


def test_alarm_fades_in_at_its_time(browser: Any, server: RunningServer) -> None:
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors = _errors(page)
    made = _listener(ctx, server.url)
    page.goto(f"{server.url}/play/{made['plan']['id']}")
    page.get_by_text("Wake-up alarm").click()
    assert "cannot wake a locked phone" in page.inner_text("#alarm-form")
    # the next whole minute in the browser's own clock
    at = page.evaluate(
        "(() => { const d = new Date(Date.now() + 60000); return String(d.getHours())"
        ".padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0'); })()"
    )
    page.get_by_label("Wake me at").fill(at)
    page.get_by_label("Rising over").select_option("1")
    page.get_by_role("button", name="Set alarm").click()
    assert f"Alarm set for {at}" in page.inner_text("#alarm-status")
    _wait(lambda: "Good morning" in page.inner_text("#alarm-status"), 75, "the alarm")
    gains = []
    for _ in range(3):  # rising through the gain node, from silence
        gains.append(page.evaluate("window.sonoraPlayer.gain()"))
        time.sleep(2.0)
    assert 0 <= gains[0] < gains[1] < gains[2] < 1, gains
    _wait(lambda: page.evaluate("window.sonoraPlayer.rms()") > 1e-4, 30, "sound rising")
    assert errors == []
    ctx.close()
