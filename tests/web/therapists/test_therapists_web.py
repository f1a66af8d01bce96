"""The therapist pages and JSON API against the real app and a real SQLite database.

Who sees what (listed profiles only; a therapist's own bookings only; a booking link
shows one booking), the admin's verification flow, bad input naming the field, CSRF,
and a booking reason screened by the real triage (crisis banner on the confirmation).
Cancelling, export and deletion, and how consults happen: ``test_therapists_consults.py``;
the app: this folder's ``conftest.py``; the helpers: ``tests/webkit.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from webkit import (
    cli_env,
    first_slot,
    form_csrf,
    join_as_therapist,
    mail_text,
    sign_in_admin,
    therapist_settings,
    user_id_of,
    verify_by_form,
)

from sonora.therapists.demo import seed_demo
from sonora.web import Core, create_app


def test_join_verify_list_book_and_dashboard(app: Any) -> None:
    ther, tid = join_as_therapist(app, "ada@example.org")
    anon = TestClient(app)
    # not listed before verification: 404 like a profile that does not exist
    assert anon.get(f"/therapists/{tid}").status_code == 404
    assert anon.get(f"/api/therapists/{tid}").status_code == 404
    assert tid not in anon.get("/therapists").text
    dash = ther.get("/therapists/me").text
    assert "not listed" in dash and "Not verified yet" in dash
    card = dash[dash.index("<h1>") : dash.index("Edit profile")]
    assert "music therapist" not in card  # only beside a verified credential

    admin = sign_in_admin(app)
    page = admin.get("/admin/verify").text
    assert "https://www.hcpc-uk.org/check-the-register/" in page and "AS12345" in page
    assert "to confirm" in page.lower()  # a "check" note (docs/references.md) shown as such
    assert verify_by_form(admin, tid).status_code == 303
    listing = anon.get(
        "/therapists", params={"near": "Bradford", "sort": "distance", "tz": "Europe/London"}
    )
    assert listing.status_code == 200
    assert (
        f"/therapists/{tid}" in listing.text
        and "HCPC-registered music therapist</strong> — Health and Care Professions Council (HCPC)"
        in listing.text
    )
    assert "HCPC music therapist" not in listing.text  # the credential named once (qa11)
    assert re.search(r"<strong>\d+ km</strong> away", listing.text)
    assert "admin@example.org" not in listing.text

    start = first_slot(anon, tid, "America/New_York")
    r = anon.post(
        f"/api/therapists/{tid}/bookings",
        json={
            "start": start,
            "tz": "America/New_York",
            "name": "Sam",
            "email": "Sam@Example.org",
            "reason": "I would like to talk about sleep",
        },
    )
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["manage_url"].endswith(booked["token"]) and booked["email"] == "sam@example.org"
    assert booked["local_start"].endswith(("-04:00", "-05:00"))
    # the therapist sees it on their dashboard and in the API; nobody else does
    assert "Sam" in ther.get("/therapists/me").text
    mine = ther.get("/api/therapists/me/bookings").json()["bookings"]
    assert [b["name"] for b in mine] == ["Sam"]
    other, _ = join_as_therapist(
        app, "bo@example.org", display_name="Bo Other", registration_number="AS22222"
    )
    assert other.get("/api/therapists/me/bookings").json()["bookings"] == []
    assert "Sam" not in other.get("/therapists/me").text
    assert anon.get("/api/therapists/me/bookings").status_code == 401
    listener = TestClient(app)
    listener.post("/api/guest", json={})
    assert listener.get("/api/therapists/me/bookings").status_code == 404
    assert (
        listener.get("/therapists/me", follow_redirects=False).headers["location"]
        == "/therapists/join"
    )
    assert listener.get("/admin/verify").status_code == 403
    assert ther.get("/admin/verify").status_code == 403


def test_a_booking_link_shows_that_booking_only(app: Any) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    c = TestClient(app)
    s1 = first_slot(c, tid)
    one = c.post(
        f"/api/therapists/{tid}/bookings",
        json={
            "start": s1,
            "tz": "UTC",
            "name": "One",
            "email": "one@example.org",
            "reason": "first secret",
        },
    ).json()
    s2 = first_slot(c, tid)
    two = c.post(
        f"/api/therapists/{tid}/bookings",
        json={
            "start": s2,
            "tz": "UTC",
            "name": "Two",
            "email": "two@example.org",
            "reason": "second secret",
        },
    ).json()
    page = c.get(f"/bookings/{one['token']}")
    assert page.status_code == 200 and "first secret" in page.text
    assert "second secret" not in page.text and "two@example.org" not in page.text
    assert page.headers["referrer-policy"] == "same-origin"  # the token never leaves the site
    api = c.get(f"/api/bookings/{two['token']}").json()
    assert api["name"] == "Two" and "one@example.org" not in str(api)
    for bad in ("x" * 43, one["token"][:-1] + ("A" if one["token"][-1] != "A" else "B"), "a" * 300):
        assert c.get(f"/bookings/{bad}").status_code == 404
        assert c.get(f"/api/bookings/{bad}").status_code == 404
        assert c.delete(f"/api/bookings/{bad}").status_code == 404
    ics = c.get(f"/bookings/{one['token']}/invite.ics")
    assert (
        ics.headers["content-type"].startswith("text/calendar") and b"BEGIN:VEVENT" in ics.content
    )
    # cancel and reschedule through the link (forms need the CSRF token)
    r = c.post(f"/bookings/{two['token']}/cancel", data={}, follow_redirects=False)
    assert r.status_code == 403
    token = form_csrf(c, f"/bookings/{two['token']}")
    r = c.post(
        f"/bookings/{two['token']}/reschedule",
        data={"csrf_token": token, "start": s1},
        follow_redirects=False,
    )
    assert r.status_code == 409 and "Just taken" in r.text
    r = c.post(
        f"/bookings/{two['token']}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert c.get(f"/api/bookings/{two['token']}").json()["status"] == "cancelled"
    r = c.patch(f"/api/bookings/{one['token']}", json={"start": s2})
    assert r.status_code == 200 and r.json()["start"] == s2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tz": "Nowhere/Special"}, "tz"),
        ({"email": "not an email"}, "email"),
        ({"start": "2020-01-06T09:00:00Z"}, "start"),
        ({"start": "next tuesday"}, "start"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_booking_input_names_the_field(app: Any, change: dict, field: str) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    c = TestClient(app)
    body = {
        "start": first_slot(c, tid),
        "tz": "UTC",
        "name": "Sam",
        "email": "sam@example.org",
        **change,
    }
    r = c.post(f"/api/therapists/{tid}/bookings", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and r.json()["detail"].startswith(field)
    assert c.get(f"/api/therapists/{tid}/slots", params={"tz": "Bad/Zone"}).json()["field"] == "tz"


def test_taken_slot_in_the_form_offers_the_next_free_times(app: Any) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    c = TestClient(app)
    start = first_slot(c, tid)
    token = form_csrf(c, f"/therapists/{tid}/book?start={quote(start)}&tz=UTC")
    form = {"csrf_token": token, "start": start, "tz": "UTC", "name": "A", "email": "a@example.org"}
    assert c.post(f"/therapists/{tid}/book", data=form, follow_redirects=False).status_code == 303
    r = c.post(f"/therapists/{tid}/book", data={**form, "email": "b@example.org"})
    assert r.status_code == 409 and "Just taken" in r.text
    assert len(re.findall(rf"/therapists/{tid}/book\?start=", r.text)) >= 3
    r = c.post(f"/therapists/{tid}/book", data={**form, "email": "nope"})
    assert r.status_code == 422 and "Please check Email" in r.text


def _cards(page: str) -> list[str]:
    return re.findall(r'<article class="card therapist".*?</article>', page, re.S)


def test_demo_profiles_wait_for_an_admin_and_keep_their_badge(app: Any) -> None:
    svc = app.state.core.therapists
    made = seed_demo(svc)
    assert len(made) == 5
    c = TestClient(app)
    # unverified demo data is not listed, exactly like any unverified profile
    page = c.get("/therapists").text
    assert _cards(page) == [] and "No verified music therapists match yet" in page
    assert c.get("/api/therapists").json()["therapists"] == []
    assert c.get(f"/therapists/{made[0].id}").status_code == 404
    assert c.get(f"/api/therapists/{made[0].id}/slots").status_code == 404
    # ... it waits in the admin's queue, labelled
    admin = sign_in_admin(app)
    queue = admin.get("/admin/verify").text
    assert queue.count("demo — not a real person") == 5
    # verified through the real admin form: listed, still a demo, never "music therapist"
    assert verify_by_form(admin, made[0].id).status_code == 303
    page = c.get("/therapists").text
    cards = _cards(page)
    assert len(cards) == 1 and made[0].display_name in cards[0]
    assert "Demo profile" in cards[0] and "Not a real person" in cards[0]
    assert "music therapist" not in cards[0] and "Verified" not in cards[0]
    profile = c.get(f"/therapists/{made[0].id}").text
    assert "Demo profile" in profile and "HCPC-registered music therapist" not in profile
    (r,) = c.get("/api/therapists").json()["therapists"]
    assert r["demo"] and r["title"] is None and r["credential"]["status"] == "verified"
    # no email to a demo address, ever
    assert [m for m in svc.repo.outbox() if m.to_addr.endswith(".invalid")] == []
    # demo accounts cannot log in
    r = c.post(
        "/api/login", json={"email": "demo-therapist-1@example.invalid", "password": "!demo"}
    )
    assert r.status_code == 401
    assert svc.repo.delete_demo() == 5
    assert c.get("/api/therapists").json()["therapists"] == []


def test_demo_verify_as_records_a_labelled_verification(app: Any) -> None:
    from typer.testing import CliRunner

    from sonora.cli import app as cli
    from sonora.therapists.demo import DEMO_NOTE

    core = app.state.core
    env = cli_env(core)
    runner = CliRunner()
    # not an admin: refused, and nothing is added
    r = runner.invoke(cli, ["therapists", "demo", "--verify-as", "admin@example.org"], env=env)
    assert r.exit_code == 2 and "not an admin account" in r.output
    assert core.therapists.repo.profiles() == []
    sign_in_admin(app)
    r = runner.invoke(cli, ["therapists", "demo", "--verify-as", "admin@example.org"], env=env)
    assert r.exit_code == 0, r.output
    assert "Added 5" in r.output and "Verified 5" in r.output
    listed = TestClient(app).get("/api/therapists").json()["therapists"]
    assert len(listed) == 5 and all(x["demo"] and x["title"] is None for x in listed)
    for x in listed:
        (h,) = core.therapists.history(x["id"])
        assert (h.decision, h.admin_email, h.note) == ("verified", "admin@example.org", DEMO_NOTE)
    page = TestClient(app).get("/therapists").text
    assert len(_cards(page)) == 5 and all("Demo profile" in card for card in _cards(page))
    # running it again adds and verifies nothing new
    r = runner.invoke(cli, ["therapists", "demo", "--verify-as", "admin@example.org"], env=env)
    assert "Added 0" in r.output and "Verified 0" in r.output


FIND_LINKS = {
    "https://www.hcpc-uk.org/check-the-register/",
    "https://www.bamt.org",
    "https://www.cbmt.org",
    "https://www.musictherapy.org",
    "https://www.musictherapy.ca",
    "https://www.austmta.org.au",
}


def test_an_empty_directory_points_to_the_official_registers(app: Any) -> None:
    c = TestClient(app)
    page = c.get("/therapists").text
    assert "No verified music therapists match yet" in page and "none is verified here yet" in page
    for url in FIND_LINKS:
        assert f'href="{url}"' in page, url
    # every "check" caveat of the data stays visible
    # all but the HCPC register's and CAMT's links (both confirmed, docs/references.md)
    assert page.count("Still to confirm:") == 4
    assert "The address of BAMT&#39;s own find-a-therapist page is unconfirmed" in page
    # the listener's country first (the default here: GB) ...
    sections = re.findall(r'<h4 id="find-([A-Z]{2})">', page)
    assert sections[0] == "GB" and sorted(sections) == ["AU", "CA", "GB", "US"]
    assert "(your country)" in page[page.index('id="find-GB"') : page.index('id="find-GB"') + 200]
    # ... or the one in their profile
    listener = TestClient(app)
    listener.post("/api/guest", json={})
    uid = user_id_of(listener)
    app.state.core.save_profile(app.state.core.store.get_user(uid), {"country": "AU"})
    sections = re.findall(r'<h4 id="find-([A-Z]{2})">', listener.get("/therapists").text)
    assert sections[0] == "AU" and len(sections) == 4
    # a search nobody verified matches says so, with the same links
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    assert len(_cards(c.get("/therapists").text)) == 1
    page = c.get("/therapists", params={"country": "US"}).text
    assert _cards(page) == [] and "nobody verified matches this search" in page
    assert 'href="https://www.cbmt.org"' in page


def test_the_remind_command_sends_one_reminder_per_expiry(app: Any) -> None:
    import datetime as dt

    from typer.testing import CliRunner

    from sonora.cli import app as cli

    core = app.state.core
    svc = core.therapists
    _, tid = join_as_therapist(app, "ada@example.org")
    admin = sign_in_admin(app)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date().isoformat()
    page = admin.get("/admin/verify")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = admin.post(
        f"/admin/verify/{tid}",
        data={
            "csrf_token": token,
            "decision": "verified",
            "note": "register says current until then",
            "registration_number": "AS12345",
            "valid_until": soon,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    kinds = [m.kind for m in svc.repo.outbox()]
    assert kinds == ["verified_therapist"]
    env = cli_env(core)
    runner = CliRunner()
    r = runner.invoke(cli, ["therapists", "remind", "--days", "5"], env=env)
    assert r.exit_code == 0 and "Queued 0" in r.output  # 10 days away: not yet
    r = runner.invoke(cli, ["therapists", "remind"], env=env)  # 30 days ahead
    assert r.exit_code == 0 and "Queued 1" in r.output and soon in r.output
    r = runner.invoke(cli, ["therapists", "remind"], env=env)
    assert r.exit_code == 0 and "Queued 0" in r.output
    (m,) = [m for m in svc.repo.outbox() if m.kind == "recheck_therapist"]
    assert m.to_addr == "ada@example.org" and soon in m.subject
    assert "/therapists/me/profile" in mail_text(m.message)


def test_a_crisis_reason_puts_help_first_on_the_confirmation(tmp_path: Path) -> None:
    core = Core(therapist_settings(tmp_path, triage_notes=True))
    try:
        app = create_app(core)
        _, tid = join_as_therapist(app, "ada@example.org")
        verify_by_form(sign_in_admin(app), tid)
        c = TestClient(app)
        r = c.post(
            f"/api/therapists/{tid}/bookings",
            json={
                "start": first_slot(c, tid),
                "tz": "Europe/London",
                "name": "Sam",
                "email": "sam@example.org",
                "reason": "I don't want to be alive anymore",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["care"]["level"] == "crisis"
        page = c.get(f"/bookings/{r.json()['token']}").text
        assert page.index('class="care crisis"') < page.index("<h1>")
        assert "116 123" in page  # Samaritans, for a GB therapist
    finally:
        core.close()


def test_the_account_page_links_admins_and_therapists_to_their_pages(app: Any) -> None:
    ther, _ = join_as_therapist(app, "ada@example.org")
    admin = sign_in_admin(app)
    listener = TestClient(app)
    listener.post("/api/guest", json={})
    mine = ther.get("/account").text
    assert 'href="/therapists/me"' in mine and 'href="/admin/verify"' not in mine
    theirs = admin.get("/account").text
    assert 'href="/admin/verify"' in theirs and 'href="/therapists/me"' not in theirs
    plain = listener.get("/account").text
    assert 'href="/admin/verify"' not in plain and 'href="/therapists/me"' not in plain


@pytest.mark.parametrize("smtp_host", ["", "127.0.0.1"])  # loopback: nothing leaves
def test_the_check_your_email_page_says_when_no_mail_is_sent(
    tmp_path: Path, smtp_host: str
) -> None:
    core = Core(
        therapist_settings(
            tmp_path,
            smtp_host=smtp_host,
            smtp_port=9,  # nothing listens: the email waits in the outbox, kept for a retry
            booking_confirmation=True,
            signup_confirmation="never",
        )
    )
    try:
        app = create_app(core)
        _, tid = join_as_therapist(app, "ada@example.org")
        verify_by_form(sign_in_admin(app), tid)
        c = TestClient(app)
        start = first_slot(c, tid)
        page = f"/therapists/{tid}/book?start={quote(start)}&tz=UTC"
        r = c.post(
            f"/therapists/{tid}/book",
            data={
                "csrf_token": form_csrf(c, page),
                "start": start,
                "tz": "UTC",
                "name": "Sam",
                "email": "sam@example.org",
            },
        )
        assert r.status_code == 200 and "Check your email" in r.text
        if smtp_host:
            assert "We sent a link to sam@example.org" in r.text
            assert "no mail server" not in r.text
        else:  # a laptop: the link waits in the outbox folder, and the page says so
            assert "We sent" not in r.text and "no mail server set up" in r.text
    finally:
        core.close()


def test_a_credential_note_is_not_read_as_a_doubt_about_the_person(app: Any) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    page = TestClient(app).get(f"/therapists/{tid}").text
    note = page[page.index('class="small to-confirm"') :]
    note = note[: note.index("</p>")]
    # Sonora's notes on the HCPC (the register's address), never about this therapist
    assert "Sonora's notes on the HCPC credential" in note
    assert "not about this person" in note


def test_the_booking_form_starts_with_a_signed_in_listeners_email(app: Any) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    anon = TestClient(app)
    start = first_slot(anon, tid)
    page = f"/therapists/{tid}/book?start={quote(start)}&tz=UTC"
    assert 'id="b-email" name="email" type="email"' in anon.get(page).text
    assert 'value=""' in re.search(r'<input id="b-email"[^>]*>', anon.get(page).text).group(0)
    listener, _ = join_as_therapist(
        app, "sam@example.org", display_name="Sam Listener", registration_number="AS33333"
    )
    field = re.search(r'<input id="b-email"[^>]*>', listener.get(page).text)
    assert field is not None and 'value="sam@example.org"' in field.group(0)


def test_a_short_notes_tentative_screen_is_shown_as_possible(app: Any, core: Core) -> None:
    # A crisis read by the reader alone in a few words is tentative: the listener sees
    # help "in case it matters"; the therapist sees it as possible, not certain, but
    # still sees it (such a note is sometimes a real crisis: "bought the pills").
    ther, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    c = TestClient(app)
    body = {"start": first_slot(c, tid), "tz": "UTC", "name": "Sam", "email": "sam@example.org"}
    r = c.post(f"/api/therapists/{tid}/bookings", json={**body, "reason": "Sleep"})
    assert r.status_code == 201, r.text
    from sqlalchemy import update

    from sonora.therapists.models import Booking

    for tentative, shown in (
        (True, "Screen: possible crisis (a few words)"),
        (False, "Screen: crisis"),
    ):
        care = {"level": "crisis", "tentative": tentative, "reasons": [], "resources": []}
        with core.store.engine.begin() as conn:
            conn.execute(update(Booking).values(care=care))
        page = ther.get("/therapists/me").text
        assert shown in page
        if tentative:
            assert "Screen: crisis" not in page


def test_the_consults_table_turns_into_cards_on_a_phone(app: Any) -> None:
    # Like the history table: each consult a card of labelled lines on a narrow screen
    # (its cancel form was off the right edge of a phone, in a sideways-scrolling box).
    ther, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    c = TestClient(app)
    body = {"start": first_slot(c, tid), "tz": "UTC", "name": "Sam", "email": "sam@example.org"}
    assert c.post(f"/api/therapists/{tid}/bookings", json=body).status_code == 201
    page = ther.get("/therapists/me").text
    table = page[page.index('aria-labelledby="upcoming"><table') :]
    table = table[: table.index("</table>")]
    assert '<table class="cards">' in table
    for label in ("When", "Who", "Their note"):
        assert f'data-label="{label}"' in table
    assert 'class="cancel-cell"' in table
