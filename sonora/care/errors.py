"""Errors raised by :mod:`sonora.care`.

:class:`CareError` is Sonora's :class:`~sonora.errors.ParameterError` for the
care package: it names the field that was wrong and what would have been
accepted, and is a :class:`ValueError`, so callers that only know the
standard library still catch it.
"""

from __future__ import annotations

from sonora.errors import ParameterError

__all__ = ["CareError"]


class CareError(ParameterError):
    """Bad input to a care function.

    The message always names the offending field and the allowed values,
    for example ``"country: expected a two-letter ISO 3166-1 code ..., got
    'Britain'"``.

    Parameters
    ----------
    field : str
        Name of the argument or data field that was wrong.
    message : str
        What was expected and what was received.
    """
