"""The guide, its helper, the evidence page and safe listening, in a real browser.

The "which is right for you?" helper is used with JavaScript switched off (it is a
plain form answered by the server); a claim's link leads to its entry on the evidence
page; a guest sets their listening level with the reference sound. Screenshots go to
``artifacts/screenshots/care-*.png``; every page is checked for labelled controls and
for requests that leave the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import CONTROLS, e2e_server, unlabelled, watch

from sonora.web.testing import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with e2e_server(tmp_path_factory, "e2e-care", triage_notes=False, calibrate_ahead=False) as s:
        yield s


def _page_ok(page: Any, shots: Path, name: str, *, full: bool = True) -> None:
    assert unlabelled(page, controls=CONTROLS + ", audio") == [], f"unlabelled controls on {name}"
    assert page.locator("h1").count() == 1, f"{name} needs exactly one h1"
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, f"{name} is {wide}px wider than the window"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=full)


def _answer(page: Any, answers: dict[str, str]) -> None:
    for name, value in answers.items():
        page.locator(f"#which-form input[name={name}][value={value}]").check()
    page.get_by_role("button", name="Show me").click()


def test_guide_and_helper_without_javascript(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    ctx = browser.new_context(
        viewport={"width": 420, "height": 860}, color_scheme="light", java_script_enabled=False
    )
    page = ctx.new_page()
    errors, external = watch(page, server)

    page.goto(server.url + "/")
    page.get_by_role("link", name="Guide").first.click()
    page.wait_for_url("**/guide")
    for heading in ("What each one is", "Differences at a glance", "Credentials by country"):
        assert page.get_by_role("heading", name=heading).is_visible()
    table = page.locator("table.compare")
    assert table.locator("th[scope=row]").all_inner_texts() == [
        "Training",
        "Regulation",
        "Setting and goals",
        "Evidence",
        "Cost and access",
    ]
    # the table stays inside the card: it scrolls sideways on a phone instead
    overflow = page.evaluate(
        "() => { const w = document.querySelector('.table-wrap');"
        " return w.getBoundingClientRect().right <= window.innerWidth + 1; }"
    )
    assert overflow
    _page_ok(page, shots, "care-01-guide")

    # everyday wish: a Sonora session
    _answer(page, {"hope": "relax", "duration": "days", "impact": "little", "structured": "no"})
    page.wait_for_url("**/guide/which**")
    verdict = page.locator(".verdict")
    assert verdict.get_attribute("data-outcome") == "sonora"
    assert "A Sonora session is a fine place to start" in verdict.inner_text()
    _page_ok(page, shots, "care-02-helper-sonora")

    # a health goal: a credentialed music therapist or a doctor, with a way to find one
    _answer(page, {"hope": "health", "duration": "months", "impact": "lot", "structured": "yes"})
    verdict = page.locator(".verdict")
    assert verdict.get_attribute("data-outcome") == "professional"
    assert "credentialed music therapist or your doctor" in verdict.inner_text()
    link = verdict.get_by_role("link", name="Find a credentialed music therapist")
    assert link.get_attribute("href") == "/therapists"
    _page_ok(page, shots, "care-03-helper-professional")

    assert not external, f"requests left the server: {external}"
    assert not [e for e in errors if "favicon" not in e], errors
    ctx.close()


def test_a_claim_leads_to_its_evidence(browser: Any, server: RunningServer, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = ctx.new_page()
    errors, external = watch(page, server)
    page.goto(server.url + "/about")
    claim = page.locator('.claim[data-claim="music-stress"]')
    assert "reduced stress modestly" in claim.inner_text()
    claim.get_by_role("link").click()
    page.wait_for_url("**/evidence#claim-music-stress")
    entry = page.locator("#claim-music-stress")
    assert entry.is_visible()
    assert "moderate" in entry.inner_text().lower() and "de Witte et al. 2020" in entry.inner_text()
    # the source entry is one click further, with its DOI
    entry.get_by_role("link", name="de Witte et al. 2020").click()
    source = page.locator("#source-dewitte2020")
    assert source.is_visible()
    assert "104 RCTs" in source.inner_text()
    assert source.get_by_role("link").first.get_attribute("href") == (
        "https://doi.org/10.1080/17437199.2019.1627897"
    )
    page.goto(server.url + "/evidence")
    _page_ok(page, shots, "care-04-evidence")
    # filter by grade with the form
    page.locator("input[name=grade][value=insufficient]").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/evidence?grade=insufficient")
    grades = page.locator(".claims .claim-entry .grade").all_inner_texts()
    assert grades and {g.strip().lower() for g in grades} == {"insufficient"}
    _page_ok(page, shots, "care-05-evidence-insufficient", full=False)
    assert not external, f"requests left the server: {external}"
    assert not [e for e in errors if "favicon" not in e], errors
    ctx.close()


def test_a_guest_sets_a_listening_level(browser: Any, server: RunningServer, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 420, "height": 860}, color_scheme="light")
    page = ctx.new_page()
    errors, external = watch(page, server)
    page.goto(server.url + "/")
    page.get_by_role("button", name=re.compile("Begin")).click()
    page.wait_for_url("**/onboarding")
    page.get_by_role("button", name="Save and check in").click()
    page.wait_for_url("**/checkin")
    page.get_by_role("link", name="Safe listening").click()
    page.wait_for_url("**/listening")
    assert "not known yet" in page.locator("#dose").inner_text()
    # the reference sound loads and plays in the browser
    page.evaluate("() => { const a = document.getElementById('reference'); a.load(); }")
    page.wait_for_function(
        "() => { const a = document.getElementById('reference');"
        " return a.error !== null || a.readyState >= 1; }",
        timeout=30_000,
    )
    info = page.evaluate(
        "() => { const a = document.getElementById('reference');"
        " return {error: a.error && a.error.code, duration: a.duration}; }"
    )
    assert info["error"] is None and 5.0 <= info["duration"] <= 8.0, info
    _page_ok(page, shots, "care-06-listening-uncalibrated")
    page.locator("input[name=level_dba][value='75']").check()
    page.get_by_role("button", name="Save my level").click()
    page.wait_for_url("**/listening?msg=saved")
    assert page.get_by_role("status").inner_text().startswith("Your listening level is saved")
    assert "about 75 dBA" in page.locator("#dose-level").inner_text()
    assert page.locator("#dose-percent").inner_text() == "0%"
    assert page.locator("table.allowance tr.mine").inner_text().startswith("75 dBA")
    _page_ok(page, shots, "care-07-listening-calibrated")
    assert not external, f"requests left the server: {external}"
    assert not [e for e in errors if "favicon" not in e], errors
    ctx.close()


def test_the_api_page_fits_a_phone(browser: Any, server: RunningServer, shots: Path) -> None:
    # Long paths (/api/programmes/{programme_id}/...) wrap instead of widening the page.
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = ctx.new_page()
    page.goto(server.url + "/api/docs")
    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, f"/api/docs is {wide}px wider than a phone"
    page.screenshot(path=str(shots / "care-api-docs-phone.png"))
    ctx.close()
