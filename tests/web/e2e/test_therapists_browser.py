"""Find and book a free consult in a real browser, against a real server.

A therapist in Leeds (Europe/London), verified by an admin, and the labelled demo
profiles, verified the way ``sonora therapists demo --verify-as ADMIN`` does it, are in
the directory (unverified profiles never are).  A listener in New York follows "Find a therapist" from the navigation,
searches near Bradford sorted by distance, opens the profile (times shown in their own
zone, picked up by the browser), books a slot, sees the confirmation, moves the consult
and cancels it.  The background sender writes the confirmation as a real .eml file.
Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from e2ekit import THERAPIST_PROFILE, e2e_server

from sonora.therapists.demo import seed_demo, verify_demo
from sonora.web.testing import RunningServer

PROFILE = THERAPIST_PROFILE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with e2e_server(
        tmp_path_factory,
        "e2e-therapists",
        triage_notes=False,
        calibrate_ahead=False,
        outbox_interval_s=0.5,
        booking_notice_hours=0,
        booking_confirmation=False,  # the direct flow; confirmation: tests/test_holds.py
    ) as s:
        svc = s.core.therapists
        store = s.core.store
        user = store.register(store.create_user().id, email="ada@example.org", password_hash="x")
        t = svc.create_profile(user, PROFILE)
        for day in range(7):
            svc.repo.add_rule(t.id, day, 0, 24 * 60)
        admin = store.register(store.create_user().id, email="admin@example.org", password_hash="x")
        svc.repo.set_admin(admin.id)
        svc.verify(
            store.get_user(admin.id), t.id, {"decision": "verified", "note": "HCPC register"}
        )
        seed_demo(svc)
        unlisted = svc.repo.user_by_email("late@example.org") or store.register(
            store.create_user().id, email="late@example.org", password_hash="x"
        )
        svc.create_profile(unlisted, {**PROFILE, "display_name": "Not Verified Yet"})
        assert verify_demo(svc, "admin@example.org")  # what --verify-as records
        s.therapist_id = t.id  # type: ignore[attr-defined]
        yield s


def test_listener_finds_books_moves_and_cancels(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    errors: list[str] = []
    ctx = browser.new_context(
        viewport={"width": 420, "height": 900}, timezone_id="America/New_York", color_scheme="light"
    )
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(server.url + "/")
    page.get_by_role("link", name="Find a therapist").first.click()
    page.wait_for_url(re.compile(r".*/therapists.*"))
    page.locator("#s-near").fill("Bradford")
    page.locator("#s-sort").select_option("distance")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*near=Bradford.*"))
    cards = page.locator("article.therapist")
    assert cards.count() == 6  # Ada and five verified demo profiles; never the unverified one
    assert "Not Verified Yet" not in page.locator("main").inner_text()
    first = cards.nth(0)
    assert (
        "Ada Lovelace" in first.inner_text()
        and "HCPC-registered music therapist" in first.inner_text()
    )
    assert re.search(r"\d+ km", first.inner_text())
    demo = cards.nth(1).inner_text()
    assert "Demo profile" in demo and "music therapist" not in demo
    page.screenshot(path=str(shots / "t1-directory.png"), full_page=True)

    first.get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_selector("#times")
    # tz.js switched the page to the browser's zone
    page.wait_for_url(re.compile(r".*tz=America(%2F|/)New_York.*"))
    assert page.locator("#f-tz").input_value() == "America/New_York"
    assert "America/New_York" in page.locator("section[aria-labelledby=times]").inner_text()
    page.screenshot(path=str(shots / "t2-profile.png"), full_page=False)
    slots = page.locator("a.slot")
    assert slots.count() > 10
    chosen = slots.nth(2)
    label = chosen.inner_text().split()[0]
    chosen.click()

    page.wait_for_selector("#b-name")
    assert label in page.locator("p.when").inner_text()
    assert (
        "EST" in page.locator("p.when").inner_text() or "EDT" in page.locator("p.when").inner_text()
    )
    page.locator("#b-name").fill("Sam Listener")
    page.locator("#b-email").fill("not-an-email")
    page.locator("#b-email").evaluate("el => el.type = 'text'")  # let the server judge it
    page.get_by_role("button", name="Book this consult").click()
    assert "Please check Email" in page.locator("#form-error").inner_text()
    page.locator("#b-email").fill("sam@example.org")
    page.locator("#b-reason").fill("Trouble switching off at night")
    page.screenshot(path=str(shots / "t3-book.png"), full_page=True)
    page.get_by_role("button", name="Book this consult").click()

    page.wait_for_url(re.compile(r".*/bookings/.*\?new=1"))
    assert "Booked" in page.locator("p.notice").inner_text()
    assert label in page.locator("dd.when").inner_text()
    page.screenshot(path=str(shots / "t4-confirmation.png"), full_page=True)
    manage = page.url.split("?")[0]

    # the confirmation email is written by the background sender
    outbox = server.core.settings.outbox_folder
    deadline = time.monotonic() + 15
    mails: list[Any] = []
    while time.monotonic() < deadline and len(mails) < 2:
        mails = [message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
        time.sleep(0.2)
    to_sam = [m for m in mails if "sam@example.org" in m["To"]]
    assert len(to_sam) == 1 and "booked" in to_sam[0]["Subject"]
    assert any(p.get_content_type() == "text/calendar" for p in to_sam[0].walk())
    assert manage.split("/bookings/")[1] in "".join(
        p.get_payload(decode=True).decode()
        for p in to_sam[0].walk()
        if p.get_content_type() == "text/plain"
    )

    # move it
    page.get_by_role("link", name="Choose another time").click()
    page.wait_for_selector("button.slot")
    page.screenshot(path=str(shots / "t5-reschedule.png"), full_page=False)
    with page.expect_navigation():
        page.locator("button.slot").nth(5).click()
    assert "msg=moved" in page.url, (page.url, page.locator("main").inner_text()[:500])
    assert "has moved" in page.locator("p.notice").inner_text()
    # cancel it
    with page.expect_navigation():
        page.get_by_role("button", name="Cancel this consult").click()
    assert "msg=cancelled" in page.url, (page.url, page.locator("main").inner_text()[:500])
    assert "Cancelled" in page.locator("h1").inner_text()
    page.screenshot(path=str(shots / "t5-cancelled.png"), full_page=True)

    # the therapist's dashboard has nothing upcoming now; the booking link still shows only it
    page.goto(manage)
    assert "Sam Listener" in page.content() and "admin@example.org" not in page.content()
    # the only console error is the 422 of the deliberately malformed email
    assert [e for e in errors if "status of 422" not in e] == []
    ctx.close()
