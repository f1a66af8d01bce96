"""Streaming against a real server on loopback: Ogg Opus / MP3 that decodes, pacing,
live mixer, stopping on disconnect, resuming at an offset, downloads and limits.

Also the renderer itself: resuming gives exactly the samples of an uninterrupted
render, and a stream built from a stored calibration equals ``build_mix``'s graph.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from sonora.core.audio import Renderer, build_stream_mix
from sonora.engine.render import render_array
from sonora.plan import Plan
from sonora.plan.recipes import FAMILIES
from sonora.scenes.build import build_mix
from sonora.settings import Settings
from sonora.web.testing import RunningServer, running_server

LEAD_S = 1.0


def _settings(tmp: Path, **over: Any) -> Settings:
    base = dict(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'stream.db'}",
        secret_key="stream-secret-" + "k" * 32,
        triage_notes=False,
        stream_lead_s=LEAD_S,
        resume_grace_s=60.0,
    )
    return Settings(**{**base, **over})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[RunningServer]:
    with running_server(_settings(data_dir)) as s:
        yield s


def _client(server: RunningServer) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60)
    assert c.post("/api/guest", json={}).status_code == 201
    c.put("/api/profile", json={"loved": ["rain"], "disliked": ["chimes", "gong"]})
    return c


def _ready_plan(c: httpx.Client, **checkin: Any) -> dict[str, Any]:
    body = {"tension": 6, "mood": 5, "goal": "unwind", "minutes": 5, "place": "sitting", **checkin}
    plan = c.post("/api/checkins", json=body).json()["plan"]
    deadline = time.monotonic() + 120
    while not c.get(f"/api/plans/{plan['id']}").json()["ready"]:
        assert time.monotonic() < deadline, "calibration did not finish"
        time.sleep(0.1)
    return plan


@pytest.fixture(scope="module")
def listener(server: RunningServer) -> tuple[httpx.Client, dict[str, Any]]:
    c = _client(server)
    return c, _ready_plan(c)


def _read(c: httpx.Client, url: str, *, seconds: float, **params: Any) -> tuple[bytes, Any]:
    """Read a stream for ``seconds`` of wall time, then hang up."""
    buf = bytearray()
    with c.stream("GET", url, params=params) as r:
        headers = r.headers
        assert r.status_code == 200, r.read()
        t0 = time.monotonic()
        for chunk in r.iter_bytes():
            buf += chunk
            if time.monotonic() - t0 >= seconds:
                break
    return bytes(buf), headers


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.T, rate


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-20))


# -- the stream ------------------------------------------------------------------------
def test_stream_is_ogg_opus_that_decodes(listener: tuple[httpx.Client, dict]) -> None:
    c, plan = listener
    data, headers = _read(c, f"/api/plans/{plan['id']}/stream", seconds=1.5)
    assert headers["content-type"].startswith("audio/ogg")
    assert "content-length" not in headers
    assert data[:4] == b"OggS" and b"OpusHead" in data[:200]
    audio, rate = _decode(data)
    assert rate == 48_000 and audio.shape[0] == 2
    assert audio.shape[1] >= 48_000  # at least a second arrived
    assert np.all(np.isfinite(audio))
    assert _rms_db(audio[:, 24_000:]) > -60  # sound, not silence (fade-in aside)


def test_mp3_where_asked(listener: tuple[httpx.Client, dict]) -> None:
    c, plan = listener
    data, headers = _read(c, f"/api/plans/{plan['id']}/stream", seconds=1.0, format="mp3")
    assert headers["content-type"] == "audio/mpeg"
    audio, rate = _decode(data)
    assert rate == 48_000 and audio.shape[1] > 24_000


def test_stream_is_paced_to_real_time(listener: tuple[httpx.Client, dict]) -> None:
    c, plan = listener
    t0 = time.monotonic()
    data, _ = _read(c, f"/api/plans/{plan['id']}/stream", seconds=2.0)
    wall = time.monotonic() - t0
    seconds = _decode(data)[0].shape[1] / 48_000
    # never more than the lead ahead of real time (plus one chunk of slack)
    assert seconds <= wall + LEAD_S + 1.0, (seconds, wall)


def test_client_going_away_stops_rendering(
    server: RunningServer, listener: tuple[httpx.Client, dict]
) -> None:
    c, plan = listener
    _read(c, f"/api/plans/{plan['id']}/stream", seconds=1.0)
    deadline = time.monotonic() + 10
    while server.core.hub.active_count():
        assert time.monotonic() < deadline, "a stream kept rendering after its client left"
        time.sleep(0.05)
    assert server.core.hub.short == 0  # it no longer asks the other streams to give way
    parked = server.core.hub._parked  # the renderer waits for a resume, idle
    renderer = next(r for (pid, _), (r, _) in parked.items() if pid == plan["id"])
    pos = renderer.mix.position_frames
    time.sleep(0.5)
    assert renderer.mix.position_frames == pos
    listening = c.get("/api/export").json()["listening"]
    assert listening[-1]["ended"] == "disconnected"


def test_resume_at_the_session_offset(listener: tuple[httpx.Client, dict]) -> None:
    c, plan = listener
    _read(c, f"/api/plans/{plan['id']}/stream", seconds=1.5)
    data, headers = _read(c, f"/api/plans/{plan['id']}/stream", seconds=1.0, offset_s=1.25)
    assert float(headers["x-sonora-offset"]) == pytest.approx(1.25)
    assert data[:4] == b"OggS"
    assert _decode(data)[0].shape[1] > 24_000
    # far ahead of anything rendered: renders forward from where it is
    data, headers = _read(c, f"/api/plans/{plan['id']}/stream", seconds=0.5, offset_s=40.0)
    assert float(headers["x-sonora-offset"]) == pytest.approx(40.0)
    assert _decode(data)[0].shape[1] > 0


def test_live_mixer_changes_what_is_heard(listener: tuple[httpx.Client, dict]) -> None:
    c, plan = listener
    n = len(plan["layers"])
    c.put(f"/api/plans/{plan['id']}/gains", json={"gains": [1.0] * n})
    buf = bytearray()
    with c.stream("GET", f"/api/plans/{plan['id']}/stream", params={"offset_s": 30}) as r:
        t0 = time.monotonic()
        muted_at = None
        for chunk in r.iter_bytes():
            buf += chunk
            now = time.monotonic() - t0
            if muted_at is None and now >= 1.5:
                assert (
                    c.put(f"/api/plans/{plan['id']}/gains", json={"gains": [0.0] * n}).status_code
                    == 200
                )
                muted_at = len(buf)
            if now >= 1.5 + LEAD_S + 3.0:
                break
    audio, rate = _decode(bytes(buf))
    before = _rms_db(audio[:, rate // 2 : rate])
    after = _rms_db(audio[:, -rate // 2 :])
    assert before > -60
    assert after < before - 30, (before, after)
    c.put(f"/api/plans/{plan['id']}/gains", json={"gains": [1.0] * n})


def test_download_is_an_attachment_of_the_whole_session(
    listener: tuple[httpx.Client, dict],
) -> None:
    """Rendered on the job queue (tests/web/test_downloads.py), not paced: once its
    status says done, the old URL sends the whole file at once."""
    c, plan = listener
    status = c.post(f"/api/plans/{plan['id']}/downloads", json={"format": "opus"}).json()
    deadline = time.monotonic() + 300
    while status["status"] != "done":
        assert status["status"] != "failed" and time.monotonic() < deadline, status
        time.sleep(0.5)
        status = c.get(status["status_url"]).json()
    r = c.get(f"/api/plans/{plan['id']}/download")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="sonora-')
    assert r.headers["content-disposition"].endswith('.opus"')
    seconds = _decode(r.content)[0].shape[1] / 48_000
    assert abs(seconds - 300.0) < 0.1  # the check-in asked for 5 minutes


def test_quiet_rest_has_no_stream(server: RunningServer) -> None:
    c = _client(server)
    r = c.put(
        "/api/profile",
        json={"loved": [], "disliked": list(FAMILIES)},  # every family disliked
    )
    assert r.status_code == 200, r.text
    plan = c.post("/api/checkins", json={"tension": 5, "minutes": 5}).json()["plan"]
    assert plan["plan"]["quiet_rest"] is True and plan["stream_url"] is None
    r = c.get(f"/api/plans/{plan['id']}/stream")
    assert r.status_code == 409 and r.json()["field"] == "plan"


def test_too_many_streams_get_503(data_dir: Path, listener: tuple[httpx.Client, dict]) -> None:
    _, plan = listener
    # a second server on the same database, allowing one stream at a time
    with running_server(_settings(data_dir, max_streams=1)) as small:
        c = httpx.Client(base_url=small.url, timeout=30, cookies=listener[0].cookies)
        with c.stream("GET", f"/api/plans/{plan['id']}/stream") as first:
            # Keep the iterator: a dropped httpx byte iterator closes its connection at
            # once, and the server would (rightly) see the first listener leave.
            chunks = first.iter_bytes()
            assert first.status_code == 200 and next(chunks)
            r = c.get(f"/api/plans/{plan['id']}/stream")
            assert r.status_code == 503 and r.headers["retry-after"]
            assert next(chunks)  # the first listener is still being served


# -- the renderer ---------------------------------------------------------------------
def _small_plan() -> Plan:
    from sonora.plan import CheckIn, compose, get_arm

    return compose(CheckIn(tension=6, goal="unwind", minutes=5), get_arm("rain/mid"), seed=4)


def test_stream_graph_equals_the_calibrated_graph() -> None:
    plan = _small_plan()
    ref = build_mix(plan.to_scene(), duration_s=plan.duration_s, seed=plan.seed)
    cal = {"trims": [layer.trim for layer in ref.layers], "master_gain_db": ref.master_gain_db}
    fast = build_stream_mix(plan, cal, sample_rate=48_000, gains=None)
    a, b = ref.process(48_000 * 3), fast.process(48_000 * 3)
    assert np.array_equal(a, b)


def test_resuming_gives_the_samples_of_an_uninterrupted_render() -> None:
    plan = _small_plan()
    cal = {"trims": [1.0] * len(plan.plan_layers), "master_gain_db": -6.0}

    def fresh() -> Any:
        return build_stream_mix(plan, cal, sample_rate=48_000, gains=None)

    whole = fresh()
    whole_audio = whole.process(48_000 * 12)
    r = Renderer(fresh(), history_s=5.0)
    for _ in range(60):  # ~5.1 s handed out, as a stream would
        r.next_block()
    for offset in (4.0, 2.5, 7.0):  # back within the kept audio, then forward
        assert r.can_serve(offset)
        r.seek(offset)
        got = np.concatenate([r.next_block() for _ in range(12)], axis=1)
        start = round(offset * 48_000)
        assert np.array_equal(got, whole_audio[:, start : start + got.shape[1]]), offset
    assert not r.can_serve(0.5)  # too far back: a new renderer starts over
    r2 = Renderer(fresh(), history_s=0.0)
    r2.seek(3.0)
    got = r2.next_block()
    assert np.array_equal(got, whole_audio[:, 144_000 : 144_000 + got.shape[1]])


def test_whole_stream_render_matches_render_array() -> None:
    plan = _small_plan()
    cal = {"trims": [1.0] * len(plan.plan_layers), "master_gain_db": 0.0}
    from dataclasses import replace

    short = replace(plan, duration_s=2.0)
    r = Renderer(build_stream_mix(short, cal, sample_rate=48_000, gains=None), history_s=1.0)
    blocks = []
    while not r.finished:
        blocks.append(r.next_block())
    ref = render_array(build_stream_mix(short, cal, sample_rate=48_000, gains=None))
    assert np.array_equal(np.concatenate(blocks, axis=1), ref)


def test_a_trip_encodes_a_whole_refill_and_the_audio_is_unchanged() -> None:
    """One trip of ``refill_seconds(lead)`` encodes that much audio, and a stream made of
    such trips decodes to the same length of audio as one made chunk by chunk."""
    from sonora.core.audio import StreamJob
    from sonora.web.stream import refill_seconds

    assert refill_seconds(4.0) == 1.0 and refill_seconds(1.0) == 0.25
    plan = _small_plan()
    cal = {"trims": [1.0] * len(plan.plan_layers), "master_gain_db": -6.0}

    def job() -> StreamJob:
        r = Renderer(build_stream_mix(plan, cal, sample_rate=48_000, gains=None), history_s=1.0)
        return StreamJob(r, "opus", 0.8, opus_complexity=5)

    trips = job()
    data = bytearray(trips.next_chunk())  # the headers (one chunk rendered)
    for _ in range(3):
        before = trips.renderer.position_s
        data += trips.next_chunk(min_frames=48_000)
        assert trips.renderer.position_s - before >= 1.0  # a whole second per trip
    chunks = job()
    other = bytearray(chunks.next_chunk())
    while chunks.renderer.position_s < trips.renderer.position_s:
        other += chunks.next_chunk()
    a, b = _decode(bytes(data))[0], _decode(bytes(other))[0]
    n = min(a.shape[1], b.shape[1])
    assert n >= 48_000 * 2.5  # the encoder's pages lag what was rendered
    assert np.array_equal(a[:, :n], b[:, :n])  # the same audio, trip by trip or chunk by chunk
    assert _rms_db(a[:, 24_000:]) > -60
