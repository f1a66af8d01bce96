"""Sonora's small error hierarchy.

Every error a user can cause names the field at fault and the allowed range, in the
style of ``librosa.ParameterError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class SonoraError(Exception):
    """Base class for every error Sonora raises on purpose."""


class ParameterError(SonoraError, ValueError):
    """A parameter is missing, of the wrong type, or outside its allowed range.

    Parameters
    ----------
    field : str
        Dotted name of the offending field, e.g. ``"layers[2].gain_db"``.
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class SceneNotFoundError(SonoraError, LookupError):
    """No built-in scene and no file has the given name."""


def check_number(
    field: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    unit: str = "",
) -> float:
    """Validate a finite real number inside an optional range.

    Parameters
    ----------
    field : str
        Name used in the error message.
    value : Any
        The value to check; ``bool`` is rejected, ints and floats are accepted.
    low, high : float or None
        Range limits.
    low_inclusive, high_inclusive : bool
        Whether the limits themselves are allowed.
    unit : str
        Unit appended to the range in messages, e.g. ``" s"``.

    Returns
    -------
    float
        ``value`` as a float.

    Raises
    ------
    ParameterError
        If the value is not a finite number inside the range.
    """
    rng = _describe_range(low, high, low_inclusive, high_inclusive, unit)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(field, f"expected a number {rng}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(field, f"must be a finite number {rng}, got {value!r}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        raise ParameterError(field, f"{v:g} is out of range: allowed {rng}")
    if high is not None and (v > high or (v == high and not high_inclusive)):
        raise ParameterError(field, f"{v:g} is out of range: allowed {rng}")
    return v


def check_choice(field: str, value: Any, choices: Iterable[str]) -> str:
    """Validate that ``value`` is one of ``choices``.

    Raises
    ------
    ParameterError
        Naming the field and listing the allowed values.
    """
    options = sorted(choices)
    if value not in options:
        raise ParameterError(field, f"{value!r} is not allowed; choose one of {', '.join(options)}")
    return str(value)


def _describe_range(
    low: float | None, high: float | None, lo_inc: bool, hi_inc: bool, unit: str
) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"({'>=' if lo_inc else '>'} {low:g}{unit})"
    if low is None:
        return f"({'<=' if hi_inc else '<'} {high:g}{unit})"
    left = "[" if lo_inc else "("
    right = "]" if hi_inc else ")"
    return f"in {left}{low:g}, {high:g}{right}{unit}"
