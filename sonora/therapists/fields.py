"""Form fields of the therapist directory: checks whose errors name the field and what is allowed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sonora.errors import ParameterError

__all__ = [
    "APPROACHES",
    "CONSULT_VIA",
    "POPULATIONS",
    "check_email",
    "choices_field",
    "consult_fields",
    "consult_how",
    "flag_field",
    "fold",
    "parse_date",
    "parse_instant",
    "text_field",
]


#: People a therapist works with (directory filter).
POPULATIONS = {
    "children": "Children",
    "teenagers": "Teenagers",
    "adults": "Adults",
    "older_adults": "Older adults",
    "dementia": "People living with dementia",
    "autism": "Autistic people",
    "mental_health": "Mental health",
    "neuro_rehab": "Neurological rehabilitation (stroke, brain injury)",
    "palliative": "Palliative and end-of-life care",
    "learning_disability": "People with learning disabilities",
}


#: Ways of working (directory filter).
APPROACHES = {
    "songwriting": "Songwriting",
    "improvisation": "Improvisation",
    "receptive_listening": "Receptive listening",
    "guided_imagery": "Guided imagery and music",
    "neurologic": "Neurologic techniques",
    "vocal": "Voice and singing",
    "instrumental": "Playing instruments",
    "family": "Work with families and carers",
}


def fold(text: str) -> str:
    return " ".join(str(text or "").lower().split())


def text_field(data: Mapping[str, Any], name: str, *, max_len: int, min_len: int = 0) -> str:
    v = data.get(name, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise ParameterError(name, "expected text")
    v = " ".join(v.split()) if name != "bio" and name != "reason" else v.strip()
    if len(v) < min_len:
        raise ParameterError(name, f"required: at least {min_len} character(s)")
    if len(v) > max_len:
        raise ParameterError(name, f"too long: at most {max_len} characters, got {len(v)}")
    return v


def choices_field(data: Mapping[str, Any], name: str, allowed: Mapping[str, str]) -> list[str]:
    raw = data.get(name) or []
    items = [raw] if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for i, x in enumerate(items):
        if x not in allowed:
            raise ParameterError(f"{name}[{i}]", f"{x!r} is not one of {sorted(allowed)}")
        if x not in out:
            out.append(x)
    return out


def flag_field(data: Mapping[str, Any], name: str, default: bool) -> bool:
    v = data.get(name, default)
    if isinstance(v, bool):
        return v
    if v in ("on", "true", "1", "yes"):
        return True
    if v in ("", "off", "false", "0", "no", None):
        return False
    raise ParameterError(name, f"expected true or false, got {v!r}")


_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


#: How a free consult can happen, as a therapist states it.
CONSULT_VIA = {"video": "Video call", "phone": "Phone call", "place": "In person"}


def consult_fields(data: Mapping[str, Any]) -> dict[str, str]:
    """``consult_via`` (video, phone or place) and ``consult_details`` (the video link,
    the phone arrangement, or the address), checked.

    Raises
    ------
    ParameterError
        Naming the field: an unknown way, a video link that is not ``https://``, or
        details longer than 300 characters.
    """
    via = str(data.get("consult_via") or "video")
    if via not in CONSULT_VIA:
        raise ParameterError("consult_via", f"{via!r} is not one of {sorted(CONSULT_VIA)}")
    details = text_field(data, "consult_details", max_len=300)
    if via == "video" and details and not details.lower().startswith("https://"):
        raise ParameterError("consult_details", "a video link starts with https://")
    return {"consult_via": via, "consult_details": details}


def consult_how(t: Any) -> str:
    """One line saying how a consult with this therapist happens (for invites)."""
    via = getattr(t, "consult_via", "video") or "video"
    details = getattr(t, "consult_details", "") or ""
    default = {
        "video": "the link will follow from the therapist",
        "phone": "the therapist will call the number you gave, or send theirs",
        "place": "the therapist will send the address",
    }[via]
    return f"{CONSULT_VIA[via]}: {details or default}"


def check_email(value: Any, field: str = "email") -> str:
    """Lower-cased, trimmed email address (:class:`ParameterError` naming ``field``)."""
    e = str(value or "").strip().lower()
    if len(e) > 320 or not _EMAIL_RE.match(e):
        raise ParameterError(field, f"{value!r} is not an email address such as name@example.org")
    return e


def parse_instant(text: Any, field: str = "start") -> dt.datetime:
    """An ISO 8601 time *with* an offset (``2026-03-30T08:00:00Z``), as UTC.

    Raises
    ------
    ParameterError
        Naming ``field`` for malformed or offset-less text.
    """
    s = str(text or "").strip()
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(
            field, f"{text!r} is not a time; use ISO 8601 with an offset, e.g. 2026-03-30T08:00Z"
        ) from None
    if t.tzinfo is None:
        raise ParameterError(field, f"{text!r} has no UTC offset; add one, e.g. Z or +01:00")
    return t.astimezone(dt.UTC)


def parse_date(text: Any, field: str) -> dt.date:
    """``"2026-12-24"`` → a date (:class:`ParameterError` naming ``field``)."""
    try:
        return dt.date.fromisoformat(str(text or "").strip())
    except ValueError:
        raise ParameterError(field, f"{text!r} is not a date; use YYYY-MM-DD") from None
