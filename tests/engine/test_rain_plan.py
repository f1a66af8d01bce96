"""The rain plans several quanta at once: the samples are those of one at a time.

:meth:`Rain._plan` draws and synthesises the drops of up to ``_AHEAD`` quanta in one
batch while the parameters hold still, and plans one quantum at a time while they
glide.  Planning must change nothing but the cost: a rain forced to plan one quantum
at a time (``_AHEAD = 1``) is the reference, compared to the bit, also when a
parameter changes in the middle of a planned batch.
"""

from __future__ import annotations

import numpy as np
import pytest

import sonora.engine.nature._modal as modal_module
import sonora.engine.nature.rain as rain_module
from sonora.engine.base import QUANTUM
from sonora.engine.nature import Rain
from sonora.engine.nature._modal import _modal_events

SR = 48_000


def _render(ahead: int, monkeypatch: pytest.MonkeyPatch, **params: float) -> np.ndarray:
    monkeypatch.setattr(rain_module, "_AHEAD", ahead)
    src = Rain(sample_rate=SR, seed=5, **params)
    parts = []
    for i in range(60):
        if i in (11, 30):  # mid-batch: the plan made for the old values is dropped
            src.set_param("density", 0.9 if i == 11 else 0.2)
            src.set_param("puddles", 1.0 if i == 11 else 0.0)
        if i == 45:  # set to the value it has: the plan stays valid
            src.set_param("near", src.params["near"])
        parts.append(src.process(QUANTUM))
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize(
    "params",
    [{}, {"density": 1.0, "puddles": 1.0, "leaves": 0.0, "roof": 0.0}, {"density": 0.0}],
)
def test_planning_ahead_gives_the_samples_of_one_quantum_at_a_time(
    params: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _render(1, monkeypatch, **params)
    ahead = _render(8, monkeypatch, **params)
    assert np.abs(one).max() > 0.01  # it rained
    np.testing.assert_array_equal(ahead, one)


def test_modal_groups_give_each_group_its_own_call() -> None:
    rng = np.random.default_rng(3)
    n = 7
    freqs = 300.0 + 2000.0 * rng.random((n, 2))
    taus = 0.002 + 0.01 * rng.random((n, 2))
    amps = rng.random((n, 2))
    attack = 0.0002 + 0.001 * rng.random(n)
    phases = 6.0 * rng.random((n, 2))
    groups = [(0, 3, 900), (3, 4, 200), (4, 7, 1500)]
    batch = _modal_events(
        SR, 1500, freqs, taus, amps, attack_s=attack, phases=phases, groups=groups
    )
    for r0, r1, frames in groups:
        alone = _modal_events(
            SR,
            frames,
            freqs[r0:r1],
            taus[r0:r1],
            amps[r0:r1],
            attack_s=attack[r0:r1],
            phases=phases[r0:r1],
        )
        np.testing.assert_array_equal(batch[r0:r1, :frames], alone)


def _events_reference(
    sr: int,
    length: int,
    freqs: np.ndarray,
    taus: np.ndarray,
    amps: np.ndarray,
    glide: np.ndarray,
    glide_tau: np.ndarray,
    phases: np.ndarray,
) -> np.ndarray:
    """``_modal_events`` before the attack and fade, written plainly: every partial of
    every event does the glide's work, zeros included (as it did before)."""
    t = np.arange(length, dtype=np.float32)[None, :]
    w = (freqs * (2.0 * np.pi / sr)).astype(np.float32)
    neg_rate = (-1.0 / (taus * sr)).astype(np.float32)
    log_amp = np.log(np.maximum(amps, 1e-30)).astype(np.float32)
    out = np.zeros((len(freqs), length), dtype=np.float32)
    for j in range(freqs.shape[1]):
        gt = (glide_tau[:, j : j + 1] * sr).astype(np.float32)
        rise = t - gt * (1.0 - np.exp(-t / gt))
        ph = t * w[:, j : j + 1] + (w[:, j : j + 1] * glide[:, j : j + 1].astype(np.float32)) * rise
        ph += phases[:, j : j + 1].astype(np.float32)
        env = np.exp(t * neg_rate[:, j : j + 1] + log_amp[:, j : j + 1])
        out = env * np.sin(ph) if j == 0 else out + env * np.sin(ph)
    return out


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("batch", [1 << 16, 2 * 23 * 900, 1])
def test_modal_events_skip_only_zero_glides_bit_for_bit(
    share: float, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events and partials with no glide skip its work; every sample is still the
    plain formula's (the glide of 0 added exactly nothing), whether the partials are
    synthesised all at once, two and then one, or one by one (``_BATCH_ELEMENTS``)."""
    monkeypatch.setattr(modal_module, "_BATCH_ELEMENTS", batch)
    rng = np.random.default_rng(7)
    n, m, sr, length = 23, 3, 48_000, 900
    freqs = 300.0 + 4000.0 * rng.random((n, m))
    taus = 0.001 + 0.004 * rng.random((n, m))
    amps = 0.1 + rng.random((n, m))
    glide = np.zeros((n, m))
    glide[:, 0] = np.where(rng.random(n) < share, 0.1 + 0.4 * rng.random(n), 0.0)
    phases = 2 * np.pi * rng.random((n, m))
    mine = _modal_events(
        sr,
        length,
        freqs,
        taus,
        amps,
        glide=glide,
        glide_tau_s=1.5 * taus,
        attack_s=1e-9,  # an attack of one frame: compare the partials after it
        phases=phases,
    )
    ref = _events_reference(sr, length, freqs, taus, amps, glide, 1.5 * taus, phases)
    # frame 0 is the attack's (1 - exp(0) = 0), the last 96 the fade-out's
    np.testing.assert_array_equal(mine[:, 1:-96], ref[:, 1:-96])
    assert np.abs(ref).max() > 0.05
