"""Playlists of the listener's music against the real app and generated tracks: made
from a check-in (API and form), saved, explained and charted as estimates, dislikes
respected, exported as M3U8 and XSPF read back with a line parser and xml.etree,
checked out like a sound session (the matcher taught only when a sound played), learnt
from, shown in the history, owner-only, exported and deleted with the account."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET

import pytest
import trackgen as tg
from fastapi.testclient import TestClient
from webkit import csrf_of, make_listener, web_settings

from sonora.library.repo import TrackUpdate
from sonora.library.scan import analyse_for_library
from sonora.web import Core, create_app

SLEEP = {"tension": 8, "energy": 7, "mood": 4, "goal": "sleep", "minutes": 30}
XSPF = "{http://xspf.org/ns/0/}"


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten short tracks: a slowing, quietening ladder, one by a disliked artist."""
    root = tmp_path_factory.mktemp("roots") / "Music"
    fmts = ("wav", "flac", "mp3", "ogg")
    for i, bpm in enumerate((100, 94, 88, 82, 76, 70, 64, 58)):
        spec = tg.TrackSpec(
            bpm=bpm, loudness_lufs=-14.0 - 2.0 * i, duration_s=8.0, seed=100 + i,
            fmt=fmts[i % 4], title=f"Step {i}", artist="Calm Band", genre="Ambient",
        )  # fmt: skip
        tg.write_track(spec, root)
    loud = tg.TrackSpec(
        bpm=85, loudness_lufs=-19.0, duration_s=8.0, seed=200, fmt="flac", title="Loud one",
        artist="Loud Co", genre="Metal",
    )  # fmt: skip
    tg.write_track(loud, root / "Other")
    return root


#: What :func:`~sonora.library.scan.analyse_for_library` found in each generated track,
#: by the SHA-256 of its bytes (this process's tests scan the same files again and again).
_ANALYSED: dict[str, TrackUpdate] = {}


def _analyse_once(path: Path) -> TrackUpdate:
    """The app's analyser, each file's content decoded and analysed for real only once.

    Every test still scans through the API (folders, walk, jobs, rows); only the decode
    and analysis of bytes already analysed are reused (the analysis of each format has
    its own tests: ``tests/library/test_library_analysis.py``).
    """
    key = hashlib.sha256(path.read_bytes()).hexdigest()
    if key not in _ANALYSED:
        _ANALYSED[key] = analyse_for_library(path)
    found, st = _ANALYSED[key], path.stat()
    return dataclasses.replace(copy.deepcopy(found), size_bytes=st.st_size, mtime_ns=st.st_mtime_ns)


@pytest.fixture
def app(tmp_path: Path, music: Path) -> Iterator[Any]:
    core = Core(web_settings(tmp_path, library_roots=str(music.parent)))
    core.library.analyser = _analyse_once  # before the app's start-up starts the scan worker
    yield create_app(core)
    core.close()


@pytest.fixture
def alice(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:  # the app's start-up starts the scan worker
        make_listener(c)
        yield c


@pytest.fixture
def bob(app: Any, alice: TestClient) -> TestClient:
    c = TestClient(app)
    make_listener(c)
    return c


def _scanned(c: TestClient, app: Any, music: Path) -> list[dict[str, Any]]:
    assert c.post("/api/library/folders", json={"path": str(music)}).status_code == 201
    assert c.post("/api/library/scans", json={}).status_code == 202
    app.state.core.library.wait_idle(120)
    tracks = c.get("/api/library").json()["tracks"]
    assert len(tracks) == 9 and all(t["error"] is None for t in tracks)
    return tracks


def _playlist(c: TestClient, **over: Any) -> dict[str, Any]:
    r = c.post("/api/library/playlists", json={**SLEEP, **over})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_sleep_playlist_from_a_check_in(app: Any, alice: TestClient, music: Path) -> None:
    tracks = {t["id"]: t for t in _scanned(alice, app, music)}
    p = _playlist(alice)
    got = p["tracks"]
    assert len(got) >= 5 and len({t["id"] for t in got}) == len(got)
    for a, b in pairwise(got):  # never a step over the limits
        assert abs(a["tempo_bpm_estimate"] - b["tempo_bpm_estimate"]) <= p["limits"]["tempo_bpm"]
        assert abs(a["energy_estimate"] - b["energy_estimate"]) <= p["limits"]["energy"]
        assert abs(a["loudness_lufs"] - b["loudness_lufs"]) <= p["limits"]["loudness_lu"]
    assert got[0]["tempo_bpm_estimate"] > 90 and got[-1]["tempo_bpm_estimate"] < 70
    assert p["shape"] == "slowing" and not p["learned_target"]
    assert "estimates" in p["explanation"] and "estimates" in p["estimates"]
    for t in got:  # the figures are the track's analysis
        assert t["tempo_bpm_estimate"] == tracks[t["id"]]["tempo_bpm_estimate"]
        assert (tracks[t["id"]]["voice_estimate"] or 0) < 0.5  # no voices for sleep
    svg = ET.fromstring(p["chart_svg"])
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2
    assert "estimates" in svg.get("aria-label", "")
    # the check-in and its plan are an ordinary session: the history shows it
    assert alice.get(f"/api/plans/{p['plan_id']}").status_code == 200
    assert alice.get(f"/api/library/playlists/{p['id']}").json()["tracks"] == got
    hist = alice.get("/api/history").json()["sessions"]
    assert [s["playlist_id"] for s in hist] == [p["id"]]
    assert hist[0]["title"].startswith("Your music:") and hist[0]["families"] == []
    page = alice.get(f"/library/playlists/{p['id']}").text
    assert p["explanation"].split(".")[0] in page.replace("&#39;", "'")
    assert "Sonora&#39;s estimates" in page or "Sonora's estimates" in page
    assert page.count('class="music-track"') == len(got)
    for t in got:
        assert f'data-src="/api/library/tracks/{t["id"]}/audio"' in page
    assert "/static/music.js" in page and 'id="music-timer"' in page


def test_dislikes_are_left_out(app: Any, alice: TestClient, music: Path) -> None:
    tracks = _scanned(alice, app, music)
    loud = next(t["id"] for t in tracks if t["artist"] == "Loud Co")
    focus = {**SLEEP, "goal": "focus", "tension": 5, "energy": 5}
    assert loud in {t["id"] for t in _playlist(alice, **focus)["tracks"]}  # it fits a step
    r = alice.put("/api/library/prefs", json={"disliked_artists": ["loud co"]})
    assert r.status_code == 200 and r.json()["disliked_artists"] == ["loud co"]
    assert loud not in {t["id"] for t in _playlist(alice, **focus)["tracks"]}
    alice.put("/api/library/prefs", json={"disliked_genres": ["METAL"]})
    assert loud not in {t["id"] for t in _playlist(alice, **focus)["tracks"]}
    bad = alice.put("/api/library/prefs", json={"disliked_artists": ["x" * 121]})
    assert bad.status_code == 422 and bad.json()["field"] == "disliked_artists"
    # the page's form: one a line or separated by commas
    form = {"csrf_token": csrf_of(alice, "/library"), "disliked_artists": "A, B\nC"}
    assert alice.post("/library/prefs", data=form, follow_redirects=False).status_code == 303
    assert alice.get("/api/library/prefs").json()["disliked_artists"] == ["A", "B", "C"]


def test_exports_list_the_files_with_relative_paths(
    app: Any, alice: TestClient, music: Path
) -> None:
    _scanned(alice, app, music)
    p = _playlist(alice, goal="focus", tension=5, energy=5)
    names = {t["id"]: t["name"] for t in p["tracks"]}
    r = alice.get(p["exports"]["m3u8"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("audio/x-mpegurl")
    assert re.search(
        r'attachment; filename="sonora-focus-[0-9-]+\.m3u8"', r.headers["content-disposition"]
    )
    lines = r.text.splitlines()
    assert lines[0] == "#EXTM3U"
    paths = [ln for ln in lines if ln and not ln.startswith("#")]
    infos = [ln for ln in lines if ln.startswith("#EXTINF:")]
    assert len(paths) == len(infos) == len(p["tracks"])
    base = music  # the folder holding every file of the playlist
    for path, info, t in zip(paths, infos, p["tracks"], strict=True):
        assert not os.path.isabs(path) and (base / path).is_file()
        assert info.endswith(names[t["id"]]) or names[t["id"]] in info
    x = alice.get(p["exports"]["xspf"])
    assert x.status_code == 200 and "xspf" in x.headers["content-type"]
    root = ET.fromstring(x.content)
    assert root.tag == f"{XSPF}playlist" and root.get("version") == "1"
    items = root.findall(f"{XSPF}trackList/{XSPF}track")
    assert len(items) == len(p["tracks"])
    for el, t, path in zip(items, p["tracks"], paths, strict=True):
        loc = unquote(el.findtext(f"{XSPF}location") or "")
        assert loc == path and (base / loc).is_file()
        meta = {m.get("rel"): m.text for m in el.findall(f"{XSPF}meta")}
        tempo = next(v for k, v in meta.items() if k and "tempo" in k)
        energy = next(v for k, v in meta.items() if k and "energy" in k)
        assert float(tempo) == pytest.approx(t["tempo_bpm_estimate"], abs=0.05)
        assert float(energy) == pytest.approx(t["energy_estimate"], abs=0.0005)
    assert alice.get(f"/api/library/playlists/{p['id']}/export?format=pls").status_code == 422


def test_check_outs_teach_the_next_arcs_and_the_history(
    app: Any, alice: TestClient, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core: Core = app.state.core
    _scanned(alice, app, music)
    taught: list[str] = []
    real = core.planner.record
    monkeypatch.setattr(
        core.planner, "record", lambda uid, plan, co: taught.append(uid) or real(uid, plan, co)
    )
    first = _playlist(alice)
    r = alice.post(f"/api/plans/{first['plan_id']}/outcome", json={"tension": 3, "rating": 8})
    assert r.status_code == 201, r.text
    assert taught == []  # no Sonora sound played: the matcher learns nothing from it
    stored = alice.get(f"/api/library/playlists/{first['id']}").json()["outcome"]
    assert stored["tension"] == 3 and stored["reward"] > 0
    assert alice.get("/api/history").json()["what_helps_music"] == {}  # one is not enough
    second = _playlist(alice, sound_layer=True)
    assert second["sound_layer"] is True
    alice.post(f"/api/plans/{second['plan_id']}/outcome", json={"tension": 2, "rating": 9})
    assert len(taught) == 1  # its sound played under the music: the matcher learns
    helps = alice.get("/api/history").json()["what_helps_music"]
    assert set(helps) == {"sleep"} and helps["sleep"]["sessions"] == 2
    assert helps["sleep"]["best_shape"] == "slowing" and "estimates" in helps["sleep"]["text"]
    third = _playlist(alice)
    assert third["learned_target"] is True and "earlier playlists" in third["explanation"]
    page = alice.get("/history").text
    assert 'id="music-helps"' in page and f"/library/playlists/{third['id']}" in page
    # an edited check-out reaches the playlist too
    alice.patch(f"/api/plans/{first['plan_id']}/outcome", json={"tension": 9, "rating": 0})
    edited = alice.get(f"/api/library/playlists/{first['id']}").json()["outcome"]
    assert edited["tension"] == 9 and edited["reward"] < stored["reward"]


def test_the_check_in_form_offers_my_music(app: Any, alice: TestClient, music: Path) -> None:
    assert "My music" not in alice.get("/checkin").text  # nothing scanned yet
    _scanned(alice, app, music)
    page = alice.get("/checkin?source=music").text
    assert 'value="music" checked' in page
    form = {
        "csrf_token": csrf_of(alice, "/checkin"), "tension": "7", "energy": "6", "mood": "5",
        "goal": "sleep", "minutes": "30", "source": "music", "sound_layer": "on",
        "request_key": "form-abcdefgh12345678",
    }  # fmt: skip
    r = alice.post("/checkin", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/library/playlists/")
    pid = r.headers["location"].rsplit("/", 1)[1]
    p = alice.get(f"/api/library/playlists/{pid}").json()
    assert p["sound_layer"] is True
    page = alice.get(r.headers["location"]).text
    assert f"/api/plans/{p['plan_id']}/stream" in page and f"/after/{p['plan_id']}" in page
    again = alice.post("/checkin", data=form, follow_redirects=False)  # a double click
    assert again.headers["location"] == r.headers["location"]
    assert len(alice.get("/api/library/playlists").json()["playlists"]) == 1


def test_nothing_is_stored_when_no_track_fits(tmp_path: Path, music: Path) -> None:
    core = Core(web_settings(tmp_path))  # the library is off
    c = TestClient(create_app(core))
    make_listener(c)
    r = c.post("/api/library/playlists", json=SLEEP)
    assert r.status_code == 422 and r.json()["field"] == "source"
    core.close()
    core = Core(web_settings(tmp_path / "on", library_roots=str(music.parent)))
    c = TestClient(create_app(core))
    make_listener(c)  # on, but no folder scanned
    r = c.post("/api/library/playlists", json=SLEEP)
    assert r.status_code == 422 and r.json()["field"] == "source"
    assert c.get("/api/history").json()["sessions"] == []  # no check-in half-made
    r = c.post("/api/library/playlists", json={**SLEEP, "tension": 11})
    assert r.status_code == 422 and r.json()["field"] == "tension"
    core.close()


def test_only_the_owner_sees_a_playlist(
    app: Any, alice: TestClient, bob: TestClient, music: Path
) -> None:
    _scanned(alice, app, music)
    p = _playlist(alice)
    for url in (
        f"/api/library/playlists/{p['id']}",
        f"/api/library/playlists/{p['id']}/export?format=m3u8",
        f"/api/library/playlists/{p['id']}/export?format=xspf",
    ):
        assert alice.get(url).status_code == 200
        assert bob.get(url).status_code == 404
    assert bob.get(f"/library/playlists/{p['id']}").status_code == 404
    assert bob.get("/api/library/playlists").json()["playlists"] == []
    assert p["id"] not in bob.get("/library").text


def test_account_export_and_delete_include_playlists(
    app: Any, alice: TestClient, music: Path
) -> None:
    _scanned(alice, app, music)
    p = _playlist(alice)
    exported = alice.get("/api/export").json()
    ids = [x["id"] for x in exported["library"]["playlists"]]
    assert ids == [p["id"]]
    assert exported["library"]["playlists"][0]["plan"]["tracks"][0]["id"] == p["tracks"][0]["id"]
    before = {f: f.stat().st_mtime_ns for f in music.rglob("*") if f.is_file()}
    assert alice.delete("/api/account").status_code in (200, 204)
    core: Core = app.state.core
    from sqlalchemy import func, select

    from sonora.library.models import PlaylistRow

    with core.store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(PlaylistRow)) == 0
    assert {f: f.stat().st_mtime_ns for f in music.rglob("*") if f.is_file()} == before


def test_exports_leave_out_files_gone_since_the_scan(tmp_path: Path, music: Path) -> None:
    root = tmp_path / "roots" / "Music"
    root.mkdir(parents=True)
    for f in sorted(music.glob("*.*"))[:5]:
        (root / f.name).write_bytes(f.read_bytes())
    core = Core(web_settings(tmp_path, library_roots=str(root.parent)))
    core.library.analyser = _analyse_once
    app = create_app(core)
    with TestClient(app) as c:
        make_listener(c)
        assert c.post("/api/library/folders", json={"path": str(root)}).status_code == 201
        c.post("/api/library/scans", json={})
        core.library.wait_idle(120)
        p = _playlist(c, goal="focus", tension=5, energy=5)
        assert len(p["tracks"]) >= 2
        lines = c.get(p["exports"]["m3u8"]).text.splitlines()
        listed = [ln for ln in lines if ln and not ln.startswith("#")]
        assert len(listed) == len(p["tracks"])
        victim = listed[0]
        (root / victim).unlink()
        after = [
            ln
            for ln in c.get(p["exports"]["m3u8"]).text.splitlines()
            if ln and not ln.startswith("#")
        ]
        assert after == listed[1:] and all((root / ln).is_file() for ln in after)
    core.close()
