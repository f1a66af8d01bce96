"""Tests for sonora.care.resources: every supported country has what a crisis needs."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from sonora.care import resources
from sonora.care.errors import CareError
from sonora.care.resources import (
    FALLBACK,
    clinical_resources,
    credential_short,
    crisis_resources,
    load_resources,
    resolve_country,
    supported_countries,
)

REQUIRED = ("GB", "IE", "US", "CA", "AU", "NZ")


def test_supported_countries() -> None:
    assert set(REQUIRED) <= set(supported_countries())
    assert FALLBACK not in supported_countries()


@pytest.mark.parametrize("country", [*REQUIRED, "FR"])
def test_country_has_crisis_line_emergency_and_dates(country: str) -> None:
    table = load_resources()["countries"][resolve_country(country)]
    assert table["crisis_lines"]
    for line in table["crisis_lines"]:
        assert line["name"]
        assert line["phone"] or line["text"] or line["url"]
        assert line["url"].startswith("https://")
        assert isinstance(line["last_checked"], dt.date)
        assert line["last_checked"] == dt.date(2026, 11, 21)
    assert table["emergency_numbers"]
    assert all(n.strip() for n in table["emergency_numbers"])
    assert isinstance(table["last_checked"], dt.date)
    for body in table["credential_bodies"]:
        assert body["url"].startswith("https://")
        assert isinstance(body["last_checked"], dt.date)
    for entry in crisis_resources(country) + clinical_resources(country):
        dt.date.fromisoformat(entry["last_checked"])


@pytest.mark.parametrize(
    ("country", "phone", "emergency"),
    [
        ("GB", "116 123", ["999", "112"]),
        ("IE", "116 123", ["112", "999"]),
        ("US", "988", ["911"]),
        ("CA", "9-8-8", ["911"]),
        ("AU", "13 11 14", ["000", "112"]),
        ("NZ", "1737", ["111"]),
    ],
)
def test_numbers_from_references(country: str, phone: str, emergency: list[str]) -> None:
    out = crisis_resources(country)
    assert out[0]["kind"] == "crisis_line"
    assert out[0]["phone"] == phone
    em = next(r for r in out if r["kind"] == "emergency")
    assert em["numbers"] == emergency
    assert em["phone"] == emergency[0]


def test_nz_lines_marked_for_checking() -> None:
    lines = load_resources()["countries"]["NZ"]["crisis_lines"]
    phones = [line["phone"] for line in lines]
    assert phones == ["1737", "0800 543 354"]
    assert all("check" in line["check"].lower() for line in lines)


def test_fallback_points_to_directory_and_local_emergency() -> None:
    out = crisis_resources("FR")
    assert out[0]["country"] == FALLBACK
    assert "findahelpline.com" in out[0]["url"]
    em = next(r for r in out if r["kind"] == "emergency")
    assert "local emergency number" in em["note"]


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("GB", "HCPC"),
        ("US", "MT-BC"),
        ("CA", "MTA"),
        ("AU", "RMT"),
        ("IE", "IACAT"),
        ("NZ", "Music Therapy New Zealand"),
    ],
)
def test_credential_pointers(country: str, expected: str) -> None:
    out = clinical_resources(country)
    assert out[0]["kind"] == "doctor"
    bodies = [r for r in out if r["kind"] == "credential_body"]
    assert bodies
    assert any(expected in (b["name"] + b["credential"]) for b in bodies)
    assert out[-1]["kind"] == "crisis_line"
    assert credential_short(country)


def test_uk_points_to_hcpc_register_and_bamt() -> None:
    names = " ".join(r["name"] for r in clinical_resources("GB"))
    assert "HCPC" in names
    assert "BAMT" in names


def test_directory_follows_supported_country_lines() -> None:
    out = crisis_resources("US")
    kinds = [r["kind"] for r in out]
    assert kinds[0] == "crisis_line"
    assert kinds[-1] == "directory"


@pytest.mark.parametrize(
    ("given", "key"),
    [("GB", "GB"), ("gb", "GB"), (" us ", "US"), ("UK", "GB"), ("uk", "GB"), ("FR", FALLBACK)],
)
def test_resolve_country(given: str, key: str) -> None:
    assert resolve_country(given) == key


@pytest.mark.parametrize("bad", ["Britain", "G", "GBR", "1A", "", None, 12])
def test_resolve_country_rejects_bad_format(bad: object) -> None:
    with pytest.raises(CareError) as info:
        resolve_country(bad)
    assert info.value.field == "country"
    assert "two-letter" in str(info.value)


def test_resources_are_json_ready() -> None:
    for country in [*REQUIRED, "FR"]:
        json.dumps(crisis_resources(country))
        json.dumps(clinical_resources(country))


def test_every_entry_has_check_field() -> None:
    for country in [*REQUIRED, "FR"]:
        for entry in crisis_resources(country) + clinical_resources(country):
            assert "check" in entry
            assert {"kind", "name", "phone", "text", "url", "note", "country"} <= set(entry)


def test_validation_names_missing_fields() -> None:
    data = copy.deepcopy(load_resources())
    del data["countries"]["GB"]["emergency_numbers"]
    with pytest.raises(CareError, match=r"countries\.GB\.emergency_numbers"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["US"]["crisis_lines"][0]["last_checked"] = "soon"
    with pytest.raises(CareError, match=r"countries\.US\.crisis_lines\[0\]\.last_checked"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["AU"]["crisis_lines"] = []
    with pytest.raises(CareError, match=r"countries\.AU\.crisis_lines"):
        resources._validate(data)
