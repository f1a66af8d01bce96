"""The listener's region in the app: asked once, suggested never silently, used by care.

The real app with a real SQLite database (``TestClient``); the check-in notes go
through the real triage (rules and the bundled sentence model).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import web_settings

from sonora.care.region import clean_place, place_of, region_groups, suggest_place
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.web import create_app


def _settings(tmp_path: Path, **over: Any) -> Settings:
    return web_settings(tmp_path, **{"triage_notes": True, **over})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path))) as c:
        yield c


def _guest(c: TestClient) -> None:
    r = c.post("/api/guest", json={})
    assert r.status_code == 201, r.text


def _csrf(c: TestClient, page: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get(page).text)
    assert m, f"no CSRF field on {page}"
    return m.group(1)


def _onboard(c: TestClient, **fields: str) -> Any:
    data = {"csrf_token": _csrf(c, "/onboarding"), "default_goal": "unwind", **fields}
    return c.post("/onboarding", data=data, follow_redirects=False)


def _care_section(page: str) -> str:
    m = re.search(r'<section class="care crisis".*?</section>', page, flags=re.S)
    assert m, "no crisis section on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(0)).split())


def _crisis_checkin(c: TestClient) -> str:
    r = c.post(
        "/api/checkins",
        json={"tension": 8, "energy": 2, "mood": 1, "minutes": 5, "note": "I can't go on"},
    )
    assert r.status_code in (200, 201), r.text
    made = r.json()
    assert made["care"]["level"] == "crisis"
    return c.get(f"/plan/{made['plan']['id']}").text


# -- the form ----------------------------------------------------------------------------
def test_preferences_offer_the_uk_nations_with_nothing_chosen(client: TestClient) -> None:
    _guest(client)
    page = client.get("/onboarding").text
    select = page[page.index('<select id="f-region"') : page.index("</select>")]
    for value, name in (
        ("GB-ENG", "England"),
        ("GB-SCT", "Scotland"),
        ("GB-WLS", "Wales"),
        ("GB-NIR", "Northern Ireland"),
    ):
        assert f'value="{value}"' in select and name in select
    # nothing is chosen for the listener: the only selected option is the empty one
    assert re.findall(r'<option value="([^"]*)"\s+selected', select) == [""]
    assert 'src="/static/region.js"' in page and "data-hints=" in page


def test_region_is_stored_and_shown_again(client: TestClient) -> None:
    _guest(client)
    r = _onboard(client, region="GB-NIR")
    assert r.status_code == 303, r.text
    profile = client.get("/api/profile").json()
    assert (profile["country"], profile["region"]) == ("GB", "NIR")
    page = client.get("/onboarding").text
    assert re.search(r'<option value="GB-NIR"\s+selected', page)


def test_unknown_region_names_the_field_and_loses_nothing(client: TestClient) -> None:
    _guest(client)
    assert _onboard(client, region="GB-SCT").status_code == 303
    r = _onboard(client, region="GB-XYZ")
    assert r.status_code == 422
    text = " ".join(re.sub(r"<[^>]+>", " ", r.text).split()).replace("&#39;", "'")
    assert "Please check Where you live" in text and "NIR (Northern Ireland)" in text
    assert client.get("/api/profile").json()["region"] == "SCT"  # the old answer is kept
    r = client.put("/api/profile", json={"country": "US", "region": "GB-NIR"})
    assert r.status_code == 422 and "your country is US" in r.text
    assert client.get("/api/profile").json()["country"] in ("", "GB")
    r = client.put("/api/profile", json={"region": "NIR"})
    assert r.status_code == 200, r.text
    assert client.get("/api/profile").json()["region"] == "NIR"
    r = client.put("/api/profile", json={"country": "IE", "region": ""})
    assert r.status_code == 200 and client.get("/api/profile").json()["region"] == ""


# -- into the check-in -------------------------------------------------------------------
def test_northern_ireland_crisis_shows_lifeline_and_999_never_111(client: TestClient) -> None:
    _guest(client)
    assert _onboard(client, country="GB", region="GB-NIR").status_code == 303
    care = _care_section(_crisis_checkin(client))
    assert "Lifeline" in care and "0808 808 8000" in care and "999" in care
    assert care.index("Lifeline") < care.index("Samaritans")
    assert "111" not in care


def test_scotland_crisis_shows_nhs_24(client: TestClient) -> None:
    _guest(client)
    assert _onboard(client, country="GB", region="GB-SCT").status_code == 303
    care = _care_section(_crisis_checkin(client))
    assert "NHS 24" in care and "999" in care and "Lifeline" not in care


def test_without_a_region_no_111_line_is_named(client: TestClient) -> None:
    _guest(client)
    assert _onboard(client, country="GB").status_code == 303
    care = _care_section(_crisis_checkin(client))
    assert "Samaritans" in care and "111" not in care


# -- the helpers ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "lang", "country", "region"),
    [
        ("Europe/London", "en-GB", "GB", "ENG"),
        ("Europe/London", "cy", "GB", "WLS"),
        ("Europe/London", "cy-GB", "GB", "WLS"),
        ("Europe/London", "gd", "GB", "SCT"),
        ("Europe/London", "en-US", "GB", ""),
        ("Europe/Belfast", "en-GB", "GB", "NIR"),
        ("Europe/Dublin", "en-IE", "IE", ""),
        ("Pacific/Auckland", "en-NZ", "NZ", ""),
    ],
)
def test_suggestion_from_zone_and_language(zone: str, lang: str, country: str, region: str) -> None:
    got = suggest_place(zone, lang)
    assert got is not None
    assert (got["country"], got["region"]) == (country, region)
    assert got["label"]


@pytest.mark.parametrize("zone", ["Europe/Paris", "", None, "Not/AZone"])
def test_no_suggestion_without_a_known_zone(zone: str | None) -> None:
    assert suggest_place(zone, "en-GB") is None


def test_region_groups_list_every_country_with_regions() -> None:
    groups = region_groups()
    assert [g["country"] for g in groups] == ["GB"]
    assert [v for v, _ in groups[0]["regions"]] == ["GB-ENG", "GB-SCT", "GB-WLS", "GB-NIR"]


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("", "", ("", "")),
        ("GB", "", ("GB", "")),
        ("", "GB-NIR", ("GB", "NIR")),
        ("GB", "NIR", ("GB", "NIR")),
        ("UK", "gb-wls", ("GB", "WLS")),
        ("GB", "Scotland", ("GB", "SCT")),
    ],
)
def test_clean_place(country: str, region: str, expected: tuple[str, str]) -> None:
    assert clean_place(country, region) == expected


@pytest.mark.parametrize(
    ("country", "region", "words"),
    [
        ("US", "GB-NIR", "your country is US"),
        ("GB", "XX", "NIR (Northern Ireland)"),
        ("IE", "NIR", "no regions"),
        ("", "NIR", "country"),
    ],
)
def test_clean_place_errors_name_region(country: str, region: str, words: str) -> None:
    with pytest.raises(ParameterError) as info:
        clean_place(country, region)
    assert info.value.field == "region" and words in str(info.value)


def test_place_of_uses_default_country_and_drops_a_stale_region() -> None:
    assert place_of({"country": "", "region": ""}, "GB") == ("GB", None)
    assert place_of({"country": "", "region": "NIR"}, "GB") == ("GB", "NIR")
    assert place_of({"country": "IE", "region": "NIR"}, "GB") == ("IE", None)


def test_account_page_says_where_help_is_found(client: TestClient) -> None:
    _guest(client)
    assert _onboard(client, country="GB").status_code == 303
    assert "Help lines for: the United Kingdom (no region chosen)" in client.get("/account").text
    assert _onboard(client, country="GB", region="GB-WLS").status_code == 303
    assert "Help lines for: Wales (the United Kingdom)" in client.get("/account").text
    assert _onboard(client, country="FR", region="").status_code == 303
    assert "Help lines for: FR (international help lines)" in client.get("/account").text


def test_a_browser_reporting_a_tz_alias_gets_the_same_suggestion() -> None:
    """Browsers may report the tz database's old names (US/Pacific, Europe/Kiev); the
    suggestion, here and in region.js's hints, follows them to the canonical zone."""
    import json

    from sonora.care.region import hints_json, suggest_place

    assert suggest_place("US/Pacific", "en-US") == suggest_place("America/Los_Angeles", "en-US")
    assert suggest_place("US/Pacific", "en-US") is not None
    aliases = json.loads(hints_json())["aliases"]
    assert aliases["US/Pacific"] == "America/Los_Angeles"
    assert "Europe/Belfast" not in aliases  # a hint of its own (Northern Ireland)
