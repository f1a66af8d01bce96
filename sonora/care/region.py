"""The listener's region for help resources: choices, validation, and a suggestion.

Where help differs within a country (in the United Kingdom: England, Scotland, Wales
and Northern Ireland), Sonora asks the listener once, on the preferences page. The
browser's time zone and language may *suggest* an answer, shown to the listener with
a button to accept it; nothing is stored until they save. The sources behind each
region's help lines are listed in ``docs/references.md``.

Examples
--------
>>> clean_place("", "GB-NIR")
('GB', 'NIR')
>>> clean_place("uk", "scotland")
('GB', 'SCT')
>>> suggest_place("Europe/London", "en-GB")
{'country': 'GB', 'region': 'ENG', 'label': 'England (the United Kingdom)'}
>>> suggest_place("Europe/London", "fr-FR")
{'country': 'GB', 'region': '', 'label': 'the United Kingdom'}
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from sonora.care.errors import CareError
from sonora.care.resources import (
    FALLBACK,
    load_resources,
    region_choices,
    resolve_country,
    resolve_region,
)
from sonora.errors import ParameterError

__all__ = [
    "LANGUAGE_HINTS",
    "ZONE_HINTS",
    "clean_place",
    "hints_json",
    "place_label",
    "place_of",
    "region_groups",
    "suggest_place",
]

#: Time zones that point to one country (IANA name -> ISO 3166-1 alpha-2). Only a hint.
ZONE_HINTS: dict[str, str] = {
    "Europe/London": "GB",
    "Europe/Belfast": "GB",
    "Europe/Dublin": "IE",
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Phoenix": "US",
    "America/Los_Angeles": "US",
    "America/Anchorage": "US",
    "Pacific/Honolulu": "US",
    "America/Toronto": "CA",
    "America/Vancouver": "CA",
    "America/Edmonton": "CA",
    "America/Winnipeg": "CA",
    "America/Halifax": "CA",
    "America/St_Johns": "CA",
    "America/Regina": "CA",
    "Australia/Sydney": "AU",
    "Australia/Melbourne": "AU",
    "Australia/Brisbane": "AU",
    "Australia/Perth": "AU",
    "Australia/Adelaide": "AU",
    "Australia/Hobart": "AU",
    "Australia/Darwin": "AU",
    "Pacific/Auckland": "NZ",
}

#: Within a country, a language tag that points to a region (lower case; a bare
#: language matches any of its variants). Checked in order. Only a hint.
LANGUAGE_HINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "GB": (("cy", "WLS"), ("gd", "SCT"), ("en-gb", "ENG")),
}

#: A time zone that points straight to a region (country, region).
_ZONE_REGIONS: dict[str, tuple[str, str]] = {"Europe/Belfast": ("GB", "NIR")}


def _country_name(code: str) -> str:
    return str(load_resources()["countries"][code]["name"])


def suggest_place(time_zone: str | None, language: str | None) -> dict[str, str] | None:
    """What the browser's time zone and language suggest, for the listener to confirm.

    Parameters
    ----------
    time_zone : str or None
        IANA time zone reported by the browser, e.g. ``"Europe/London"``.
    language : str or None
        BCP 47 language tag reported by the browser, e.g. ``"en-GB"`` or ``"cy"``.

    Returns
    -------
    dict or None
        ``{"country", "region" ("" when only the country is suggested), "label"}``,
        or ``None`` when the time zone suggests nothing.
    """
    zone = (time_zone or "").strip()
    if zone not in _ZONE_REGIONS and zone not in ZONE_HINTS:
        zone = _zone_aliases().get(zone, zone)  # Asia/Calcutta, US/Pacific: canonical
    if zone in _ZONE_REGIONS:
        country, region = _ZONE_REGIONS[zone]
    elif zone in ZONE_HINTS:
        country, region = ZONE_HINTS[zone], ""
        lang = (language or "").strip().lower().replace("_", "-")
        for tag, code in LANGUAGE_HINTS.get(country, ()):
            if lang == tag or ("-" not in tag and lang.startswith(tag + "-")):
                region = code
                break
    else:
        return None
    name = _country_name(country)
    if region:
        rname = dict(region_choices(country))[region]
        return {"country": country, "region": region, "label": f"{rname} ({name})"}
    return {"country": country, "region": "", "label": name}


@functools.cache
def _zone_aliases() -> dict[str, str]:
    """tz aliases (``Asia/Calcutta``) -> the canonical zone a hint knows (``Asia/Kolkata``);
    a browser may report either."""
    from zoneinfo import available_timezones

    from sonora.timezones import canonical_timezone

    known = set(ZONE_HINTS) | set(_ZONE_REGIONS)
    out = {}
    for name in sorted(available_timezones() - known):
        found = canonical_timezone(name)
        if found in known:
            out[name] = found
    return out


def hints_json() -> str:
    """The suggestion rules as JSON for the preferences page's script (same rules as
    :func:`suggest_place`).

    Returns
    -------
    str
        ``{"zones": {zone: country}, "zoneRegions": {zone: [country, region]},
        "languages": {country: [[tag, region], ...]}, "names": {...}}``.
    """
    names: dict[str, str] = {}
    for code in ZONE_HINTS.values():
        names[code] = _country_name(code)
        for rcode, rname in region_choices(code):
            names[f"{code}-{rcode}"] = f"{rname} ({_country_name(code)})"
    return json.dumps(
        {
            "zones": ZONE_HINTS,
            "zoneRegions": {z: list(v) for z, v in _ZONE_REGIONS.items()},
            "languages": {c: [list(p) for p in pairs] for c, pairs in LANGUAGE_HINTS.items()},
            "names": names,
            "aliases": _zone_aliases(),
        },
        separators=(",", ":"),
    )


def region_groups() -> list[dict[str, Any]]:
    """Regions to offer in the preferences form, grouped by country.

    Returns
    -------
    list of dict
        ``[{"country": "GB", "name": "the United Kingdom", "regions": [("GB-ENG",
        "England"), ...]}]`` for every country that has regions; option values are
        ISO 3166-2-style ``COUNTRY-REGION`` codes.
    """
    out = []
    for code, table in load_resources()["countries"].items():
        if code == FALLBACK or not table.get("regions"):
            continue
        regions = [(f"{code}-{r}", name) for r, name in region_choices(code)]
        out.append({"country": code, "name": table["name"], "regions": regions})
    return out


def clean_place(country: str, region: object) -> tuple[str, str]:
    """Validate a profile's country and region together.

    Parameters
    ----------
    country : str
        The profile's two-letter country (``""`` when not given; then a region given
        as ``"GB-NIR"`` sets it).
    region : str
        ``""``, a region code of the country (``"NIR"``), an ISO 3166-2 code
        (``"GB-NIR"``) or the region's name.

    Returns
    -------
    (str, str)
        The country (upper case, as given or from the region) and the region key
        (``""`` when none).

    Raises
    ------
    ParameterError
        Naming ``region`` and the allowed values when the region is unknown or
        belongs to another country.
    """
    if region is None or region == "":
        return country, ""
    if not isinstance(region, str):
        raise ParameterError("region", f"expected a region code such as GB-NIR, got {region!r}")
    given = region.strip()
    prefix, sep, rest = given.partition("-")
    if sep and len(prefix) == 2 and prefix.isalpha() and rest:
        implied = resolve_country(prefix)
        if country and resolve_country(country) != implied:
            raise ParameterError(
                "region",
                f"{given!r} is in {_country_name(implied)}, but your country is {country}; "
                "change one of them",
            )
        country = country or implied.upper()
    if not country:
        raise ParameterError("region", "choose your country too (or a code such as GB-NIR)")
    try:
        key = resolve_region(country, given)
    except CareError as exc:
        raise ParameterError("region", exc.message) from None
    code = resolve_country(country)
    return (country.upper() if code == FALLBACK else code), key or ""


def place_label(profile: Mapping[str, Any], default_country: str = "GB") -> str:
    """Where Sonora finds help for this listener, in words (for the account page).

    Parameters
    ----------
    profile : mapping
        The listener's profile.
    default_country : str, default "GB"
        Used when the profile has no country.

    Returns
    -------
    str
        For example ``"Northern Ireland (the United Kingdom)"``, ``"the United Kingdom
        (no nation chosen)"`` or ``"FR (international help lines)"``.
    """
    country, region = place_of(profile, default_country)
    key = resolve_country(country)
    if key == FALLBACK:
        return f"{country.upper()} (international help lines)"
    name = _country_name(key)
    if region:
        return f"{dict(region_choices(key))[region]} ({name})"
    if region_choices(key):
        return f"{name} (no region chosen)"
    return name


def place_of(profile: Mapping[str, Any], default_country: str) -> tuple[str, str | None]:
    """The country and region to find help for, from a listener's profile.

    Parameters
    ----------
    profile : mapping
        The listener's profile (``country`` and ``region`` keys, either may be empty).
    default_country : str
        The server's default country, used when the profile has none.

    Returns
    -------
    (str, str or None)
        The country code and the region key (``None`` when the listener has not
        chosen one, or when it does not belong to the country in use).
    """
    country = str(profile.get("country") or default_country)
    region = profile.get("region") or None
    if region is None:
        return country, None
    try:
        return country, resolve_region(country, region)
    except CareError:
        return country, None
