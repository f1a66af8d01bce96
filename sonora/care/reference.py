"""The reference sound for the one-time listening-level calibration (``/listening``).

Soft pink noise at a session's loudness: the listener sets their volume to it and
reads the level off a meter (or a phone app), so the weekly dose can be estimated.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import soundfile as sf

from sonora.engine.loudness import integrated_lufs
from sonora.engine.noise import PinkNoise

__all__ = ["reference_wav"]


@cache
def reference_wav(target_lufs: float, *, seconds: float = 6.0, sample_rate: int = 44_100) -> bytes:
    """The calibration sound: soft pink noise at a session's loudness, as WAV bytes.

    Parameters
    ----------
    target_lufs : float
        Integrated loudness, LUFS (the same as sessions: ``settings.target_lufs``).
    seconds : float, default 6
        Length, seconds.
    sample_rate : int, default 44100
        Sample rate, Hz.

    Returns
    -------
    bytes
        A 16-bit stereo WAV file with half-second fades.
    """
    frames = round(seconds * sample_rate)
    audio = PinkNoise(sample_rate=sample_rate, seed=7).process(frames).astype(np.float64)
    audio *= 10.0 ** ((target_lufs - integrated_lufs(audio, sample_rate)) / 20.0)
    fade = round(0.5 * sample_rate)
    ramp = np.linspace(0.0, 1.0, fade)
    audio[:, :fade] *= ramp
    audio[:, -fade:] *= ramp[::-1]
    buf = io.BytesIO()
    sf.write(buf, audio.T.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
