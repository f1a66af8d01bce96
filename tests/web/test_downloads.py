"""Downloads as jobs (sonora/core/downloads.py, sonora/web/downloads_api.py): one render
per plan+gains+format, a job safe to run twice, owner-only status and file (Range),
expiry and account deletion removing files, export listing one's own downloads, limits,
clear 422s, and the old download URL still answering.

Without a broker (as here) the job runs in the app's own download thread.  The job on a
real broker is in tests/jobs/test_jobs.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import update
from webkit import make_listener, web_settings

from sonora.core.app import Core
from sonora.core.download_models import DownloadRow
from sonora.core.downloads import DownloadLimitReached
from sonora.errors import ParameterError
from sonora.store.base import utcnow
from sonora.web.app import create_app

#: Short plans keep the renders cheap: the real plan of a check-in, cut to this length.
SHORT_S = 12.0


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.T, rate


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-20))


def _wait_done(core: Core, user_id: str, download_id: str, timeout_s: float = 300) -> Any:
    deadline = time.monotonic() + timeout_s
    while (rec := core.downloads.get(user_id, download_id)).status != "done":
        assert rec.status != "failed", rec.error
        assert time.monotonic() < deadline, f"download still {rec.status} {rec.progress}"
        time.sleep(0.2)
    return rec


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(web_settings(tmp_path, media_dir=tmp_path / "shared-media"))
    yield c
    c.close()


def _short_plan(core: Core, seconds: float = SHORT_S, **checkin: Any) -> tuple[Any, Any]:
    user, _ = core.start_guest()
    answers = {"tension": 6, "goal": "unwind", "minutes": 5, **checkin}
    _, plan, _ = core.check_in(user, answers)
    rec = core.store.get_plan(user.id, plan.id)
    return user, dataclasses.replace(rec, plan={**rec.plan, "duration_s": seconds})


def test_a_download_renders_once_and_a_second_run_of_its_job_keeps_the_file(
    core: Core, tmp_path: Path
) -> None:
    user, rec = _short_plan(core)
    first, queued = core.downloads.start(user.id, rec, "opus")
    assert queued and first.status == "queued"
    again, queued_again = core.downloads.start(user.id, rec, "opus")  # joins the same render
    assert again.id == first.id and not queued_again
    done = _wait_done(core, user.id, first.id)
    path = core.downloads.path(first.id, "opus")
    assert path.parent == tmp_path / "shared-media" / "downloads"  # SONORA_MEDIA_DIR
    assert done.size_bytes == path.stat().st_size > 0 and done.progress == 1.0
    audio, rate = _decode(path.read_bytes())
    assert rate == 48_000 and abs(audio.shape[1] / rate - SHORT_S) < 0.1
    assert _rms_db(audio) > -50  # sound, not silence
    before = path.read_bytes()
    assert core.downloads.render(first.id) == "skip"  # delivered twice: file kept
    assert path.read_bytes() == before
    # a finished one is reused too; another format or other mixer gains is another render
    assert core.downloads.start(user.id, rec, "opus")[0].id == first.id
    mp3, queued_mp3 = core.downloads.start(user.id, rec, "mp3")
    assert queued_mp3 and mp3.id != first.id
    quieter = dataclasses.replace(rec, gains=[0.5])
    assert core.downloads.start(user.id, quieter, "opus")[0].id not in (first.id, mp3.id)


def test_a_render_killed_half_way_runs_again_whole(core: Core) -> None:
    user, rec = _short_plan(core)
    d, _ = core.downloads.start(user.id, rec, "opus")
    _wait_done(core, user.id, d.id)
    path = core.downloads.path(d.id, "opus")
    whole = _decode(path.read_bytes())[0]
    # as a worker killed mid-render leaves it: no file, a half-written .part, row running
    path.unlink()
    part = path.with_name(f".{d.id}.dead0000.part")
    part.write_bytes(b"OggS half a file")
    with core.store.transaction() as s:
        s.execute(update(DownloadRow).where(DownloadRow.id == d.id).values(status="running"))
    assert core.downloads.render(d.id) == "done"
    again = _decode(path.read_bytes())[0]
    assert again.shape == whole.shape
    assert np.max(np.abs(again - whole)) < 1e-6  # the same session, whole
    assert part.exists()  # another worker's leftovers are the sweeper's: old ones only
    os.utime(part, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    core.downloads.expire()
    assert not part.exists() and path.exists()


def test_expired_downloads_and_files_without_a_row_are_removed(core: Core) -> None:
    user, rec = _short_plan(core)
    d, _ = core.downloads.start(user.id, rec, "opus")
    _wait_done(core, user.id, d.id)
    path = core.downloads.path(d.id, "opus")
    stray = path.with_name("f" * 32 + ".opus")  # its row went (e.g. a deletion mid-render)
    stray.write_bytes(b"x")
    os.utime(stray, (time.time() - 120, time.time() - 120))
    core.downloads.expire()
    assert path.exists() and not stray.exists()  # not expired yet
    later = utcnow() + dt.timedelta(hours=core.settings.download_ttl_h + 1)
    assert core.downloads.expire(now=later) == 1
    assert not path.exists()
    assert core.downloads.list(user.id) == []
    # asking again renders it again
    again, queued = core.downloads.start(user.id, rec, "opus")
    assert queued
    _wait_done(core, user.id, again.id)


def test_deleting_an_account_removes_its_files_and_export_lists_only_ones_own(
    core: Core,
) -> None:
    ada, rec = _short_plan(core)
    bob, bob_rec = _short_plan(core)
    d, _ = core.downloads.start(ada.id, rec, "opus")
    b, _ = core.downloads.start(bob.id, bob_rec, "opus")
    _wait_done(core, ada.id, d.id)
    _wait_done(core, bob.id, b.id)
    exported = core.export(ada)["downloads"]
    assert [e["id"] for e in exported] == [d.id]
    assert exported[0]["status"] == "done" and exported[0]["size_bytes"] > 0
    assert b.id not in str(core.export(ada))
    counts = core.delete_account(ada)
    assert counts["downloads"] == 1
    assert not core.downloads.path(d.id, "opus").exists()
    assert core.downloads.path(b.id, "opus").exists()  # someone else's stays


def test_limits_and_formats_are_checked_before_anything_is_queued(tmp_path: Path) -> None:
    core = Core(
        web_settings(tmp_path, download_renders_per_account=1, limit_downloads_per_account="2/1h")
    )
    try:
        user, rec = _short_plan(core)
        with pytest.raises(ParameterError) as bad:
            core.downloads.start(user.id, rec, "wav")
        assert bad.value.field == "format" and "opus, mp3" in str(bad.value)
        d, _ = core.downloads.start(user.id, rec, "opus")
        with pytest.raises(DownloadLimitReached, match="at most 1 at once"):
            core.downloads.start(user.id, rec, "mp3")  # one renders already
        _wait_done(core, user.id, d.id)
        m, _ = core.downloads.start(user.id, rec, "mp3")
        _wait_done(core, user.id, m.id)
        with pytest.raises(DownloadLimitReached, match="at most 2 new downloads") as over:
            core.downloads.start(user.id, dataclasses.replace(rec, gains=[0.5]), "opus")
        assert 3500 <= over.value.retry_after_s <= 3600
        assert core.downloads.start(user.id, rec, "opus")[0].id == d.id  # reuse: free
    finally:
        core.close()


def test_without_a_broker_a_render_stopped_by_a_restart_resumes(tmp_path: Path) -> None:
    settings = web_settings(tmp_path)
    first = Core(settings)
    user, rec = _short_plan(first, seconds=120.0)
    d, _ = first.downloads.start(user.id, rec, "opus")
    first.close()  # the process stops: its render thread stops at its next block
    time.sleep(1.0)
    assert not first.downloads.path(d.id, "opus").exists()
    again = Core(settings)  # the next start of the same single process
    try:
        assert again.downloads.list(user.id)[0].status in ("queued", "running")
        assert again.downloads.get(user.id, d.id).id == d.id  # first use: resumed
        done = _wait_done(again, user.id, d.id)
        audio, rate = _decode(again.downloads.path(d.id, "opus").read_bytes())
        assert abs(audio.shape[1] / rate - 120.0) < 0.1 and done.size_bytes
    finally:
        again.close()


def test_identical_requests_at_the_same_moment_make_one_render(
    db_url: tuple[str, str | None], tmp_path: Path
) -> None:
    """Four requests racing (SQLite and PostgreSQL): one render, the same download."""
    from sonora.core.database import Database

    url, schema = db_url
    core = Core(web_settings(tmp_path), store=Database.open(url, schema=schema))
    try:
        user, rec = _short_plan(core)
        gate = threading.Barrier(4)

        def ask() -> tuple[str, bool]:
            gate.wait()
            d, queued = core.downloads.start(user.id, rec, "opus")
            return d.id, queued

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: ask(), range(4)))
        assert len({i for i, _ in answers}) == 1, answers
        assert sum(q for _, q in answers) == 1, answers
        _wait_done(core, user.id, answers[0][0])
    finally:
        core.close()


# -- the web API -------------------------------------------------------------------------
@pytest.fixture
def app_core(tmp_path: Path) -> Iterator[Core]:
    c = Core(web_settings(tmp_path, download_wait_s=0.0))
    yield c
    c.close()


def test_status_and_file_are_the_owners_only_with_ranges(app_core: Core) -> None:
    app = create_app(app_core)
    with TestClient(app) as alice:
        make_listener(alice)
        user_id = alice.get("/api/me").json()["id"]
        made = alice.post("/api/checkins", json={"tension": 6, "goal": "unwind", "minutes": 5})
        rec = app_core.store.get_plan(user_id, made.json()["plan"]["id"])
        short = dataclasses.replace(rec, plan={**rec.plan, "duration_s": SHORT_S})
        d = _wait_done(app_core, user_id, app_core.downloads.start(user_id, short, "opus")[0].id)
        bob = TestClient(app)
        make_listener(bob)
        status = alice.get(f"/api/downloads/{d.id}")
        assert status.status_code == 200 and status.headers["cache-control"] == "no-store"
        body = status.json()
        assert body["status"] == "done" and body["progress"] == 1.0
        assert body["file_url"] == f"/api/downloads/{d.id}/file"
        f = alice.get(body["file_url"])
        assert f.status_code == 200 and f.headers["cache-control"] == "no-store"
        assert f.headers["content-type"].startswith("audio/ogg")
        assert f.headers["content-disposition"].startswith('attachment; filename="sonora-')
        assert f.content == app_core.downloads.path(d.id, "opus").read_bytes()
        part = alice.get(body["file_url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == f.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(f.content)}"
        for url in (f"/api/downloads/{d.id}", f"/api/downloads/{d.id}/file"):
            r = bob.get(url)
            assert r.status_code == 404 and r.json()["detail"] == "download not found"
        assert bob.get("/api/downloads").json() == []
        assert [x["id"] for x in alice.get("/api/downloads").json()] == [d.id]


def test_start_old_url_and_bad_format(app_core: Core) -> None:
    with TestClient(create_app(app_core)) as c:
        make_listener(c)
        plan = c.post("/api/checkins", json={"tension": 6, "goal": "unwind", "minutes": 5})
        pid = plan.json()["plan"]["id"]
        bad = c.post(f"/api/plans/{pid}/downloads", json={"format": "wav"})
        assert bad.status_code == 422 and bad.json()["field"] == "format"
        # the field, its allowed values and what came: never a pydantic message
        assert bad.json()["detail"] == "format: expected one of opus or mp3, got 'wav'"
        bad_old = c.get(f"/api/plans/{pid}/download", params={"format": "flac"})
        assert bad_old.status_code == 422 and bad_old.json()["field"] == "format"
        r = c.post(f"/api/plans/{pid}/downloads", json={"format": "opus"})
        assert r.status_code == 202, r.text
        assert r.headers["location"] == r.json()["status_url"] == f"/api/downloads/{r.json()['id']}"
        assert r.json()["file_url"] is None
        # the old URL joins the same render; not ready within download_wait_s (0 here):
        # 503 + Retry-After + where to look, never a half-made file
        old = c.get(f"/api/plans/{pid}/download", params={"format": "opus"})
        assert old.status_code == 503, old.text
        assert int(old.headers["retry-after"]) >= 1
        assert old.json()["id"] == r.json()["id"] and old.json()["field"] == "download"
        page = c.get(f"/api/plans/{pid}/download", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["refresh"] == page.headers["retry-after"]
        gone = c.get(f"/api/plans/{'0' * 32}/download")
        assert gone.status_code == 404


def test_the_old_url_sends_the_finished_file(tmp_path: Path) -> None:
    """The old GET waits (without rendering in the web process) and sends the file."""
    core = Core(web_settings(tmp_path, download_wait_s=120.0))
    try:
        with TestClient(create_app(core)) as c:
            make_listener(c)
            plan = c.post("/api/checkins", json={"tension": 6, "goal": "unwind", "minutes": 5})
            pid = plan.json()["plan"]["id"]
            r = c.get(f"/api/plans/{pid}/download", params={"format": "mp3"})
            assert r.status_code == 200, r.text[:300]
            assert r.headers["content-type"] == "audio/mpeg"
            assert r.headers["content-disposition"].endswith('-5min.mp3"')
            # (ffmpeg decodes it: libsndfile's MP3 reader stops early on long VBR files)
            pcm = subprocess.run(
                ["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "2", "-"],
                input=r.content,
                capture_output=True,
                check=True,
            ).stdout
            audio = np.frombuffer(pcm, dtype=np.float32).reshape(-1, 2).T
            assert abs(audio.shape[1] / 48_000 - 300.0) < 0.2  # the whole 5 minutes
            assert _rms_db(audio) > -50
            again = c.post(f"/api/plans/{pid}/downloads", json={"format": "mp3"})
            assert again.status_code == 200 and again.json()["status"] == "done"
    finally:
        core.close()
