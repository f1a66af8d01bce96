"""The library page and API against the real app: off without roots, folders inside
the roots only, a background scan whose progress the page shows, tracks with their
estimates labelled, and one listener never seeing another's music."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trackgen as tg
from fastapi.testclient import TestClient
from webkit import csrf_of, make_listener, web_settings

from sonora.web import Core, create_app


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("roots") / "Music"
    for i, fmt in enumerate(("wav", "m4a")):
        tg.write_track(tg.TrackSpec(bpm=60 + 24 * i, fmt=fmt, duration_s=8.0, seed=i), root)
    return root


@pytest.fixture
def app(tmp_path, music) -> Iterator[Any]:
    core = Core(web_settings(tmp_path, library_roots=str(music.parent)))
    yield create_app(core)
    core.close()


@pytest.fixture
def alice(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:  # runs the app's start-up: the scan worker starts
        make_listener(c)
        yield c


@pytest.fixture
def bob(app: Any, alice: TestClient) -> TestClient:
    c = TestClient(app)
    make_listener(c)
    return c


def test_off_without_roots_says_so(tmp_path) -> None:
    core = Core(web_settings(tmp_path))
    anon = TestClient(create_app(core))
    make_listener(anon)
    page = anon.get("/library")
    assert page.status_code == 200 and "SONORA_LIBRARY_ROOTS" in page.text
    assert anon.get("/api/library").json()["enabled"] is False
    r = anon.post("/api/library/folders", json={"path": "/tmp"})
    assert r.status_code == 422 and r.json()["field"] == "path"
    core.close()


def test_add_scan_and_see_tracks(app: Any, alice: TestClient, bob: TestClient, music) -> None:
    core: Core = app.state.core
    r = alice.post("/api/library/folders", json={"path": "/etc"})
    assert r.status_code == 422 and r.json()["field"] == "path"
    r = alice.post("/api/library/folders", json={"path": str(music)})
    assert r.status_code == 201, r.text
    page = alice.post("/library/folders", data={"csrf_token": csrf_of(alice), "path": "/etc"})
    assert page.status_code == 422 and "must be inside an allowed folder" in page.text
    r = alice.post("/api/library/scans", json={})
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "done")
    page = alice.get("/library")
    if alice.get("/api/library/scan").json()["scan"]["active"]:
        assert 'http-equiv="refresh"' in page.text and "<progress" in page.text
    core.library.wait_idle(120)
    scan = alice.get("/api/library/scan").json()["scan"]
    assert (scan["state"], scan["files_seen"], scan["analysed"], scan["progress"]) == (
        "done",
        2,
        2,
        1.0,
    )
    data = alice.get("/api/library").json()
    assert sorted(round(t["tempo_bpm_estimate"]) for t in data["tracks"]) == [60, 84]
    assert "estimates" in data["estimates"]
    page = alice.get("/library").text
    assert "Tempo (estimate)" in page and "about 60 BPM" in page and "Last scan: 2 files" in page
    assert 'http-equiv="refresh"' not in page
    theirs = bob.get("/api/library").json()
    assert theirs["folders"] == [] and theirs["tracks"] == [] and theirs["scan"] is None
    assert "about 60 BPM" not in bob.get("/library").text
    assert bob.post("/api/library/scans", json={}).status_code == 422  # no folder yet


def test_scans_are_limited_per_account(tmp_path, music) -> None:
    core = Core(
        web_settings(tmp_path, library_roots=str(music.parent), limit_scans_per_account="1/1h")
    )
    c = TestClient(create_app(core))
    make_listener(c)
    assert c.post("/api/library/folders", json={"path": str(music)}).status_code == 201
    assert c.post("/api/library/scans", json={}).status_code == 202
    r = c.post("/api/library/scans", json={})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    core.close()


def test_playback_with_ranges_only_for_the_owner(
    app: Any, alice: TestClient, bob: TestClient, music
) -> None:
    core: Core = app.state.core
    assert alice.post("/api/library/folders", json={"path": str(music)}).status_code == 201
    alice.post("/api/library/scans", json={})
    core.library.wait_idle(120)
    track = next(t for t in alice.get("/api/library").json()["tracks"])
    url = f"/api/library/tracks/{track['id']}/audio"
    full = alice.get(url)
    assert full.status_code == 200 and full.headers["content-type"].startswith("audio/")
    assert full.headers.get("accept-ranges") == "bytes"
    part = alice.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    assert bob.get(url).status_code == 404
    assert alice.get("/api/library/tracks/" + "f" * 32 + "/audio").status_code == 404
