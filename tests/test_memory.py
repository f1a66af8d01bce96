"""Memory does not grow with session length (rendering is streaming: a session is made block by block, never held whole).

Two child interpreters render the brown-noise scene to FLAC, one for 1 minute and one
for 60 minutes, and report their peak resident memory (``ru_maxrss``), their resident
memory after building the mix, and the highest resident memory sampled every 5 ms
while rendering.  They are started in the background as soon as collection selects
this module (see ``conftest.pytest_collection_finish``), so they overlap other tests.
"""

from __future__ import annotations

import pytest
from testkit import MEMORY_MINUTES

SHORT, LONG = MEMORY_MINUTES
#: Allowed difference in peak memory between a 1- and a 60-minute render, MB.
FLAT_MB = 15.0


@pytest.fixture(scope="module")
def results(memory_probes) -> dict[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    return {minutes: memory_probes.result(minutes) for minutes in MEMORY_MINUTES}


def test_both_renders_completed(results: dict[float, dict[str, float]]) -> None:
    for minutes, r in results.items():
        assert r["frames"] == round(minutes * 60 * 48_000)
        assert r["bytes"] > 1000


def test_peak_memory_is_flat_in_duration(results: dict[float, dict[str, float]]) -> None:
    """The whole user path: build (with loudness calibration) + render to FLAC."""
    short, long = results[SHORT]["maxrss_mb"], results[LONG]["maxrss_mb"]
    assert long - short < FLAT_MB, f"1 min: {short:.0f} MB, 60 min: {long:.0f} MB"


def test_streaming_render_memory_is_flat_in_duration(
    results: dict[float, dict[str, float]],
) -> None:
    """The render phase alone: how far memory rises above what the built mix holds."""
    growth = {m: r["render_peak_mb"] - r["after_build_mb"] for m, r in results.items()}
    assert growth[LONG] - growth[SHORT] < FLAT_MB, growth
    assert growth[LONG] < 60.0, growth  # a few blocks in flight, not the session
