"""Node base classes: explicit state, block processing, seeded randomness.

Two kinds of node exist:

* :class:`Source` generates audio: ``process(frames) -> (channels, frames)``.
* :class:`Effect` transforms audio: ``process(block) -> block`` with the same shape.

Both keep their state between calls (pedalboard's ``reset=False`` habit) and return to
the start with :meth:`Node.reset`.  Audio is always ``float32`` with shape
``(channels, frames)``.

Block-size invariance
---------------------
A source computes its audio in fixed *quanta* of :data:`QUANTUM` frames whose
boundaries sit at absolute frame positions, and serves any requested block size from a
small FIFO.  The arithmetic therefore never depends on how a caller slices time: one
block of 8193 frames, or 8193 blocks of one frame, give identical samples.  Effects are
written so that every output sample is computed by the same operations whatever the
block size (sequential recursions with carried state, never block-length reductions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sonora.errors import ParameterError, check_number

#: Frames per internal quantum.  Sources compute audio in quanta of this length and
#: automation is applied at quantum boundaries (85 ms at 48 kHz) with per-sample
#: interpolation for gains.
QUANTUM = 4096

#: Allowed sample rates in Hz.
MIN_SAMPLE_RATE_HZ = 22_050
MAX_SAMPLE_RATE_HZ = 96_000
DEFAULT_SAMPLE_RATE_HZ = 48_000


def check_sample_rate(sample_rate: Any, field: str = "sample_rate") -> int:
    """Validate a sample rate in Hz (22 050 – 96 000, integer)."""
    v = check_number(
        field, sample_rate, low=MIN_SAMPLE_RATE_HZ, high=MAX_SAMPLE_RATE_HZ, unit=" Hz"
    )
    if v != int(v):
        raise ParameterError(field, f"must be a whole number of Hz, got {sample_rate!r}")
    return int(v)


def make_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """Return an independent, reproducible random generator.

    Parameters
    ----------
    seed : int
        The render's seed.
    *keys : int or str
        Identify the stream (layer index, purpose).  Strings are hashed stably.

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator seeded from ``SeedSequence([seed, *keys])``.
    """
    entropy: list[int] = [int(seed) & 0xFFFFFFFFFFFFFFFF]
    for k in keys:
        if isinstance(k, str):
            entropy.append(int.from_bytes(k.encode("utf-8")[:8].ljust(8, b"\0"), "little"))
        else:
            entropy.append(int(k) & 0xFFFFFFFFFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True)
class Param:
    """Declaration of one numeric node parameter.

    Attributes
    ----------
    default : float
        Value used when the parameter is not given.
    low, high : float
        Inclusive allowed range.
    unit : str
        Unit shown in messages and docs (``"Hz"``, ``"dB"``, ``"s"``, ``""``).
    doc : str
        One line describing the parameter.
    """

    default: float
    low: float
    high: float
    unit: str = ""
    doc: str = ""


class Node:
    """Common base: a sample rate, a channel count and resettable state."""

    channels: int = 1

    def __init__(self, *, sample_rate: int = DEFAULT_SAMPLE_RATE_HZ) -> None:
        self.sample_rate = check_sample_rate(sample_rate)

    def reset(self) -> None:
        """Return the node to its initial state (start of the session)."""


class Source(Node):
    """A node that generates audio from parameters and a seed.

    Subclasses declare ``PARAMS`` and implement :meth:`_setup` (create state and random
    generators) and :meth:`_quantum` (return the next ``QUANTUM`` frames).

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    seed : int
        Seed for every random choice the source makes.
    **params : float
        Values for the parameters in ``PARAMS``.
    """

    PARAMS: ClassVar[dict[str, Param]] = {}
    #: Seconds of audio needed to measure this source's loudness reliably.
    CALIBRATION_S: ClassVar[float] = 20.0
    #: Sound family this source belongs to (rain, bowls, ...).
    FAMILY: ClassVar[str] = "other"
    #: Seconds of audio before an offset that a render must start from to reproduce the
    #: sound at that offset (seek).  0 means "none needed": the source's output is a
    #: function of time, or what carries history (a phase, a noise sequence) is
    #: statistically the same wherever it starts.  See docs/sound.md.
    warmup_s: ClassVar[float] = 0.0

    def __init__(
        self, *, sample_rate: int = DEFAULT_SAMPLE_RATE_HZ, seed: int = 0, **params: float
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise ParameterError("seed", f"expected a whole number, got {seed!r}")
        self.seed = int(seed)
        self._initial = self.validate_params(params, prefix=type(self).__name__)
        self.params: dict[str, float] = dict(self._initial)
        self.reset()

    @classmethod
    def validate_params(cls, params: Mapping[str, Any], *, prefix: str = "") -> dict[str, float]:
        """Check ``params`` against ``PARAMS`` and fill defaults.

        Raises
        ------
        ParameterError
            For an unknown parameter or a value outside its range.
        """
        out: dict[str, float] = {}
        for name in params:
            if name not in cls.PARAMS:
                allowed = ", ".join(sorted(cls.PARAMS)) or "none"
                raise ParameterError(
                    f"{prefix}.{name}" if prefix else name,
                    f"unknown parameter for {cls.__name__}; allowed: {allowed}",
                )
        for name, spec in cls.PARAMS.items():
            value = params.get(name, spec.default)
            unit = f" {spec.unit}" if spec.unit else ""
            out[name] = check_number(
                f"{prefix}.{name}" if prefix else name,
                value,
                low=spec.low,
                high=spec.high,
                unit=unit,
            )
        return out

    def calibration_seconds(self) -> float:
        """Seconds of audio needed to measure this source's loudness at its parameters."""
        return float(self.CALIBRATION_S)

    def set_param(self, name: str, value: float) -> None:
        """Set one parameter; it takes effect from the next quantum."""
        spec = self.PARAMS.get(name)
        if spec is None:
            raise ParameterError(name, f"unknown parameter for {type(self).__name__}")
        # Automation curves may overshoot a hair through float rounding: clip silently.
        self.params[name] = float(min(max(value, spec.low), spec.high))

    def reset(self) -> None:
        """Restart the source: same seed, same initial parameters, frame 0."""
        self.params = dict(self._initial)
        self.frame = 0  # absolute frame at the start of the next quantum
        self._fifo = np.zeros((self.channels, 0), dtype=np.float32)
        self._setup()

    def process(self, frames: int) -> np.ndarray:
        """Generate the next ``frames`` frames.

        Parameters
        ----------
        frames : int
            Number of frames, >= 0.

        Returns
        -------
        numpy.ndarray
            float32 array of shape ``(channels, frames)``.
        """
        if frames < 0:
            raise ParameterError("frames", f"must be >= 0, got {frames}")
        if frames == 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        have = self._fifo.shape[1]
        if have == 0 and frames == QUANTUM:
            return self._next_quantum()
        parts = [self._fifo] if have else []
        while have < frames:
            q = self._next_quantum()
            parts.append(q)
            have += q.shape[1]
        buf = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        out, self._fifo = buf[:, :frames], buf[:, frames:]
        return np.ascontiguousarray(out)

    def _next_quantum(self) -> np.ndarray:
        q = self._quantum()
        self.frame += QUANTUM
        return q

    # -- subclass hooks -------------------------------------------------------------
    def _setup(self) -> None:
        """Create random generators and DSP state.  Called by :meth:`reset`."""

    def _quantum(self) -> np.ndarray:  # pragma: no cover - abstract
        """Return the next ``QUANTUM`` frames as float32 ``(channels, QUANTUM)``.

        ``self.frame`` is the absolute index of the quantum's first frame.
        """
        raise NotImplementedError


class Effect(Node):
    """A node that transforms audio block by block, keeping its state between calls."""

    def process(self, block: np.ndarray) -> np.ndarray:
        """Process one block.

        Parameters
        ----------
        block : numpy.ndarray
            float32 array of shape ``(channels, frames)``.

        Returns
        -------
        numpy.ndarray
            float32 array of the same shape.
        """
        raise NotImplementedError


def as_block(audio: np.ndarray, channels: int | None = None) -> np.ndarray:
    """Coerce audio to a contiguous float32 ``(channels, frames)`` array."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ParameterError("audio", f"expected shape (channels, frames), got {a.shape}")
    if channels is not None and a.shape[0] != channels:
        raise ParameterError("audio", f"expected {channels} channels, got {a.shape[0]}")
    return np.ascontiguousarray(a)
