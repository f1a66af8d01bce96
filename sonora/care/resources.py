"""Help resources by country and region: crisis lines, emergency numbers, doctors.

The data live in ``sonora/care/data/resources.toml`` so that a reviewer can
check every number without reading code; ``docs/references.md`` lists every
source with its address and the date it was checked. This module loads the data
once, checks its shape, and turns it into plain JSON-ready dictionaries.

Country codes are ISO 3166-1 alpha-2 (``"GB"``, ``"US"``...), matched without
regard to case; ``"UK"`` is accepted for ``"GB"``. A well-formed code that has
no table of its own (``"FR"``) gets the ``elsewhere`` table, which points to a
directory of helplines and to local emergency numbers. A code that is not two
letters raises :class:`~sonora.care.errors.CareError`.

Some countries have regions where help differs (for the United Kingdom:
``ENG``, ``SCT``, ``WLS``, ``NIR``, ISO 3166-2:GB style; ``"GB-NIR"`` and the
nation's name work too). A region's crisis lines come before the country's, and
its doctor, health line or emergency numbers replace the country's.

Every entry carries ``check``: empty when the entry was confirmed from a
primary source (then ``verified`` holds the date) or states nothing
checkable; otherwise what is still to be confirmed. Confirmed entries always
come before marked ones.

Examples
--------
>>> from sonora.care.resources import crisis_resources, resolve_country, resolve_region
>>> resolve_country("uk")
'GB'
>>> resolve_country("FR")
'elsewhere'
>>> resolve_region("GB", "gb-nir")
'NIR'
>>> crisis_resources("GB")[0]["name"]
'Samaritans'
>>> [r["name"] for r in crisis_resources("GB", region="NIR")][:2]
['Lifeline', 'Samaritans']
>>> crisis_resources("GB", region="NIR", danger_now=True)[0]["phone"]
'999'
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from functools import cache
from importlib import resources as _ir
from typing import Any
from urllib.parse import urlsplit

from sonora.care.errors import CareError

__all__ = [
    "FALLBACK",
    "clinical_resources",
    "credential_short",
    "crisis_resources",
    "is_marked",
    "load_resources",
    "region_choices",
    "resolve_country",
    "resolve_region",
    "supported_countries",
]

FALLBACK = "elsewhere"
_CODE_RE = re.compile(r"^[A-Za-z]{2}$")
_REGION_KEY_RE = re.compile(r"^[A-Z]{2,3}$")
#: Keys every fact-bearing entry carries.
_ENTRY_KEYS = ("name", "url", "check", "last_checked")


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
    raise CareError(where, f"expected a date like 2026-12-06, got {value!r}")


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _validate_entry(entry: dict[str, Any], where: str, *, keys: tuple[str, ...] = ()) -> None:
    """Check one fact-bearing entry: required keys, dates, and the marking rules."""
    for key in _ENTRY_KEYS + keys:
        _require(entry, key, where)
    _check_date(entry["last_checked"], f"{where}.last_checked")
    check = entry["check"]
    if not isinstance(check, str):
        raise CareError(f"{where}.check", "expected a string ('' when confirmed)")
    states_fact = bool(entry.get("phone") or entry.get("text") or entry.get("url"))
    if "verified" in entry:
        _check_date(entry["verified"], f"{where}.verified")
        if check:
            raise CareError(f"{where}.check", "a verified entry has nothing left to check")
    if ("verified" in entry or check) and states_fact:
        sources = _require(entry, "source_url", where)
        if not sources or not all(isinstance(u, str) and u.startswith("http") for u in sources):
            raise CareError(f"{where}.source_url", "list the page(s) the entry was checked against")
        _require(entry, "ref", where)
    if states_fact and "verified" not in entry and not check:
        raise CareError(
            f"{where}.check", "an entry with a number or address is either verified or marked"
        )
    if check and not (entry["name"] and str(entry["url"]).startswith("https://")):
        raise CareError(f"{where}.url", "a marked entry must show its name and web address")
    if "verified" in entry and entry["url"]:
        hosts = {_host(u) for u in entry["source_url"]}
        if _host(entry["url"]) not in hosts:
            raise CareError(
                f"{where}.url",
                "a verified entry's address must be on a site it was checked against",
            )


def _validate_part(table: dict[str, Any], where: str, *, country: bool) -> None:
    """Check a country table (``country=True``) or a region table."""
    if country or "emergency" in table:
        em = _require(table, "emergency", where)
        ew = f"{where}.emergency"
        numbers = _require(em, "numbers", ew)
        if not numbers or not all(isinstance(n, str) and n.strip() for n in numbers):
            raise CareError(f"{ew}.numbers", "need at least one number")
        _require(em, "advice", ew)
        _validate_entry({"name": "Emergency services", "url": "", **em}, ew)
    if country or "crisis_lines" in table:
        lines = _require(table, "crisis_lines", where)
        if country and not lines:
            raise CareError(f"{where}.crisis_lines", "need at least one crisis line")
        for i, line in enumerate(lines):
            lw = f"{where}.crisis_lines[{i}]"
            _validate_entry(line, lw, keys=("phone", "text", "hours"))
            if not (line["phone"] or line["text"] or line["url"]):
                raise CareError(lw, "needs a phone, text or url")
    if country or "doctor" in table:
        doctor = _require(table, "doctor", where)
        _validate_entry(doctor, f"{where}.doctor", keys=("note",))
    if "health_line" in table:
        _validate_entry(table["health_line"], f"{where}.health_line", keys=("phone", "note"))
    if country:
        bodies = _require(table, "credential_bodies", where)
        if not bodies:
            raise CareError(f"{where}.credential_bodies", "need at least one body")
        for i, body in enumerate(bodies):
            _validate_entry(body, f"{where}.credential_bodies[{i}]", keys=("credential", "note"))


def _validate(data: dict[str, Any]) -> None:
    countries = _require(data, "countries", "resources")
    if FALLBACK not in countries:
        raise CareError(f"countries.{FALLBACK}", "the fallback table is required")
    for code, table in countries.items():
        where = f"countries.{code}"
        if code != FALLBACK and not re.fullmatch(r"[A-Z]{2}", code):
            raise CareError(where, "country keys must be two upper-case letters")
        _check_date(_require(table, "last_checked", where), f"{where}.last_checked")
        _validate_part(table, where, country=True)
        for rcode, region in table.get("regions", {}).items():
            rwhere = f"{where}.regions.{rcode}"
            if not _REGION_KEY_RE.fullmatch(rcode):
                raise CareError(rwhere, "region keys must be two or three upper-case letters")
            _require(region, "name", rwhere)
            _validate_part(region, rwhere, country=False)


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
        If the file is missing a required field or breaks a marking rule; the
        message names the field.
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


def region_choices(country: str) -> list[tuple[str, str]]:
    """The regions of a country, as ``(code, name)`` pairs in file order.

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.

    Returns
    -------
    list of (str, str)
        For GB ``[("ENG", "England"), ("SCT", "Scotland"), ("WLS", "Wales"),
        ("NIR", "Northern Ireland")]``; empty for a country without regions.
    """
    key = resolve_country(country)
    regions = load_resources()["countries"][key].get("regions", {})
    return [(code, str(r["name"])) for code, r in regions.items()]


def resolve_region(country: str, region: object) -> str | None:
    """Map a region given by a listener to the key of its resource table.

    Parameters
    ----------
    country : str
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.
    region : str or None
        A region code (``"NIR"``), an ISO 3166-2 code (``"GB-NIR"``) or a
        region's name (``"Northern Ireland"``), any case, surrounding spaces
        ignored. ``None`` or ``""`` means "not given".

    Returns
    -------
    str or None
        The region key (``"NIR"``), or ``None`` when no region was given.

    Raises
    ------
    CareError
        Naming ``region`` and the allowed values when the country has no such
        region (or no regions at all), or ``country`` when the country code is
        malformed.
    """
    key = resolve_country(country)
    if region is None:
        return None
    if not isinstance(region, str):
        raise CareError("region", f"expected a region code, got {type(region).__name__}")
    given = " ".join(region.split()).upper()
    if not given:
        return None
    regions = load_resources()["countries"][key].get("regions", {})
    for code, table in regions.items():
        names = {code, f"{key}-{code}", str(table["name"]).upper()}
        names |= {str(a).upper() for a in table.get("aliases", [])}
        if given in names:
            return code
    if not regions:
        where = "elsewhere" if key == FALLBACK else key
        raise CareError(
            "region",
            f"{where} has no regions in Sonora's help data; leave it empty, got {region!r}",
        )
    allowed = ", ".join(f"{code} ({r['name']})" for code, r in regions.items())
    raise CareError("region", f"expected one of {allowed} for {key}, or nothing; got {region!r}")


def is_marked(entry: dict[str, Any]) -> bool:
    """Whether an entry still awaits confirmation (a non-empty ``check``).

    Parameters
    ----------
    entry : dict
        A resource from :func:`crisis_resources` or :func:`clinical_resources`.

    Returns
    -------
    bool
    """
    return bool(entry.get("check"))


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _tables(country: str, region: object) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
    key = resolve_country(country)
    rkey = resolve_region(country, region)
    table = load_resources()["countries"][key]
    part = table.get("regions", {}).get(rkey, {}) if rkey else {}
    return key, rkey, table, part


def _common(entry: dict[str, Any], key: str, rkey: str | None) -> dict[str, Any]:
    return {
        "country": key,
        "region": rkey or "",
        "last_checked": _iso(entry["last_checked"]),
        "verified": _iso(entry["verified"]) if "verified" in entry else "",
        "ref": entry.get("ref", ""),
        "check": entry.get("check", ""),
    }


def _emergency(key: str, rkey: str | None, table: dict[str, Any], part: dict[str, Any]) -> dict:
    em = part.get("emergency", table["emergency"])
    numbers = list(em["numbers"])
    return {
        "kind": "emergency",
        "name": "Emergency services",
        "phone": numbers[0],
        "numbers": numbers,
        "text": "",
        "url": "",
        "note": em["advice"],
        **_common(em, key, rkey),
    }


def _crisis_line(key: str, rkey: str | None, line: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "crisis_line",
        "name": line["name"],
        "phone": line["phone"],
        "text": line["text"],
        "url": line["url"],
        "note": line["hours"],
        **_common(line, key, rkey),
    }


def _pointer(kind: str, key: str, rkey: str | None, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": entry["name"],
        "phone": entry.get("phone", ""),
        "text": "",
        "url": entry.get("url", ""),
        "note": entry.get("note", ""),
        **_common(entry, key, rkey),
    }


def _lines(key: str, rkey: str | None, table: dict[str, Any], part: dict[str, Any]) -> list:
    """Region lines, country lines, then region lines marked ``after_country``;
    confirmed before marked (stable)."""
    region_lines = part.get("crisis_lines", [])
    out = [_crisis_line(key, rkey, x) for x in region_lines if not x.get("after_country")]
    out += [_crisis_line(key, rkey, line) for line in table["crisis_lines"]]
    out += [_crisis_line(key, rkey, x) for x in region_lines if x.get("after_country")]
    return sorted(out, key=is_marked)


def crisis_resources(
    country: str = "GB", *, region: str | None = None, danger_now: bool = False
) -> list[dict[str, Any]]:
    """Resources for a crisis result, most urgent first.

    Parameters
    ----------
    country : str, default "GB"
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.
    region : str, optional
        The listener's region within the country; see :func:`resolve_region`.
        Its crisis lines come first and its urgent health line replaces the
        country's.
    danger_now : bool, default False
        True when the listener may be in danger right now: the emergency
        numbers come first, then the crisis lines.

    Returns
    -------
    list of dict
        The crisis lines (region's first; confirmed lines before marked ones)
        and the emergency numbers with advice (first when ``danger_now``),
        then the urgent health line where there is one
        (``kind="health_line"``), then, for supported countries, the
        international helpline directory in case the listener is travelling
        (``kind="directory"``). Each dict has ``kind``, ``name``, ``phone``,
        ``text``, ``url``, ``note``, ``country``, ``region`` (``""`` when none),
        ``last_checked`` and ``verified`` (ISO dates, ``verified`` ``""`` when
        not confirmed), ``ref`` (its entry in ``docs/references.md``, which
        gives the source's address) and ``check`` (non-empty while a detail awaits
        confirmation). The emergency entry also has ``numbers``.

    Raises
    ------
    CareError
        For a malformed country code or an unknown region (naming the field
        and the allowed values).
    """
    key, rkey, table, part = _tables(country, region)
    lines = _lines(key, rkey, table, part)
    emergency = _emergency(key, rkey, table, part)
    out = [emergency, *lines] if danger_now else [*lines, emergency]
    health = part.get("health_line", table.get("health_line"))
    listed = {line["phone"] for line in lines if line["phone"]}
    if health is not None and not (health.get("phone") and health["phone"] in listed):
        out.append(_pointer("health_line", key, rkey, health))
    if key != FALLBACK:
        fallback = load_resources()["countries"][FALLBACK]
        for line in fallback["crisis_lines"]:
            entry = _crisis_line(FALLBACK, None, line)
            entry["kind"] = "directory"
            entry["note"] = f"If you are outside {table['name']}: {line['hours']}"
            out.append(entry)
    return out


def clinical_resources(country: str = "GB", *, region: str | None = None) -> list[dict[str, Any]]:
    """Resources for a clinical result: a doctor, credentialed music therapists.

    Parameters
    ----------
    country : str, default "GB"
        ISO 3166-1 alpha-2 code; see :func:`resolve_country`.
    region : str, optional
        The listener's region within the country; see :func:`resolve_region`.

    Returns
    -------
    list of dict
        A doctor pointer (``kind="doctor"``), the health advice line where
        there is one (``kind="health_line"``), then the country's credential
        bodies (``kind="credential_body"``, with a ``credential`` key such as
        ``"MT-BC"``; confirmed before marked), then the first crisis line as a
        safety net (``kind="crisis_line"``, ``note="If things ever feel
        unsafe"``). Keys as in :func:`crisis_resources`.

    Raises
    ------
    CareError
        For a malformed country code or an unknown region.
    """
    key, rkey, table, part = _tables(country, region)
    out: list[dict[str, Any]] = [_pointer("doctor", key, rkey, part.get("doctor", table["doctor"]))]
    health = part.get("health_line", table.get("health_line"))
    if health is not None:
        out.append(_pointer("health_line", key, rkey, health))
    bodies = []
    for body in table["credential_bodies"]:
        entry = _pointer("credential_body", key, rkey, body)
        entry["credential"] = body["credential"]
        bodies.append(entry)
    out += sorted(bodies, key=is_marked)
    safety = _lines(key, rkey, table, part)[0]
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
        (CA), ``"RMT"`` (AU), ``"NZ RMTh"`` (NZ); ``""`` for the fallback table.
    """
    key = resolve_country(country)
    return str(load_resources()["countries"][key].get("credential_short", ""))
