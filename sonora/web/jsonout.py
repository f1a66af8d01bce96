"""JSON answers of the hottest routes, rendered in one pass.

A route that returns a dict has FastAPI validate it against the ``response_model``,
serialise the model and render the result with :mod:`json`.  The hot routes (the
check-in, the history) build their answer in the documented shape already
(:mod:`sonora.web.schemas`; tests hold them to it), so they render it here with orjson
(MIT/Apache-2.0, ~5x faster than :mod:`json` on these answers) and skip the second
pass, while still declaring their ``response_model`` for the OpenAPI description
(issue #15).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["json_response"]


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """An ``application/json`` response of ``content``: compact UTF-8, as Starlette's
    ``JSONResponse`` renders it (a float that is not finite becomes ``null``).

    Parameters
    ----------
    content : JSON-ready value
        Dicts, lists, tuples, str, int, float, bool, None, datetimes (ISO 8601) and
        numpy values.
    status_code : int
        HTTP status.
    headers : mapping, optional
        More response headers.

    Returns
    -------
    starlette.responses.Response
    """
    body = orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def _default(value: Any) -> Any:
    """What orjson does not know itself: numpy scalars and arrays, sets (as lists)."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
