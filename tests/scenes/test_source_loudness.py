"""The sources' loudness table (the provisional gain of a stream): complete, an upper
bound of fresh measurements, and used without rendering."""

from __future__ import annotations

import numpy as np
import pytest

import sonora.plan.render as plan_render
from sonora.core.audio import provisional_calibration
from sonora.engine.registry import SOURCES, source_class
from sonora.plan import CheckIn
from sonora.plan.compose import compose
from sonora.plan.recipes import get_arm
from sonora.scenes.source_loudness import (
    _sample_params,
    _table,
    loudness_bound_lufs,
    measure_lufs,
)


def test_every_source_has_an_entry_that_fits_its_parameters() -> None:
    table = _table()
    assert set(table) == set(SOURCES)
    for name, entry in table.items():
        assert len(entry["coef"]) == len(source_class(name).PARAMS), name
        assert entry["margin_db"] >= 0.0
        assert entry["n"] >= 30, name  # measured, not guessed


@pytest.mark.parametrize("source", ["rain", "singing_bowl", "pink_noise", "ocean_waves"])
def test_the_bound_holds_for_parameter_sets_it_was_not_fitted_on(source: str) -> None:
    # Parameter sets drawn with a seed the table was not made with.
    rng = np.random.default_rng([2026, len(source)])
    for _ in range(2):
        params = _sample_params(source, rng)
        measured = measure_lufs(source, params)
        bound = loudness_bound_lufs(source, params)
        assert bound is not None
        if not np.isfinite(measured):
            continue  # silent at these settings: any bound holds
        # An upper bound (0.5 dB of slack for sets outside the fitted sample) ...
        assert measured <= bound + 0.5, (params, measured, bound)
        # ... that is not uselessly loose (the provisional stream stays audible).
        entry = _table()[source]
        assert bound - measured < entry["margin_db"] + 4 * entry["rms_residual_db"] + 1.0


def test_provisional_calibration_renders_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_render(*args: object) -> float:
        raise AssertionError("the provisional gain rendered a source")

    monkeypatch.setattr(plan_render, "_trim_db", no_render)
    checkin = CheckIn.from_dict({"tension": 6, "goal": "sleep", "minutes": "all night"})
    plan = compose(checkin, get_arm("rain-bowls/mid"), seed=5)
    cal = provisional_calibration(plan, sample_rate=48_000, target_lufs=-23.0)
    assert cal["provisional"] is True
    assert len(cal["trims"]) == len(plan.plan_layers)
    assert all(0.0 < t < 1e4 for t in cal["trims"])
    assert -60.0 < cal["master_gain_db"] < 20.0
