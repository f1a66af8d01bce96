"""Country help resources: crisis lines, emergency numbers, credential bodies.

The data lives in ``sonora/care/data/resources.toml`` so that a reviewer can
check every number without reading code. This module loads it once, checks
its shape, and turns it into plain JSON-ready dictionaries.

Country codes are ISO 3166-1 alpha-2 (``"GB"``, ``"US"``...), matched without
regard to case; ``"UK"`` is accepted for ``"GB"``. A well-formed code that has
no table of its own (``"FR"``) gets the ``elsewhere`` table, which points to a
directory of helplines and to local emergency numbers. A code that is not two
letters raises :class:`~sonora.care.errors.CareError`.

Examples
--------
>>> from sonora.care.resources import crisis_resources, resolve_country
>>> resolve_country("uk")
'GB'
>>> resolve_country("FR")
'elsewhere'
>>> crisis_resources("GB")[0]["name"]
'Samaritans'
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from functools import cache
from importlib import resources as _ir
from typing import Any

from sonora.care.errors import CareError

__all__ = [
    "FALLBACK",
    "clinical_resources",
    "credential_short",
    "crisis_resources",
    "load_resources",
    "resolve_country",
    "supported_countries",
]

FALLBACK = "elsewhere"
_CODE_RE = re.compile(r"^[A-Za-z]{2}$")


def _data_text(name: str) -> str:
    return _ir.files("sonora.care").joinpath("data", name).read_text(encoding="utf-8")


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise CareError(f"{where}.{key}", "missing from resources.toml")
    return table[key]


def _check_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise CareError(where, f"expected a date like 2026-11-21, got {value!r}")


def _validate(data: dict[str, Any]) -> None:
    countries = _require(data, "countries", "resources")
    if FALLBACK not in countries:
        raise CareError(f"countries.{FALLBACK}", "the fallback table is required")
    for code, table in countries.items():
        where = f"countries.{code}"
        if code != FALLBACK and not re.fullmatch(r"[A-Z]{2}", code):
            raise CareError(where, "country keys must be two upper-case letters")
        _check_date(_require(table, "last_checked", where), f"{where}.last_checked")
        numbers = _require(table, "emergency_numbers", where)
        if not numbers or not all(isinstance(n, str) and n for n in numbers):
            raise CareError(f"{where}.emergency_numbers", "need at least one number")
        _require(table, "emergency_advice", where)
        lines = _require(table, "crisis_lines", where)
        if not lines:
            raise CareError(f"{where}.crisis_lines", "need at least one crisis line")
        for i, line in enumerate(lines):
            lw = f"{where}.crisis_lines[{i}]"
            for key in ("name", "phone", "text", "url", "hours", "check"):
                _require(line, key, lw)
            if not (line["phone"] or line["text"] or line["url"]):
                raise CareError(lw, "needs a phone, text or url")
            _check_date(_require(line, "last_checked", lw), f"{lw}.last_checked")
        doctor = _require(table, "doctor", where)
        _check_date(_require(doctor, "last_checked", f"{where}.doctor"), f"{where}.doctor")
        bodies = _require(table, "credential_bodies", where)
        if not bodies:
            raise CareError(f"{where}.credential_bodies", "need at least one body")
        for i, body in enumerate(bodies):
            bw = f"{where}.credential_bodies[{i}]"
            for key in ("name", "credential", "url", "note", "check"):
                _require(body, key, bw)
            _check_date(_require(body, "last_checked", bw), f"{bw}.last_checked")


@cache
def load_resources() -> dict[str, Any]:
    """Load and validate ``resources.toml`` (cached after the first call).

    Returns
    -------
    dict
        The parsed TOML: ``{"meta": {...}, "countries": {code: table}}``.
        Treat it as read-only; it is shared between callers.

    Raises
    ------
    CareError
        If the file is missing a required field; the message names it.
    """
    data = tomllib.loads(_data_text("resources.toml"))
    _validate(data)
    return data


def supported_countries() -> tuple[str, ...]:
    """Country codes with their own table, in file order (fallback excluded).

    Returns
    -------
    tuple of str
        For example ``("GB", "IE", "US", "CA", "AU", "NZ")``.
    """
    return tuple(c for c in load_resources()["countries"] if c != FALLBACK)


def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for code, table in load_resources()["countries"].items():
        for alias in table.get("aliases", []):
            out[alias.upper()] = code
    return out


def resolve_country(country: object) -> str:
    """Map a country code to the key of its resource table.

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code, any case, surrounding spaces ignored.
        ``"UK"`` is an alias for ``"GB"``.

    Returns
    -------
    str
        A supported code such as ``"GB"``, or ``"elsewhere"`` for a
        well-formed code without its own table.

    Raises
    ------
    CareError
        If ``country`` is not a string of exactly two letters.
    """
    allowed = ", ".join(supported_countries())
    if not isinstance(country, str):
        raise CareError(
            "country",
            f"expected a two-letter ISO 3166-1 code (supported: {allowed}; any other "
            f"two-letter code gets international resources), got {type(country).__name__}",
        )
    code = country.strip()
    if not _CODE_RE.fullmatch(code):
        raise CareError(
            "country",
            f"expected a two-letter ISO 3166-1 code (supported: {allowed}; any other "
            f"two-letter code gets international resources), got {country!r}",
        )
    code = code.upper()
    code = _aliases().get(code, code)
    return code if code in load_resources()["countries"] else FALLBACK


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _table(country: str) -> tuple[str, dict[str, Any]]:
    key = resolve_country(country)
    return key, load_resources()["countries"][key]


def _emergency(key: str, table: dict[str, Any]) -> dict[str, Any]:
    numbers = list(table["emergency_numbers"])
    return {
        "kind": "emergency",
        "name": "Emergency services",
        "phone": numbers[0],
        "numbers": numbers,
        "text": "",
        "url": "",
        "note": table["emergency_advice"],
        "country": key,
        "last_checked": _iso(table["last_checked"]),
        "check": table.get("check", ""),
    }


def _crisis_line(key: str, line: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "crisis_line",
        "name": line["name"],
        "phone": line["phone"],
        "text": line["text"],
        "url": line["url"],
        "note": line["hours"],
        "country": key,
        "last_checked": _iso(line["last_checked"]),
        "check": line["check"],
    }


def crisis_resources(country: str = "GB") -> list[dict[str, Any]]:
    """Resources for a crisis result, most urgent first.

    Parameters
    ----------
    country : str, default "GB"
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.

    Returns
    -------
    list of dict
        The country's crisis lines (first line first), then its emergency
        numbers with advice, then, for supported countries, the international
        helpline directory in case the listener is travelling. Each dict has
        ``kind`` (``"crisis_line"``, ``"emergency"``), ``name``, ``phone``,
        ``text``, ``url``, ``note``, ``country``, ``last_checked`` (ISO date)
        and ``check`` (non-empty while a detail awaits confirmation).
    """
    key, table = _table(country)
    out = [_crisis_line(key, line) for line in table["crisis_lines"]]
    out.append(_emergency(key, table))
    if key != FALLBACK:
        fallback = load_resources()["countries"][FALLBACK]
        for line in fallback["crisis_lines"]:
            entry = _crisis_line(FALLBACK, line)
            entry["kind"] = "directory"
            entry["note"] = f"If you are outside {table['name']}: {line['hours']}"
            out.append(entry)
    return out


def clinical_resources(country: str = "GB") -> list[dict[str, Any]]:
    """Resources for a clinical result: a doctor, credentialed music therapists.

    Parameters
    ----------
    country : str, default "GB"
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.

    Returns
    -------
    list of dict
        A doctor pointer (``kind="doctor"``), then the country's credential
        bodies (``kind="credential_body"``, with a ``credential`` key such as
        ``"MT-BC"``), then the country's first crisis line as a safety net
        (``kind="crisis_line"``, ``note="If things ever feel unsafe"``), in
        case things feel worse later.
    """
    key, table = _table(country)
    doc = table["doctor"]
    out: list[dict[str, Any]] = [
        {
            "kind": "doctor",
            "name": doc["name"],
            "phone": doc.get("phone", ""),
            "text": "",
            "url": doc.get("url", ""),
            "note": doc.get("note", ""),
            "country": key,
            "last_checked": _iso(doc["last_checked"]),
            "check": doc.get("check", ""),
        }
    ]
    for body in table["credential_bodies"]:
        out.append(
            {
                "kind": "credential_body",
                "name": body["name"],
                "credential": body["credential"],
                "phone": "",
                "text": "",
                "url": body["url"],
                "note": body["note"],
                "country": key,
                "last_checked": _iso(body["last_checked"]),
                "check": body["check"],
            }
        )
    safety = _crisis_line(key, table["crisis_lines"][0])
    safety["note"] = "If things ever feel unsafe"
    out.append(safety)
    return out


def credential_short(country: str = "GB") -> str:
    """Short name of the music-therapy credential to look for in a country.

    Parameters
    ----------
    country : str, default "GB"
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.

    Returns
    -------
    str
        For example ``"HCPC-registered"`` (GB), ``"MT-BC"`` (US), ``"MTA"``
        (CA), ``"RMT"`` (AU); ``""`` for the fallback table.
    """
    _, table = _table(country)
    return str(table.get("credential_short", ""))
