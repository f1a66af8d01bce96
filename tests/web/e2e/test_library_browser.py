"""The music library story in Chromium against a real server and generated tracks.

A listener adds a folder of generated music (tests/library/trackgen.py: known tempo and
loudness, four formats), starts a scan and sees its progress, checks in for sleep with
"My music", gets an arc whose tempo and energy never step by more than the limits, plays
it (the audio is fetched with range requests, 206, and the player moves on to the next
track), checks out and finds the session in the history.

The scan's analysis is real; the test server's analyser waits 1 s per file before
analysing, so a page load reliably falls inside the scan and its progress can be seen.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from e2ekit import e2e_server, unlabelled, watch

from sonora.web.testing import RunningServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "library"))
import trackgen as tg  # tests/library is not a package

pytestmark = pytest.mark.browser

PASSWORD = "long enough pw"
N_TRACKS = 8


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e-music")
    folder = root / "Evening"
    fmts = ("wav", "flac", "mp3", "ogg")  # what Chromium plays without extra codecs
    # a dense ladder (4 BPM apart): one misestimated tempo does not break the arc
    for i in range(N_TRACKS):
        spec = tg.TrackSpec(
            bpm=96 - 4 * i, loudness_lufs=-16.0 - 1.0 * i, duration_s=12.0, seed=300 + i,
            fmt=fmts[i % 4], title=f"Evening {i}", artist="Calm Band",
        )  # fmt: skip
        tg.write_track(spec, folder)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, music: Path) -> Iterator[RunningServer]:
    with e2e_server(
        tmp_path_factory,
        "library-e2e",
        triage_notes=False,
        calibrate_ahead=False,
        library_roots=str(music),
    ) as s:
        lib = s.core.library
        real = lib.analyser

        def paced(path: Path) -> Any:
            time.sleep(1.0)  # so the page can see the scan under way
            return real(path)

        lib.analyser = paced
        user, token = s.core.sign_up(None, "mo@example.org", PASSWORD)
        s.core.save_profile(user, {"default_goal": "sleep", "loved": ["rain"]})
        s.token = token  # type: ignore[attr-defined]
        yield s


def _scan_texts(page: Any, until: str, shots: Path, timeout_s: float = 120.0) -> list[str]:
    """The scan box's text at each look (every 0.3 s) until it contains ``until``."""
    seen: list[str] = []
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            text = page.locator("#library-scan").inner_text(timeout=5_000)
        except Exception:  # the page is reloading itself: look again
            continue
        if not seen or seen[-1] != text:
            seen.append(text)
            if text.startswith("Scanning:"):
                page.screenshot(path=str(shots / "library-01-scanning.png"), full_page=True)
        if until in text:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"the scan did not finish: {seen}")


def test_add_scan_check_in_play_check_out(
    browser: Any, server: RunningServer, music: Path, shots: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 420, "height": 860}, color_scheme="light")
    ctx.add_cookies([{"name": "sonora_session", "value": server.token, "url": server.url}])  # type: ignore[attr-defined]
    page = ctx.new_page()
    errors, external = watch(page, server)
    ranged: list[int] = []
    page.on(
        "response",
        lambda r: ranged.append(r.status) if "/api/library/tracks/" in r.url else None,
    )

    # add the folder and scan it: the page shows the progress, then the tracks
    page.goto(server.url + "/library")
    page.locator("#library-path").fill(str(music / "Evening"))
    page.get_by_role("button", name="Add folder").click()
    page.wait_for_url("**/library?msg=*")
    page.get_by_role("button", name="Scan for new and changed music").click()
    seen = _scan_texts(page, f"Last scan: {N_TRACKS} files", shots)
    under_way = [t for t in seen if re.search(rf"Scanning: \d of {N_TRACKS} new or changed", t)]
    assert under_way, seen  # the progress was shown while the scan ran
    assert len(set(seen)) >= 2  # and it moved (the page refreshes itself every 2 s)
    assert page.locator("#library-tracks tbody tr").count() == N_TRACKS
    assert "Tempo (estimate)" in page.locator("#library-tracks").inner_text()

    # check in for sleep with "My music"
    page.goto(server.url + "/checkin")
    page.locator("#f-tension").fill("8")
    page.locator("#f-energy").fill("7")
    page.locator("input[name=goal][value=sleep]").check()
    page.locator("input[name=source][value=music]").check()
    assert unlabelled(page) == []
    page.get_by_role("button", name="Make my session").click()
    page.wait_for_url(re.compile(r".*/library/playlists/[0-9a-f]{32}$"))
    playlist_id = page.url.rsplit("/", 1)[-1]
    assert "estimates" in page.locator("#arc-words").inner_text()
    assert page.locator("#arc-chart svg polyline").count() == 2
    assert unlabelled(page) == []
    page.screenshot(path=str(shots / "library-02-playlist.png"), full_page=True)

    # the arc never steps over the limits (exact figures from the API)
    p = page.request.get(f"{server.url}/api/library/playlists/{playlist_id}").json()
    tracks, lim = p["tracks"], p["limits"]
    assert len(tracks) >= 3
    for a, b in pairwise(tracks):
        assert abs(a["tempo_bpm_estimate"] - b["tempo_bpm_estimate"]) <= lim["tempo_bpm"]
        assert abs(a["energy_estimate"] - b["energy_estimate"]) <= lim["energy"]
    assert tracks[-1]["tempo_bpm_estimate"] < tracks[0]["tempo_bpm_estimate"]
    assert page.locator("#playlist-tracks tbody tr").count() == len(tracks)

    # play: range requests, and the player moves on to the next track
    page.locator("#music-xfade").select_option("3")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => window.sonoraMusic && window.sonoraMusic.position() > 1", timeout=60_000
    )
    page.wait_for_function(
        "() => window.sonoraMusic.index() >= 1 && window.sonoraMusic.position() > 0.5",
        timeout=60_000,
    )
    state = page.evaluate(
        "() => { const a = document.querySelectorAll('audio.music-track');"
        " return {index: window.sonoraMusic.index(), playing: window.sonoraMusic.playing(),"
        " errors: Array.from(a).filter(x => x.error).length,"
        " now: window.sonoraMusic.position(),"
        " name: document.getElementById('music-name').innerText}; }"
    )
    assert state["index"] >= 1 and state["playing"] and state["errors"] == 0, state
    assert state["now"] > 0.5 and state["name"] == tracks[state["index"]]["name"], state
    assert 206 in ranged, ranged  # the tracks come with HTTP range requests
    page.get_by_role("button", name="Pause").click()

    # check out, as after a sound session
    page.get_by_role("link", name="Finish and check out").click()
    page.wait_for_url(f"**/after/{p['plan_id']}")
    page.locator("#f-tension").fill("3")
    page.locator("#f-rating").fill("8")
    page.locator("input[name=ending][value=asleep]").check()
    page.get_by_role("button", name="Save").click()

    # the history has it, with a way back to the playlist
    page.wait_for_url("**/history**")
    row = page.locator(f"#session-{p['plan_id']}")
    assert "Your music" in row.inner_text() and "fell asleep" in row.inner_text()
    assert row.locator(f"a[href='/library/playlists/{playlist_id}']").count() == 1
    page.screenshot(path=str(shots / "library-03-history.png"), full_page=True)
    outcome = page.request.get(f"{server.url}/api/library/playlists/{playlist_id}").json()
    assert outcome["outcome"]["tension"] == 3 and outcome["outcome"]["fell_asleep"] is True
    assert errors == [] and external == []
    ctx.close()


def test_the_sound_layer_carries_on_as_the_sleep_bed(
    browser: Any, server: RunningServer, music: Path
) -> None:
    core = server.core
    user, token = core.sign_up(None, "kit@example.org", PASSWORD)
    core.save_profile(user, {"default_goal": "sleep", "loved": ["rain"]})
    core.library.add_folder(user.id, str(music / "Evening"))
    core.library.start_scan(user.id)
    core.library.wait_idle(180)
    ctx = browser.new_context(viewport={"width": 1000, "height": 800})
    ctx.add_cookies([{"name": "sonora_session", "value": token, "url": server.url}])
    page = ctx.new_page()
    errors, external = watch(page, server)
    page.goto(server.url + "/checkin?source=music")
    page.locator("#f-tension").fill("8")
    page.locator("#f-energy").fill("7")
    page.locator("input[name=goal][value=sleep]").check()
    page.locator("input[name=sound_layer]").check()
    page.get_by_role("button", name="Make my session").click()
    page.wait_for_url(re.compile(r".*/library/playlists/[0-9a-f]{32}$"))
    assert page.locator("#music-layer").count() == 1
    page.locator("#music-xfade").select_option("3")
    page.get_by_role("button", name="Play").click()
    # the layer streams under the music from the start
    page.wait_for_function(
        "() => { const l = document.getElementById('music-layer');"
        " return l.error !== null || (l.currentTime > 1 && window.sonoraMusic.position() > 1); }",
        timeout=90_000,
    )
    assert page.evaluate("() => document.getElementById('music-layer').error") is None
    under = page.evaluate("() => window.sonoraMusic.layerGain()")
    assert under == pytest.approx(0.3, abs=0.01)
    # after the last track the music is done and the sound rises to become the bed
    page.wait_for_function("() => window.sonoraMusic.done()", timeout=180_000)
    page.wait_for_function("() => window.sonoraMusic.layerGain() > 0.6", timeout=30_000)
    state = page.evaluate(
        "() => { const l = document.getElementById('music-layer');"
        " return {paused: l.paused, playing: window.sonoraMusic.playing(),"
        " status: document.getElementById('music-status').innerText}; }"
    )
    assert not state["paused"] and state["playing"], state
    assert "sleep bed" in state["status"], state
    assert errors == [] and external == []
    ctx.close()
