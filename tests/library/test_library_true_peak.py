"""A decoded track's true peak is the true peak (4x oversampled), not the sample peak.

A sine at a quarter of the sample rate with a 45 degree phase is sampled only at
±0.707 of its amplitude: its sample peak sits 3 dB below the peak of the waveform the
samples describe, which the reconstruction filter of any DAC (or a lossy encoder)
meets.  Both decoders (PyAV and the no-PyAV path) must report the waveform's peak.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from sonora.library.decode import decode

RATE_HZ = 44_100
AMPLITUDE = 0.5


def _quarter_rate_sine(path, duration_s: float = 6.0) -> float:
    """Write a stereo float WAV of the fs/4 sine; returns its sample peak, dBFS."""
    n = np.arange(int(duration_s * RATE_HZ))
    x = AMPLITUDE * np.sin(2 * np.pi * n / 4 + np.pi / 4)
    stereo = np.stack([x, x], axis=1).astype(np.float32)
    sf.write(path, stereo, RATE_HZ, subtype="FLOAT")
    return 20 * np.log10(float(np.max(np.abs(stereo))))


@pytest.mark.parametrize("pyav", [True, False], ids=["pyav", "libsndfile"])
def test_an_inter_sample_peak_is_reported_above_the_sample_peak(tmp_path, monkeypatch, pyav):
    path = tmp_path / "quarter.wav"
    sample_peak_db = _quarter_rate_sine(path)
    assert abs(sample_peak_db - 20 * np.log10(AMPLITUDE / np.sqrt(2))) < 0.01
    if not pyav:
        monkeypatch.setitem(sys.modules, "av", None)
    dec = decode(path)
    # the waveform peaks at AMPLITUDE (-6.02 dBFS), 3.01 dB above every sample
    assert dec.true_peak_dbtp > sample_peak_db + 2.5
    assert abs(dec.true_peak_dbtp - 20 * np.log10(AMPLITUDE)) < 0.3


def test_digital_silence_has_the_floor_true_peak(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((RATE_HZ * 6, 2), np.float32), RATE_HZ, subtype="FLOAT")
    assert decode(path).true_peak_dbtp == -240.0
