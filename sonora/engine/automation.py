"""Automation curves: a numeric parameter that follows a path over the session.

A curve is a list of points ``(time_s, value, shape)``.  The value holds at the first
point's value before it and at the last point's value after it; between two points it
moves with the *second* point's shape:

``"linear"``
    straight line in value;
``"exp"``
    straight line in ``log(value)`` (a constant ratio per second, natural for
    frequencies, tempo and amplitudes) — both ends must be > 0, or both < 0;
``"hold"``
    stays at the previous value until the point's time, then jumps.

Curves are evaluated at absolute session times, so the same curve gives the same values
whatever block size renders it.

Examples
--------
>>> c = Curve.from_spec([[0, 10.0], [60, 6.0, "exp"]])
>>> float(c.at(0.0)), round(float(c.at(60.0)), 6), round(float(c.at(30.0)), 4)
(10.0, 6.0, 7.746)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sonora.errors import ParameterError, check_number

SHAPES = ("linear", "exp", "hold")


@dataclass(frozen=True)
class Curve:
    """A piecewise automation curve.

    Attributes
    ----------
    times_s : tuple of float
        Strictly increasing point times in seconds.
    values : tuple of float
        Value at each point.
    shapes : tuple of str
        Shape of the segment that *ends* at each point (the first is ignored).
    """

    times_s: tuple[float, ...]
    values: tuple[float, ...]
    shapes: tuple[str, ...]

    @classmethod
    def constant(cls, value: float) -> Curve:
        """A curve that always returns ``value``."""
        return cls((0.0,), (float(value),), ("hold",))

    @classmethod
    def from_spec(cls, spec: Any, *, field: str = "curve") -> Curve:
        """Build a curve from a number or a list of ``[time_s, value, shape?]`` points.

        Raises
        ------
        ParameterError
            Naming ``field`` when a point is malformed, times do not increase, or an
            exponential segment crosses zero.
        """
        if isinstance(spec, Curve):
            return spec
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            return cls.constant(check_number(field, spec))
        if isinstance(spec, dict) and "points" in spec:
            spec = spec["points"]
        if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) == 0:
            raise ParameterError(
                field, "expected a number or a non-empty list of [time_s, value, shape] points"
            )
        times: list[float] = []
        values: list[float] = []
        shapes: list[str] = []
        for i, point in enumerate(spec):
            f = f"{field}[{i}]"
            if (
                not isinstance(point, Sequence)
                or isinstance(point, str)
                or len(point) not in (2, 3)
            ):
                raise ParameterError(f, "expected [time_s, value] or [time_s, value, shape]")
            t = check_number(f"{f}.time_s", point[0], low=0.0)
            v = check_number(f"{f}.value", point[1])
            shape = point[2] if len(point) == 3 else "linear"
            if shape not in SHAPES:
                raise ParameterError(f"{f}.shape", f"{shape!r} is not one of {', '.join(SHAPES)}")
            if times and t <= times[-1]:
                raise ParameterError(f"{f}.time_s", f"times must increase; {t:g} <= {times[-1]:g}")
            if shape == "exp" and values and (values[-1] * v <= 0):
                raise ParameterError(
                    f"{f}.shape", "an 'exp' ramp needs both ends non-zero and of the same sign"
                )
            times.append(t)
            values.append(v)
            shapes.append(shape)
        return cls(tuple(times), tuple(values), tuple(shapes))

    def to_spec(self) -> list[list[Any]]:
        """Inverse of :meth:`from_spec` (JSON-serialisable)."""
        return [[t, v, s] for t, v, s in zip(self.times_s, self.values, self.shapes, strict=True)]

    @cached_property
    def is_constant(self) -> bool:
        """True when the curve never changes (computed once: a curve is frozen)."""
        return len(set(self.values)) == 1

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The point times (s) and values as arrays, built once."""
        return np.asarray(self.times_s), np.asarray(self.values)

    def range(self) -> tuple[float, float]:
        """Smallest and largest value the curve takes."""
        return min(self.values), max(self.values)

    def scaled(self, offset: float = 0.0) -> Curve:
        """Return the curve with ``offset`` added to every value (shapes kept)."""
        return Curve(self.times_s, tuple(v + offset for v in self.values), self.shapes)

    def at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Evaluate the curve.

        Parameters
        ----------
        t_s : float or numpy.ndarray
            Time(s) in seconds since the session start.

        Returns
        -------
        numpy.ndarray
            float64 values, same shape as ``t_s``.
        """
        t_in = np.asarray(t_s, dtype=np.float64)
        if self.is_constant:
            return np.full(t_in.shape, self.values[0])
        t = np.atleast_1d(t_in)
        times, vals = self._arrays
        out = np.array(np.interp(t, times, vals), dtype=np.float64)  # linear, clamped
        for i in range(1, len(times)):
            shape = self.shapes[i]
            if shape == "linear":
                continue
            t0, t1, v0, v1 = times[i - 1], times[i], vals[i - 1], vals[i]
            mask = (t > t0) & (t < t1)
            if not np.any(mask):
                continue
            if shape == "hold":
                out[mask] = v0
            else:  # exp
                frac = (t[mask] - t0) / (t1 - t0)
                out[mask] = np.sign(v0) * np.exp(
                    np.log(abs(v0)) + frac * (np.log(abs(v1)) - np.log(abs(v0)))
                )
        return out.reshape(t_in.shape)
