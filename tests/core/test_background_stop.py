"""Background loudness calibrations and download renders stop when their process closes:
no thread outlives :meth:`Calibrator.close` or :meth:`Core.close` (and so no test), and a
calibration cut short is never finished behind the next one's back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webkit import web_settings

from sonora.core.app import Core
from sonora.core.calibration import CalibrationStopped, Calibrator
from sonora.plan import CheckIn, compose, get_arm
from sonora.scenes import calibration as scene_cal

SR = 22_050


class _Results:
    """A listening store that only keeps calibrations."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def set_calibration(self, plan_id: str, result: dict[str, Any]) -> None:
        self.saved.append(plan_id)


def _watch(monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[list[str], threading.Event]:
    """Calls of ``sonora.scenes.calibration.<name>`` (by thread name) and an event set
    at the first one."""
    calls: list[str] = []
    first = threading.Event()
    real: Callable[..., Any] = getattr(scene_cal, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        first.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(scene_cal, name, spy)
    return calls, first


def _new_threads(before: set[threading.Thread], prefix: str) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.name.startswith(prefix) and t.is_alive()
    ]


def test_a_calibration_thread_stops_and_is_joined_by_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    measured, started = _watch(monkeypatch, "measure_mix_lufs")
    gains, _ = _watch(monkeypatch, "master_gain_db")
    # an hour-long sleep plan: predicted from several windows of a minute or two each
    c = CheckIn(tension=8, energy=7, goal="sleep", minutes=60, place="in_bed", local_time="23:30")
    plan = compose(c, get_arm("rain-drone/dark"), seed=1).to_dict()
    before = set(threading.enumerate())
    results = _Results()
    calibrator = Calibrator(results, sample_rate=SR, target_lufs=-23.0, workers=1)  # type: ignore[arg-type]
    future = calibrator.ensure("p1", plan, None, play=True)
    assert started.wait(120), "the calibration never started measuring"
    assert _new_threads(before, "sonora-calib"), "no calibration thread to stop"
    calibrator.close()
    assert _new_threads(before, "sonora-calib") == []  # joined: nothing outlives close
    with pytest.raises(CalibrationStopped):
        future.result(timeout=0)
    n_measured = len(measured)
    time.sleep(0.3)
    assert len(measured) == n_measured and gains == [] and results.saved == []


def test_a_download_calibrating_in_the_background_stops_when_the_core_closes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, started = _watch(monkeypatch, "measure_mix_lufs")
    gains, _ = _watch(monkeypatch, "master_gain_db")
    before = set(threading.enumerate())
    core = Core(web_settings(tmp_path, media_dir=tmp_path / "media"))
    try:
        user, _ = core.start_guest()
        # a 5-minute sleep plan: measured whole (seconds of CPU) before its render
        answers = {"tension": 8, "energy": 7, "goal": "sleep", "minutes": 5}
        _, plan, _ = core.check_in(user, answers)
        rec = core.store.get_plan(user.id, plan.id)
        d, queued = core.downloads.start(user.id, rec, "opus")
        assert queued
        assert started.wait(120), "the download never started calibrating"
        assert _new_threads(before, "sonora-download"), "no download thread to stop"
    finally:
        core.close()
    assert _new_threads(before, "sonora-download") == []  # joined by close
    assert _new_threads(before, "sonora-calib") == []
    n_gains = len(gains)
    time.sleep(0.3)
    assert len(gains) == n_gains == 0  # cut short: never reached its master gain
    assert not core.downloads.path(d.id, "opus").exists()
