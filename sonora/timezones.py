"""IANA time zone names as people should see them: canonical names, aliases mapped.

The tz database keeps old and alternative names as links (its ``backward`` file):
``Asia/Calcutta`` for ``Asia/Kolkata``, ``Africa/Asmera`` for ``Africa/Asmara``,
``US/Pacific`` for ``America/Los_Angeles``.  :func:`zoneinfo.available_timezones` lists
them all (597 names), so a picker built on it offers each place two or three times
under names the tz project itself calls obsolete, and a browser that reports
``Asia/Calcutta`` stores that.

The names offered here are the ones of ``zone.tab`` in the ``tzdata`` package (one
line per country and zone, the list tzselect and most pickers use: 418 names) and
``UTC``.  Any other name the tz data knows is normalised on input: a link is followed
to its target (``tzdata.zi``'s ``L TARGET ALIAS`` lines); when several offered names
share that target, the one spelt like the alias wins (``Africa/Asmera`` → ``Africa/Asmara``,
not ``Africa/Nairobi``), else the target itself; eight aliases whose target lies in
another country take the name the ``backward`` file prefers (``Iceland`` →
``Atlantic/Reykjavik``, not ``Africa/Abidjan``).  The ``Etc/GMT±N`` fixed offsets stay
accepted as they are (they are zones, not aliases) but are not offered; ``GMT``,
``Etc/UTC``, ``Zulu`` and friends become ``UTC``.

>>> canonical_timezone("Asia/Calcutta"), canonical_timezone("US/Pacific")
('Asia/Kolkata', 'America/Los_Angeles')
>>> canonical_timezone("Africa/Asmera"), canonical_timezone("Europe/Kiev")
('Africa/Asmara', 'Europe/Kyiv')
>>> canonical_timezone("Europe/Amsterdam"), canonical_timezone("Etc/UTC")
('Europe/Amsterdam', 'UTC')
>>> canonical_timezone("Mars/Base") is None
True
"""

from __future__ import annotations

import difflib
import functools
from importlib import resources as _ir
from zoneinfo import available_timezones

__all__ = ["canonical_timezone", "offered_timezones"]

_UTC_NAMES = frozenset(
    {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "Etc/GMT+0", "Etc/GMT-0"}
    | {"Etc/GMT0", "Etc/Greenwich", "GMT", "GMT+0", "GMT-0", "GMT0", "Greenwich", "UCT"}
    | {"Universal", "Zulu", "UTC"}
)

#: Aliases whose link target is in another country, to the name the tz ``backward``
#: file gives after ``#=`` (what a build with ``backzone`` links them to); ``tzdata.zi``
#: drops those comments.
_BACKWARD_PREFERRED = {
    "Iceland": "Atlantic/Reykjavik",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Yap": "Pacific/Chuuk",
    "Atlantic/Jan_Mayen": "Arctic/Longyearbyen",
    "America/Coral_Harbour": "America/Atikokan",
    "Africa/Timbuktu": "Africa/Bamako",
    "America/Virgin": "America/St_Thomas",
    "Antarctica/South_Pole": "Antarctica/McMurdo",
}


def _tzdata_text(name: str) -> str:
    return _ir.files("tzdata").joinpath("zoneinfo", name).read_text("utf-8")


@functools.cache
def _links() -> dict[str, str]:
    """Alias -> target, from ``tzdata.zi`` (links are already followed to a zone)."""
    out: dict[str, str] = {}
    for line in _tzdata_text("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()[:3]
            out[alias] = target
    return out


@functools.cache
def offered_timezones() -> tuple[str, ...]:
    """The canonical names to offer, sorted: ``zone.tab``'s zones and ``UTC``.

    Returns
    -------
    tuple of str
        About 419 IANA names (``Africa/Abidjan`` ... ``UTC``).
    """
    names = {"UTC"}
    for line in _tzdata_text("zone.tab").splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("\t")[2].strip())
    return tuple(sorted(names & available_timezones() | {"UTC"}))


@functools.cache
def canonical_timezone(name: str) -> str | None:
    """The canonical name for an IANA zone or alias, or ``None`` if unknown.

    Parameters
    ----------
    name : str
        A name as given (a browser's ``Intl`` zone, a form, a query string).

    Returns
    -------
    str or None
        One of :func:`offered_timezones`, an ``Etc/GMT±N`` fixed offset, or ``None``
        for a name the tz data does not know (or ``localtime``, ``Factory``).
    """
    text = str(name or "").strip()
    offered = frozenset(offered_timezones())
    if text in offered:
        return text
    if len(text) > 64 or text not in available_timezones():
        return None
    if text in _UTC_NAMES:
        return "UTC"
    if _BACKWARD_PREFERRED.get(text) in offered:
        return _BACKWARD_PREFERRED[text]
    links = _links()
    target = links.get(text, text)
    if target in _UTC_NAMES:
        return "UTC"
    if target.startswith("Etc/GMT"):
        return target
    same = sorted(z for z in offered if links.get(z, z) == target)
    last = text.rsplit("/", 1)[-1]
    close = difflib.get_close_matches(last, [z.rsplit("/", 1)[-1] for z in same], n=1, cutoff=0.7)
    if close:
        return next(z for z in same if z.rsplit("/", 1)[-1] == close[0])
    if target in offered:
        return target
    return same[0] if same else None
