"""Times as a listener reads them: in their own zone, with the zone said.

Sonora stores instants in UTC.  A page or an API answer meant for a person shows them in
the listener's zone: the one they chose on a page with times (``sonora_tz``, remembered
from the therapist pages' picker), else their browser's (``sonora_browser_tz``, which
``offline.js`` sets on every page from ``Intl``), each normalised to its canonical IANA
name (:mod:`sonora.timezones`).  When neither is known yet (a first visit) pages render
UTC, say so, and ``static/localtime.js`` rewrites each ``<time datetime=...>`` into the
browser's zone with ``Intl``.  The API keeps ISO 8601 with the offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from fastapi import Request
from jinja2 import pass_context

from sonora.errors import ParameterError
from sonora.therapists.availability import normalise_timezone
from sonora.web.therapists_common import BROWSER_TZ_COOKIE, TZ_COOKIE

__all__ = ["TEMPLATE_FILTERS", "TEMPLATE_GLOBALS", "local_iso", "viewer_zone", "when_text"]

_UNSET: Any = object()


def viewer_zone(request: Request, explicit: str | None = None) -> str | None:
    """The listener's zone, canonical, or ``None`` when the server cannot know it yet.

    Parameters
    ----------
    request : Request
        Its cookies: ``sonora_tz`` (chosen), then ``sonora_browser_tz`` (the browser's).
    explicit : str, optional
        A zone the caller asked for (``?tz=``): checked, and first.

    Raises
    ------
    ParameterError
        Naming ``tz`` when ``explicit`` is not a known zone.
    """
    if explicit:
        return normalise_timezone(explicit, "tz")
    for name in (request.cookies.get(TZ_COOKIE), request.cookies.get(BROWSER_TZ_COOKIE)):
        if name:
            name = unquote(name)  # offline.js writes encodeURIComponent(zone): "Asia%2FKolkata"
            try:
                return normalise_timezone(name, "tz")
            except ParameterError:
                continue
    return None


def _instant(value: dt.datetime | str) -> dt.datetime:
    t = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)  # stored UTC, naive


def local_iso(value: dt.datetime | str, zone: str | None) -> str:
    """ISO 8601 with the zone's offset (``2026-12-07T20:00:00+05:30``); UTC without a zone.

    >>> local_iso("2026-12-07T14:30:00+00:00", "Asia/Kolkata")
    '2026-12-07T20:00:00+05:30'
    """
    return _instant(value).astimezone(ZoneInfo(zone or "UTC")).isoformat()


def when_text(value: dt.datetime | str, zone: str | None) -> str:
    """``07 Dec 2026, 14:30 GMT``: the local date and time and the zone's abbreviation.

    >>> when_text("2026-07-07T14:30:00+00:00", "Europe/London")
    '07 Jul 2026, 15:30 BST'
    >>> when_text("2026-07-07T14:30:00", None)
    '07 Jul 2026, 14:30 UTC'
    """
    try:
        t = _instant(value).astimezone(ZoneInfo(zone or "UTC"))
    except ValueError:
        return str(value)
    return f"{t:%d %b %Y, %H:%M} {t.tzname()}"


@pass_context
def _when_filter(ctx: Any, value: dt.datetime | str, zone: str | None = _UNSET) -> str:
    """``{{ t|when }}``: in the page's ``zone``, else the requester's (:func:`viewer_zone`)."""
    if zone is _UNSET:
        zone = ctx.get("zone") if "zone" in ctx else viewer_zone(ctx["request"])
    return when_text(value, zone)


@pass_context
def _times_zone(ctx: Any) -> str:
    """``{{ times_zone() }}``: the zone a page's times are in, ``""`` when UTC by default."""
    return (ctx.get("zone") if "zone" in ctx else viewer_zone(ctx["request"])) or ""


#: Jinja filters: ``{{ s.when|when }}`` (or ``|when(zone)``).
TEMPLATE_FILTERS = {"when": _when_filter}

#: Jinja globals: ``times_zone()``.
TEMPLATE_GLOBALS = {"times_zone": _times_zone}
