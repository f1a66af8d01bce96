"""The listener's region in a real browser: a suggestion they confirm, then help for it.

Chromium is given a time zone and a language (as a phone in London would report
them). The preferences page suggests a nation but chooses nothing until the
listener presses "Yes, use this"; after saving, a crisis check-in in Northern Ireland
shows Lifeline and 999 and never 111. Screenshots go to
``artifacts/screenshots/region-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import e2e_server

from sonora.web.testing import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with e2e_server(tmp_path_factory, "e2e-region", triage_notes=True, calibrate_ahead=False) as s:
        yield s


def _start(browser: Any, server: RunningServer, *, zone: str, locale: str) -> tuple[Any, Any]:
    ctx = browser.new_context(
        timezone_id=zone, locale=locale, viewport={"width": 390, "height": 844}
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    r = page.request.post(server.url + "/api/guest", data={})
    assert r.status == 201, r.text()
    page.goto(server.url + "/onboarding")
    return ctx, (page, errors)


def test_london_and_english_suggest_england_only_when_confirmed(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    ctx, (page, errors) = _start(browser, server, zone="Europe/London", locale="en-GB")
    try:
        hint = page.locator("#region-suggestion")
        hint.wait_for(state="visible")
        assert "England" in hint.inner_text() and "Europe/London" in hint.inner_text()
        assert page.locator("#f-region").input_value() == ""  # nothing chosen yet
        hint.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "region-suggestion.png"))
        page.locator("#region-suggestion-use").click()
        assert page.locator("#f-region").input_value() == "GB-ENG"
        assert page.locator("#f-country").input_value() == "GB"
        assert not hint.is_visible()
        assert errors == []
    finally:
        ctx.close()


def test_a_suggestion_can_be_ignored(browser: Any, server: RunningServer) -> None:
    ctx, (page, errors) = _start(browser, server, zone="Europe/London", locale="cy-GB")
    try:
        hint = page.locator("#region-suggestion")
        hint.wait_for(state="visible")
        assert "Wales" in hint.inner_text()
        page.locator("#f-region").select_option("GB-NIR")
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/checkin"))
        profile = page.request.get(server.url + "/api/profile").json()
        assert (profile["country"], profile["region"]) == ("GB", "NIR")
        assert errors == []
    finally:
        ctx.close()


def test_northern_ireland_crisis_result_in_the_browser(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    # browsers report Belfast as Europe/London: the suggestion is England, and the
    # listener, who lives in Northern Ireland, says so instead
    ctx, (page, errors) = _start(browser, server, zone="Europe/London", locale="en-GB")
    try:
        page.locator("#region-suggestion").wait_for(state="visible")
        page.locator("#f-region").select_option("GB-NIR")
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/checkin"))
        page.set_default_timeout(120_000)  # the first note loads the sentence model
        page.locator("textarea[name=note]").fill("I can't go on")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/plan/"))
        care = page.locator("section.care.crisis")
        care.wait_for(state="visible")
        text = care.inner_text()
        assert "Lifeline" in text and "0808 808 8000" in text and "999" in text
        assert text.index("Lifeline") < text.index("Samaritans")
        assert "111" not in text
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"the page is {wide}px wider than a phone"
        care.screenshot(path=str(shots / "region-crisis-nir.png"))
        assert errors == []
    finally:
        ctx.close()
