"""A new visitor, end to end, in a real browser against a real server.

Onboards, checks in, starts the session, hears it play (the audio element's
``currentTime`` passes 3 s with no media error), moves a layer's volume slider, checks
out and finds the session in their history.  A screenshot of every page is saved under
``artifacts/screenshots/``; each page is also checked for labelled controls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import e2e_server, unlabelled, watch

from sonora.web.testing import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with e2e_server(tmp_path_factory, "e2e", triage_notes=False, stream_lead_s=2.0) as s:
        yield s


def _page_ok(page: Any, shots: Path, name: str, *, full: bool = True) -> None:
    assert unlabelled(page) == [], f"unlabelled controls on {name}"
    assert page.locator("h1").count() >= 1, f"{name} has no heading"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=full)


def test_new_visitor_listens_and_finds_the_session(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 420, "height": 860}, color_scheme="light")
    page = ctx.new_page()
    errors, external = watch(page, server)

    # welcome
    page.goto(server.url + "/")
    _page_ok(page, shots, "01-welcome")
    page.get_by_role("button", name=re.compile("Begin")).click()

    # onboarding
    page.wait_for_url("**/onboarding")
    _page_ok(page, shots, "02-onboarding")
    page.locator("input[name=loved][value=rain]").check()
    page.locator("input[name=loved][value=bowls]").check()
    page.locator("input[name=disliked][value=chimes]").check()
    page.locator("input[name=default_goal][value=unwind]").check()
    page.get_by_role("button", name="Save and check in").click()

    # check-in
    page.wait_for_url("**/checkin")
    page.locator("#f-tension").fill("8")
    page.locator("#f-mood").fill("3")
    assert page.locator("#o-tension").inner_text() == "8"
    page.locator("input[name=goal][value=unwind]").check()
    page.locator("#f-minutes").select_option("10")
    _page_ok(page, shots, "03-checkin")
    page.get_by_role("button", name="Make my session").click()

    # plan
    page.wait_for_url(re.compile(r".*/plan/[0-9a-f]{32}$"))
    plan_id = page.url.rsplit("/", 1)[-1]
    assert page.locator(".lead").inner_text().strip()
    _page_ok(page, shots, "04-plan")
    page.get_by_role("link", name="Start listening").click()

    # player: audio streams and plays
    page.wait_for_url(f"**/play/{plan_id}")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => { const a = document.getElementById('audio');"
        " return a.error !== null || a.currentTime > 3; }",
        timeout=90_000,
    )
    state = page.evaluate(
        "() => { const a = document.getElementById('audio');"
        " return {t: a.currentTime, error: a.error && a.error.code, paused: a.paused}; }"
    )
    assert state["error"] is None, state
    assert state["t"] > 3 and not state["paused"], state
    _page_ok(page, shots, "05-player")

    # move the first layer's volume slider: the live mixer is told at once
    with page.expect_response(lambda r: r.url.endswith(f"/api/plans/{plan_id}/gains")) as resp:
        page.locator("#gain-0").fill("40")
    assert resp.value.status == 200
    # Read the stored mix back through the API: since /api answers carry no-store and
    # the page's fetches pass through the service worker, Playwright never received
    # the page's own response body (it waited forever).
    plan_json = page.request.get(f"{server.url}/api/plans/{plan_id}").json()
    assert plan_json["layers"][0]["gain"] == pytest.approx(0.4)
    assert page.evaluate("() => document.getElementById('audio').error") is None

    # breath pacer and night mode
    page.locator("#pacer-toggle").check()
    assert page.locator("#pacer-wrap").is_visible()
    page.get_by_role("button", name="Night mode").click()
    assert page.locator("#night-cover").is_visible()
    page.screenshot(path=str(shots / "06-player-night-mode.png"))
    page.keyboard.press("Escape")
    assert not page.locator("#night-cover").is_visible()

    # check out
    page.get_by_role("link", name="Finish and check out").click()
    page.wait_for_url(f"**/after/{plan_id}")
    page.locator("#f-tension").fill("4")
    page.locator("#f-mood").fill("6")
    page.locator("#f-rating").fill("8")
    page.locator("input[name=ending][value=finished]").check()
    _page_ok(page, shots, "07-after")
    page.get_by_role("button", name="Save").click()

    # history has the session, before and after
    page.wait_for_url("**/history**")
    row = page.locator(f"#session-{plan_id}")
    assert row.count() == 1
    assert "8 → 4" in row.inner_text()
    assert page.locator("svg.chart").count() >= 1
    _page_ok(page, shots, "08-history")

    page.goto(server.url + "/account")
    _page_ok(page, shots, "09-account")

    assert not external, f"requests left the server: {external}"
    assert not [e for e in errors if "favicon" not in e], errors
    ctx.close()


def test_pages_at_night_and_on_a_wide_screen(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = ctx.new_page()
    page.goto(server.url + "/")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "night"
    _page_ok(page, shots, "10-welcome-night-wide")
    # keyboard: the first Tab reaches the skip link, which moves focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    ctx.close()


def test_reduced_motion_stops_the_breath_pacer_animation(
    browser: Any, server: RunningServer
) -> None:
    ctx = browser.new_context(reduced_motion="reduce")
    page = ctx.new_page()
    page.goto(server.url + "/")
    page.get_by_role("button", name=re.compile("Begin")).click()
    page.get_by_role("button", name="Save and check in").click()
    page.get_by_role("button", name="Make my session").click()
    page.get_by_role("link", name=re.compile("Start")).click()
    page.locator("#pacer-toggle").check()
    transform = page.evaluate("() => getComputedStyle(document.getElementById('pacer')).transform")
    assert transform in ("none", ""), transform
    ctx.close()
