"""Tests for sonora.care.resources: every country and region has what a crisis needs.

The checks read the data (``resources.toml``): an entry that was confirmed from a
primary source carries a ``verified`` date and its ``source_url``; anything else
that states a number or an address carries a ``check`` note. No list of numbers
is written here except where a test names the fact it is about.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sonora.care import resources
from sonora.care.errors import CareError
from sonora.care.resources import (
    FALLBACK,
    clinical_resources,
    credential_short,
    crisis_resources,
    load_resources,
    region_choices,
    resolve_country,
    resolve_region,
    supported_countries,
)
from sonora.cli.care import triage_command

REQUIRED = ("GB", "IE", "US", "CA", "AU", "NZ")
REFERENCES_MD = Path(__file__).resolve().parents[2] / "docs" / "references.md"
#: What a listener reads of an entry.
SHOWN = ("name", "phone", "text", "url", "note", "check")


def _places() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [(c, None) for c in supported_countries()]
    out.append(("FR", None))
    for c in supported_countries():
        out += [(c, code) for code, _ in region_choices(c)]
    return out


PLACES = _places()


def _entries(table: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every fact-bearing entry of a country or region table."""
    if "emergency" in table:
        yield f"{where}.emergency", table["emergency"]
    for i, line in enumerate(table.get("crisis_lines", [])):
        yield f"{where}.crisis_lines[{i}]", line
    for key in ("doctor", "health_line"):
        if key in table:
            yield f"{where}.{key}", table[key]
    for i, body in enumerate(table.get("credential_bodies", [])):
        yield f"{where}.credential_bodies[{i}]", body


def _all_entries() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for code, table in load_resources()["countries"].items():
        out += list(_entries(table, code))
        for rcode, region in table.get("regions", {}).items():
            out += list(_entries(region, f"{code}.{rcode}"))
    return out


def _shown_text(entries: list[dict[str, Any]]) -> str:
    return " ".join(str(e.get(k, "")) for e in entries for k in SHOWN)


# ---------------------------------------------------------------------------
# every country and region


def test_supported_countries_and_uk_nations() -> None:
    assert set(REQUIRED) <= set(supported_countries())
    assert FALLBACK not in supported_countries()
    assert {code for code, _ in region_choices("GB")} >= {"ENG", "SCT", "WLS", "NIR"}


@pytest.mark.parametrize(("country", "region"), PLACES)
def test_every_place_has_emergency_verified_crisis_line_and_doctor(
    country: str, region: str | None
) -> None:
    crisis = crisis_resources(country, region=region)
    emergency = [r for r in crisis if r["kind"] == "emergency"]
    assert len(emergency) == 1
    assert emergency[0]["numbers"] and all(n.strip() for n in emergency[0]["numbers"])
    assert emergency[0]["phone"] == emergency[0]["numbers"][0]
    lines = [r for r in crisis if r["kind"] == "crisis_line"]
    verified = [r for r in lines if r["verified"]]
    assert verified, "at least one crisis line confirmed from a primary source"
    for line in verified:
        dt.date.fromisoformat(line["verified"])
        assert line["ref"]
    clinical = clinical_resources(country, region=region)
    assert clinical[0]["kind"] == "doctor" and clinical[0]["name"]
    for entry in crisis + clinical:
        dt.date.fromisoformat(entry["last_checked"])
        if entry["kind"] != "directory":
            assert entry["region"] == (region or "")


@pytest.mark.parametrize(("country", "region"), PLACES)
def test_no_marked_entry_is_shown_first(country: str, region: str | None) -> None:
    for out in (
        crisis_resources(country, region=region),
        crisis_resources(country, region=region, danger_now=True),
        clinical_resources(country, region=region),
    ):
        first = out[0]
        assert first["check"] == "", first
        # a first entry with a number or address was confirmed
        if first["phone"] or first["text"] or first["url"]:
            assert first["verified"], first
        # and within each kind, confirmed entries come before marked ones
        for kind in ("crisis_line", "credential_body"):
            marks = [bool(r["check"]) for r in out if r["kind"] == kind]
            assert marks == sorted(marks), (kind, marks)


@pytest.mark.parametrize(("country", "region"), PLACES)
def test_marked_entries_show_name_and_web_address(country: str, region: str | None) -> None:
    out = crisis_resources(country, region=region) + clinical_resources(country, region=region)
    for entry in out:
        if entry["check"]:
            assert entry["name"]
            assert entry["url"].startswith("https://"), entry


@pytest.mark.parametrize(("country", "region"), PLACES)
def test_danger_now_puts_the_emergency_number_first(country: str, region: str | None) -> None:
    calm = crisis_resources(country, region=region)
    danger = crisis_resources(country, region=region, danger_now=True)
    assert danger[0]["kind"] == "emergency"
    assert danger[1]["kind"] == "crisis_line"
    assert calm[0]["kind"] == "crisis_line"
    lines = [r["name"] for r in calm if r["kind"] == "crisis_line"]
    assert [r["name"] for r in danger if r["kind"] == "crisis_line"] == lines
    assert sorted(json.dumps(r, sort_keys=True) for r in calm) == sorted(
        json.dumps(r, sort_keys=True) for r in danger
    )


# ---------------------------------------------------------------------------
# the data and its marks


def test_every_entry_is_verified_or_marked() -> None:
    entries = _all_entries()
    assert len(entries) > 30
    for where, entry in entries:
        states_fact = bool(entry.get("phone") or entry.get("text") or entry.get("url"))
        if "emergency" in where:
            states_fact = True
        if "verified" in entry:
            assert entry["check"] == "", where
            assert isinstance(entry["verified"], dt.date), where
            assert entry["source_url"], where
        elif states_fact:
            assert entry["check"].strip(), f"{where}: unconfirmed but not marked"
            assert entry["source_url"] is not None, where


def test_no_check_note_left_on_a_confirmed_row() -> None:
    confirmed = [
        (w, e) for w, e in _all_entries() if str(e.get("verdict", "")).startswith("confirmed")
    ]
    assert len(confirmed) >= 15
    for where, entry in confirmed:
        assert entry["check"] == "", where
        assert "verified" in entry, where


def test_verified_addresses_are_on_a_checked_site() -> None:
    for where, entry in _all_entries():
        if "verified" in entry and entry.get("url"):
            hosts = {re.sub(r"^www\.", "", u.split("/")[2]) for u in entry["source_url"]}
            assert re.sub(r"^www\.", "", entry["url"].split("/")[2]) in hosts, where


def test_every_source_is_listed_in_docs_references() -> None:
    text = REFERENCES_MD.read_text(encoding="utf-8")
    for where, entry in _all_entries():
        if "ref" in entry:
            assert f"`{entry['ref']}`" in text, f"{where}: ref {entry['ref']} not in docs"
            for url in entry.get("source_url", []):
                assert url in text, f"{where}: {url} not in docs/references.md"


def test_validation_enforces_the_marking_rules() -> None:
    data = copy.deepcopy(load_resources())
    data["countries"]["GB"]["crisis_lines"][0]["check"] = "still to confirm"
    with pytest.raises(CareError, match=r"countries\.GB\.crisis_lines\[0\]\.check"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    line = data["countries"]["IE"]["crisis_lines"][0]
    del line["verified"]
    with pytest.raises(CareError, match=r"countries\.IE\.crisis_lines\[0\]\.check"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    marked = next(e for _, e in _entries(data["countries"]["AU"], "AU") if e.get("check"))
    marked["url"] = ""
    with pytest.raises(CareError, match=r"\.url"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["US"]["crisis_lines"][0]["url"] = "https://example.org"
    with pytest.raises(CareError, match=r"countries\.US\.crisis_lines\[0\]\.url"):
        resources._validate(data)


def test_validation_names_missing_fields() -> None:
    data = copy.deepcopy(load_resources())
    del data["countries"]["GB"]["emergency"]["numbers"]
    with pytest.raises(CareError, match=r"countries\.GB\.emergency\.numbers"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["US"]["crisis_lines"][0]["last_checked"] = "soon"
    with pytest.raises(CareError, match=r"countries\.US\.crisis_lines\[0\]\.last_checked"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["AU"]["crisis_lines"] = []
    with pytest.raises(CareError, match=r"countries\.AU\.crisis_lines"):
        resources._validate(data)

    data = copy.deepcopy(load_resources())
    data["countries"]["GB"]["regions"]["nir"] = data["countries"]["GB"]["regions"].pop("NIR")
    with pytest.raises(CareError, match=r"countries\.GB\.regions\.nir"):
        resources._validate(data)


# ---------------------------------------------------------------------------
# the United Kingdom's nations


def test_northern_ireland_never_mentions_111() -> None:
    outs = [
        crisis_resources("GB", region="NIR"),
        crisis_resources("GB", region="GB-NIR", danger_now=True),
        clinical_resources("GB", region="Northern Ireland"),
    ]
    for out in outs:
        assert "111" not in json.dumps(out)
    crisis = outs[0]
    assert crisis[0]["name"] == "Lifeline" and crisis[0]["phone"] == "0808 808 8000"
    assert crisis[0]["verified"]
    danger = outs[1]
    assert danger[0]["numbers"][0] == "999" and danger[1]["name"] == "Lifeline"
    text = _shown_text(outs[2])
    assert "Out-of-Hours" in text


def test_scotland_shows_nhs_24_and_wales_press_2() -> None:
    for out in (crisis_resources("GB", region="SCT"), clinical_resources("GB", region="SCT")):
        assert "NHS 24" in _shown_text(out)
        assert "nhs.uk" not in _shown_text(out)
    wales = _shown_text(crisis_resources("GB", region="WLS"))
    assert "press 2" in wales
    england = _shown_text(clinical_resources("GB", region="ENG"))
    assert "NHS 111" in england and "NHS 24" not in england


def test_uk_without_a_region_names_no_111_line() -> None:
    out = crisis_resources("GB") + clinical_resources("GB")
    assert "111" not in _shown_text(out)
    assert "where you live" in clinical_resources("GB")[0]["note"]


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("NIR", "NIR"),
        ("nir", "NIR"),
        ("GB-NIR", "NIR"),
        (" gb-sct ", "SCT"),
        ("Northern  Ireland", "NIR"),
        ("wales", "WLS"),
        ("ENG", "ENG"),
        (None, None),
        ("", None),
    ],
)
def test_resolve_region(given: str | None, key: str | None) -> None:
    assert resolve_region("GB", given) == key
    assert resolve_region("uk", given) == key


@pytest.mark.parametrize(("country", "bad"), [("GB", "XX"), ("GB", "GB-XYZ"), ("GB", "Kent")])
def test_unknown_region_names_field_and_allowed_values(country: str, bad: str) -> None:
    with pytest.raises(CareError) as info:
        resolve_region(country, bad)
    assert info.value.field == "region"
    for code, name in region_choices(country):
        assert code in str(info.value) and name in str(info.value)
    with pytest.raises(CareError, match="region"):
        crisis_resources(country, region=bad)
    with pytest.raises(CareError, match="region"):
        clinical_resources(country, region=bad)


@pytest.mark.parametrize("country", ["IE", "US", "FR"])
def test_region_for_a_country_without_regions_is_refused(country: str) -> None:
    assert resolve_region(country, None) is None
    with pytest.raises(CareError) as info:
        resolve_region(country, "NIR")
    assert info.value.field == "region"
    assert "no regions" in str(info.value)


# ---------------------------------------------------------------------------
# countries


def test_checked_facts_applied() -> None:
    ie = [r["name"] for r in crisis_resources("IE") if r["kind"] == "crisis_line"]
    assert "Pieta" in ie
    pieta = next(r for r in crisis_resources("IE") if r["name"] == "Pieta")
    assert pieta["check"] and pieta["url"].startswith("https://")
    au = [r for r in clinical_resources("AU") if r["kind"] == "health_line"]
    assert au and "1800MEDICARE" in au[0]["name"] and au[0]["check"]
    assert "healthdirect" not in au[0]["name"].lower()
    nz = " ".join(r.get("credential", "") for r in clinical_resources("NZ"))
    assert "NZ RMTh" in nz and "NZRMTh" not in nz
    assert credential_short("NZ") == "NZ RMTh"


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
        ("NZ", "Registration Board"),
    ],
)
def test_credential_pointers(country: str, expected: str) -> None:
    out = clinical_resources(country)
    assert out[0]["kind"] == "doctor"
    bodies = [r for r in out if r["kind"] == "credential_body"]
    assert any(expected in (b["name"] + b["credential"]) for b in bodies)
    assert out[-1]["kind"] == "crisis_line" and out[-1]["note"] == "If things ever feel unsafe"
    assert credential_short(country)


def test_directory_follows_supported_country_lines() -> None:
    kinds = [r["kind"] for r in crisis_resources("US")]
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


def test_resources_are_json_ready_with_the_same_keys() -> None:
    keys = {"kind", "name", "phone", "text", "url", "note", "country", "region", "check"}
    keys |= {"last_checked", "verified", "ref"}
    for country, region in PLACES:
        for entry in crisis_resources(country, region=region) + clinical_resources(
            country, region=region
        ):
            assert keys <= set(entry)
        json.dumps(crisis_resources(country, region=region))


# ---------------------------------------------------------------------------
# the CLI


@pytest.fixture(scope="module")
def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.command("triage")(triage_command)

    @app.callback()
    def _root() -> None:
        """Test app."""

    return app


def test_cli_unknown_region_names_field_and_allowed_values(cli_app: typer.Typer) -> None:
    res = CliRunner().invoke(cli_app, ["triage", "hello", "--country", "GB", "--region", "XX"])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "--region" in out and "NIR (Northern Ireland)" in out and "'XX'" in out


def test_cli_northern_ireland_crisis_puts_lifeline_first_and_never_111(
    cli_app: typer.Typer,
) -> None:
    runner = CliRunner()
    args = ["triage", "I can't go on", "--country", "GB", "--region", "NIR", "--json"]
    res = runner.invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["level"] == "crisis"
    assert data["resources"][0]["name"] == "Lifeline"
    em = next(r for r in data["resources"] if r["kind"] == "emergency")
    assert em["numbers"] == ["999"]
    assert "111" not in res.output

    res = runner.invoke(cli_app, ["triage", "I can't go on", "--country", "GB", "--region", "SCT"])
    assert res.exit_code == 0, res.output
    assert "NHS 24" in res.output
