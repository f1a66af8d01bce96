"""Free 15-minute consult slots from weekly hours, holidays and one-off hours.

A therapist's hours are wall-clock times in *their* time zone ("Mondays 09:00–12:00,
Europe/London").  Slots are made per local date and turned into UTC instants with
:mod:`zoneinfo`, so they stay at 09:00 local on either side of a daylight-saving change;
listeners see the same instants in *their* zone.

Two DST rules, stated once:

* a local time that does not exist (the hour skipped when clocks go forward) has no
  slot;
* a local time that happens twice (the hour repeated when clocks go back) gets one
  slot, at its first occurrence.

Examples
--------
>>> import datetime as dt
>>> rules = [WeeklyRule(weekday=6, start_minute=60, end_minute=150)]  # Sundays 01:00-02:30
>>> slots = day_slots(rules, [], "Europe/London", dt.date(2026, 3, 29))  # clocks go forward
>>> [s.strftime("%H:%M") for s in slots]  # 01:00-01:59 does not exist that night
['01:00', '01:15']
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sonora.errors import ParameterError
from sonora.timezones import canonical_timezone, offered_timezones

__all__ = [
    "SLOT_MINUTES",
    "Extra",
    "Holiday",
    "WeeklyRule",
    "check_timezone",
    "day_slots",
    "format_minutes",
    "group_by_local_day",
    "normalise_timezone",
    "parse_hhmm",
    "slots_between",
    "timezones",
]

#: Length of a free consult, minutes.
SLOT_MINUTES = 15
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


def timezones() -> tuple[str, ...]:
    """The IANA time zone names to offer, sorted: canonical ones only.

    ``zone.tab``'s names and ``UTC`` (:func:`sonora.timezones.offered_timezones`); the
    tz database's aliases (``Asia/Calcutta``, ``US/Pacific``) are accepted on input by
    :func:`check_timezone` and :func:`normalise_timezone`, not offered.
    """
    return offered_timezones()


def normalise_timezone(name: str, field: str = "timezone") -> str:
    """The canonical IANA name for ``name``: an alias becomes the name it stands for.

    >>> normalise_timezone("Asia/Calcutta"), normalise_timezone(" Europe/London ")
    ('Asia/Kolkata', 'Europe/London')

    Raises
    ------
    ParameterError
        Naming ``field`` for an unknown zone (with examples of valid ones).
    """
    found = canonical_timezone(str(name or ""))
    if found is None:
        raise ParameterError(
            field,
            f"{name!r} is not a known time zone; use an IANA name such as Europe/London, "
            "America/New_York or Australia/Sydney",
        )
    return found


def check_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` for an IANA name or alias (of its canonical name).

    Raises
    ------
    ParameterError
        Naming ``field`` for an unknown zone (with examples of valid ones).
    """
    text = normalise_timezone(name, field)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):  # pragma: no cover - listed but unloadable
        raise ParameterError(field, f"{name!r} is not a known time zone") from None


def parse_hhmm(text: str, field: str) -> int:
    """``"09:30"`` → 570 minutes after midnight; ``"24:00"`` is 1440.

    Raises
    ------
    ParameterError
        Naming ``field`` when it is not HH:MM from 00:00 to 24:00.
    """
    m = _HHMM.match(str(text or ""))
    if m is None:
        raise ParameterError(field, f"{text!r} is not a time; use HH:MM from 00:00 to 24:00")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi >= 60 or h > 24 or (h == 24 and mi):
        raise ParameterError(field, f"{text!r} is out of range: allowed 00:00 to 24:00")
    return h * 60 + mi


def format_minutes(minutes: int) -> str:
    """570 → ``"09:30"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_window(start: int, end: int, field: str) -> None:
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1440:
            raise ParameterError(f"{field}.{name}", f"{v!r} is out of range: 0 to 1440 minutes")
        if v % SLOT_MINUTES:
            raise ParameterError(
                f"{field}.{name}",
                f"{format_minutes(v)} is not on the quarter hour; use :00, :15, :30 or :45",
            )
    if end - start < SLOT_MINUTES:
        raise ParameterError(
            f"{field}.end",
            f"must be at least {SLOT_MINUTES} minutes after the start "
            f"({format_minutes(start)}), got {format_minutes(end)}",
        )


@dataclass(frozen=True)
class WeeklyRule:
    """Hours every week: ``weekday`` (0 = Monday … 6 = Sunday), local minutes."""

    weekday: int
    start_minute: int
    end_minute: int
    id: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or self.weekday not in range(7):
            raise ParameterError("weekday", f"{self.weekday!r} is out of range: 0 (Monday) to 6")
        _check_window(self.start_minute, self.end_minute, "hours")

    def label(self) -> str:
        """``"Monday 09:00–12:00"``."""
        return (
            f"{WEEKDAYS[self.weekday]} {format_minutes(self.start_minute)}–"
            f"{format_minutes(self.end_minute)}"
        )


@dataclass(frozen=True)
class Holiday:
    """No consults from ``start_date`` to ``end_date`` inclusive (local dates)."""

    start_date: dt.date
    end_date: dt.date
    note: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ParameterError(
                "end_date", f"{self.end_date} is before the first day off ({self.start_date})"
            )
        if (self.end_date - self.start_date).days > 366:
            raise ParameterError("end_date", "a holiday can last at most a year")

    def label(self) -> str:
        """``"Off 2026-12-24 to 2026-12-26"``."""
        if self.start_date == self.end_date:
            return f"Off {self.start_date.isoformat()}"
        return f"Off {self.start_date.isoformat()} to {self.end_date.isoformat()}"


@dataclass(frozen=True)
class Extra:
    """One-off hours on a local date (on top of, or instead of a day off)."""

    date: dt.date
    start_minute: int
    end_minute: int
    note: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        _check_window(self.start_minute, self.end_minute, "hours")

    def label(self) -> str:
        """``"Extra 2026-12-27 10:00–11:00"``."""
        return (
            f"Extra {self.date.isoformat()} {format_minutes(self.start_minute)}–"
            f"{format_minutes(self.end_minute)}"
        )


def _local_instant(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local wall-clock time, or ``None`` if it does not exist."""
    day = day + dt.timedelta(days=minute // 1440)
    minute %= 1440
    naive = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    local = naive.replace(tzinfo=tz, fold=0)  # fold=0: first occurrence of a repeated time
    utc = local.astimezone(dt.UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:  # in the spring-forward gap
        return None
    return utc


def day_slots(
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[Holiday | Extra],
    timezone: str,
    day: dt.date,
) -> list[dt.datetime]:
    """Slot starts (UTC, sorted, unique) on one local date of the therapist.

    Parameters
    ----------
    rules : sequence of WeeklyRule
    exceptions : sequence of Holiday or Extra
    timezone : str
        The therapist's IANA time zone.
    day : datetime.date
        A date in that zone.

    Returns
    -------
    list of datetime.datetime
        Timezone-aware UTC starts of 15-minute slots.
    """
    tz = check_timezone(timezone)
    off = any(isinstance(e, Holiday) and e.start_date <= day <= e.end_date for e in exceptions)
    windows = (
        [] if off else [(r.start_minute, r.end_minute) for r in rules if r.weekday == day.weekday()]
    )
    windows += [
        (e.start_minute, e.end_minute) for e in exceptions if isinstance(e, Extra) and e.date == day
    ]
    out: set[dt.datetime] = set()
    for start, end in windows:
        for m in range(start, end - SLOT_MINUTES + 1, SLOT_MINUTES):
            t = _local_instant(day, m, tz)
            if t is not None:
                out.add(t)
    return sorted(out)


def slots_between(
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[Holiday | Extra],
    timezone: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    taken: Iterable[dt.datetime] = (),
) -> list[dt.datetime]:
    """Free slot starts (UTC) with ``start <= slot < end``, leaving out ``taken`` ones."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ParameterError("start", "use timezone-aware times")
    tz = check_timezone(timezone)
    busy = {t.astimezone(dt.UTC) for t in taken}
    day = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    out: list[dt.datetime] = []
    while day <= last:
        out.extend(
            t
            for t in day_slots(rules, exceptions, timezone, day)
            if start <= t < end and t not in busy
        )
        day += dt.timedelta(days=1)
    return sorted(set(out))


def group_by_local_day(
    slots: Iterable[dt.datetime], timezone: str
) -> list[tuple[dt.date, list[tuple[dt.datetime, dt.datetime]]]]:
    """Slots grouped by the listener's local date: ``[(date, [(utc, local), ...]), ...]``."""
    tz = check_timezone(timezone, "tz")
    days: dict[dt.date, list[tuple[dt.datetime, dt.datetime]]] = {}
    for t in sorted(slots):
        local = t.astimezone(tz)
        days.setdefault(local.date(), []).append((t, local))
    return sorted(days.items())
