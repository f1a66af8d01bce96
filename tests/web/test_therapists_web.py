"""The therapist pages and JSON API against the real app and a real SQLite database.

Who sees what (listed profiles only; a therapist's own bookings only; a booking link
shows one booking), the admin's verification flow, bad input naming the field, CSRF,
and a booking reason screened by the real triage (crisis banner on the confirmation).
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from webkit import web_settings

from sonora.settings import Settings
from sonora.therapists.demo import seed_demo
from sonora.web import Core, create_app

PROFILE = {
    "display_name": "Ada Lovelace",
    "country": "GB",
    "registration_number": "AS12345",
    "region": "West Yorkshire",
    "city": "Leeds",
    "in_person": "on",
    "online": "on",
    "languages": "English",
    "populations": ["adults"],
    "approaches": ["songwriting"],
    "bio": "Hello.",
    "timezone": "",
}


def _settings(tmp_path: Path, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "outbox_interval_s": 0,
        "booking_notice_hours": 0,
        "booking_confirmation": False,  # the direct flow; confirmation: tests/test_holds.py
    }
    return web_settings(tmp_path, **{**values, **over})


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(_settings(tmp_path))
    yield c
    c.close()


@pytest.fixture
def app(core: Core) -> Any:
    return create_app(core)


def _csrf(c: TestClient, page: str = "/therapists/join") -> str:
    r = c.get(page)
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, page
    return m.group(1)


def _join(app: Any, email: str, **over: Any) -> tuple[TestClient, str]:
    """A new therapist signs up through the join form; returns their client and id."""
    c = TestClient(app)
    data = {**PROFILE, **over, "email": email, "password": "long enough pw"}
    r = c.post("/therapists/join", data={**data, "csrf_token": _csrf(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/therapists/me?msg=joined", r.text[
        -800:
    ]
    r = c.post(
        "/therapists/me/availability",
        data={
            "csrf_token": _csrf(c, "/therapists/me/availability"),
            "action": "weekly",
            "weekday": "0",
            "start": "09:00",
            "end": "12:00",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    for day in range(1, 7):
        c.post(
            "/therapists/me/availability",
            data={
                "csrf_token": _csrf(c, "/therapists/me/availability"),
                "action": "weekly",
                "weekday": str(day),
                "start": "00:00",
                "end": "24:00",
            },
        )
    tid = app.state.core.therapists.own_profile(app.state.core.store.get_user(_me(c))).id
    return c, tid


def _me(c: TestClient) -> str:
    return c.get("/api/me").json()["id"]


def _admin(app: Any) -> TestClient:
    c = TestClient(app)
    r = c.post("/api/signup", json={"email": "admin@example.org", "password": "long enough pw"})
    assert r.status_code in (200, 201), r.text
    app.state.core.therapists.grant_admin("admin@example.org")
    return c


def _verify(admin: TestClient, tid: str, decision: str = "verified") -> Any:
    page = admin.get("/admin/verify")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    number = re.search(
        rf'action="/admin/verify/{tid}".*?name="registration_number" value="([^"]+)"',
        page.text,
        re.S,
    ).group(1)
    return admin.post(
        f"/admin/verify/{tid}",
        data={
            "csrf_token": token,
            "decision": decision,
            "note": "HCPC register, current",
            "registration_number": number,
        },
        follow_redirects=False,
    )


def _slot(c: TestClient, tid: str, tz: str = "UTC") -> str:
    r = c.get(f"/api/therapists/{tid}/slots", params={"tz": tz, "days": 14})
    assert r.status_code == 200, r.text
    return r.json()["slots"][0]["start"]


def test_join_verify_list_book_and_dashboard(app: Any) -> None:
    ther, tid = _join(app, "ada@example.org")
    anon = TestClient(app)
    # not listed before verification: 404 like a profile that does not exist
    assert anon.get(f"/therapists/{tid}").status_code == 404
    assert anon.get(f"/api/therapists/{tid}").status_code == 404
    assert tid not in anon.get("/therapists").text
    dash = ther.get("/therapists/me").text
    assert "not listed" in dash and "Not verified yet" in dash
    card = dash[dash.index("<h1>") : dash.index("Edit profile")]
    assert "music therapist" not in card  # only beside a verified credential

    admin = _admin(app)
    page = admin.get("/admin/verify").text
    assert "https://www.hcpc-uk.org/check-the-register/" in page and "AS12345" in page
    assert "to confirm" in page.lower()  # a "check" note (docs/references.md) shown as such
    assert _verify(admin, tid).status_code == 303
    listing = anon.get(
        "/therapists", params={"near": "Bradford", "sort": "distance", "tz": "Europe/London"}
    )
    assert listing.status_code == 200
    assert f"/therapists/{tid}" in listing.text and "HCPC music therapist" in listing.text
    assert re.search(r"<strong>\d+ km</strong> away", listing.text)
    assert "admin@example.org" not in listing.text

    start = _slot(anon, tid, "America/New_York")
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
    other, _ = _join(app, "bo@example.org", display_name="Bo Other", registration_number="AS22222")
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
    _, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    c = TestClient(app)
    s1 = _slot(c, tid)
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
    s2 = _slot(c, tid)
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
    token = _csrf(c, f"/bookings/{two['token']}")
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
    _, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    c = TestClient(app)
    body = {
        "start": _slot(c, tid),
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
    _, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    c = TestClient(app)
    start = _slot(c, tid)
    token = _csrf(c, f"/therapists/{tid}/book?start={quote(start)}&tz=UTC")
    form = {"csrf_token": token, "start": start, "tz": "UTC", "name": "A", "email": "a@example.org"}
    assert c.post(f"/therapists/{tid}/book", data=form, follow_redirects=False).status_code == 303
    r = c.post(f"/therapists/{tid}/book", data={**form, "email": "b@example.org"})
    assert r.status_code == 409 and "Just taken" in r.text
    assert len(re.findall(rf"/therapists/{tid}/book\?start=", r.text)) >= 3
    r = c.post(f"/therapists/{tid}/book", data={**form, "email": "nope"})
    assert r.status_code == 422 and "Please check email" in r.text


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
    admin = _admin(app)
    queue = admin.get("/admin/verify").text
    assert queue.count("demo — not a real person") == 5
    # verified through the real admin form: listed, still a demo, never "music therapist"
    assert _verify(admin, made[0].id).status_code == 303
    page = c.get("/therapists").text
    cards = _cards(page)
    assert len(cards) == 1 and made[0].display_name in cards[0]
    assert "Demo profile" in cards[0] and "Not a real person" in cards[0]
    assert "music therapist" not in cards[0] and "Verified" not in cards[0]
    profile = c.get(f"/therapists/{made[0].id}").text
    assert "Demo profile" in profile and "HCPC music therapist" not in profile
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


def _cli_env(core: Core) -> dict[str, str]:
    s = core.settings
    return {
        "SONORA_DATA_DIR": str(s.data_dir),
        "SONORA_DATABASE_URL": s.database_url,
        "SONORA_SECRET_KEY": s.secret_key or "",
        "SONORA_OUTBOX_INTERVAL_S": "0",
    }


def test_demo_verify_as_records_a_labelled_verification(app: Any) -> None:
    from typer.testing import CliRunner

    from sonora.cli import app as cli
    from sonora.therapists.demo import DEMO_NOTE

    core = app.state.core
    env = _cli_env(core)
    runner = CliRunner()
    # not an admin: refused, and nothing is added
    r = runner.invoke(cli, ["therapists", "demo", "--verify-as", "admin@example.org"], env=env)
    assert r.exit_code == 2 and "not an admin account" in r.output
    assert core.therapists.repo.profiles() == []
    _admin(app)
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
    uid = _me(listener)
    app.state.core.save_profile(app.state.core.store.get_user(uid), {"country": "AU"})
    sections = re.findall(r'<h4 id="find-([A-Z]{2})">', listener.get("/therapists").text)
    assert sections[0] == "AU" and len(sections) == 4
    # a search nobody verified matches says so, with the same links
    _, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    assert len(_cards(c.get("/therapists").text)) == 1
    page = c.get("/therapists", params={"country": "US"}).text
    assert _cards(page) == [] and "nobody verified matches this search" in page
    assert 'href="https://www.cbmt.org"' in page


def _book(c: TestClient, tid: str, name: str, email: str) -> dict[str, Any]:
    r = c.post(
        f"/api/therapists/{tid}/bookings",
        json={"start": _slot(c, tid), "tz": "Europe/London", "name": name, "email": email},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _ics_method(message: str) -> str:
    msg = email.message_from_string(message)
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    return str(Calendar.from_ical(part.get_payload(decode=True))["method"])


def _text(message: str) -> str:
    msg = email.message_from_string(message)
    return "".join(
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_type() == "text/plain"
    )


def test_a_therapist_cancels_only_their_own_consults(app: Any) -> None:
    svc = app.state.core.therapists
    ada, tid = _join(app, "ada@example.org")
    bo, bid = _join(app, "bo@example.org", display_name="Bo Other", registration_number="AS22222")
    admin = _admin(app)
    _verify(admin, tid)
    _verify(admin, bid)
    booked = _book(TestClient(app), tid, "Sam", "sam@example.org")
    dash = ada.get("/therapists/me").text
    (booking_id,) = re.findall(r'action="/therapists/me/bookings/([0-9a-f]+)/cancel"', dash)
    before = len(svc.repo.outbox())
    # another therapist cannot cancel it: 404, like an unknown booking
    r = bo.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": _csrf(bo, "/therapists/me/availability"), "note": "gotcha"},
    )
    assert r.status_code == 404
    # nor anyone without the form's CSRF token, nor a listener
    assert ada.post(f"/therapists/me/bookings/{booking_id}/cancel", data={}).status_code == 403
    guest = TestClient(app)
    guest.post("/api/guest", json={})
    r = guest.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": _csrf(guest, "/therapists/join")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/therapists/join"
    assert TestClient(app).get(f"/api/bookings/{booked['token']}").json()["status"] == "booked"
    assert len(svc.repo.outbox()) == before
    # a note longer than allowed names the field and cancels nothing
    r = ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": _csrf(ada, "/therapists/me/availability"), "note": "x" * 501},
    )
    assert r.status_code == 422 and "note" in r.text
    # the therapist cancels it
    r = ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={
            "csrf_token": _csrf(ada, "/therapists/me/availability"),
            "note": "I am unwell that day.",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/therapists/me?msg=cancelled"
    assert "Sam" not in ada.get("/therapists/me").text.split("Upcoming consults")[1]
    assert TestClient(app).get(f"/api/bookings/{booked['token']}").json()["status"] == "cancelled"
    assert booked["start"] in [
        s["start"]
        for s in ada.get(f"/api/therapists/{tid}/slots", params={"days": 14}).json()["slots"]
    ]
    new = svc.repo.outbox()[before:]
    assert sorted((m.kind, m.to_addr) for m in new) == [
        ("cancelled_listener", "sam@example.org"),
        ("cancelled_therapist", "ada@example.org"),
    ]
    to_sam = next(m for m in new if m.to_addr == "sam@example.org")
    assert _ics_method(to_sam.message) == "CANCEL"
    body = _text(to_sam.message)
    assert "had to cancel" in body and "I am unwell that day." in body
    assert f"/therapists/{tid}" in body  # book another time
    # cancelling again changes nothing and sends nothing
    ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": _csrf(ada, "/therapists/me/availability")},
    )
    assert len(svc.repo.outbox()) == before + 2


def test_export_and_deletion_include_the_directory(app: Any) -> None:
    core = app.state.core
    svc = core.therapists
    ada, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    listener = TestClient(app)
    assert listener.post(
        "/api/signup", json={"email": "lee@example.org", "password": "long enough pw"}
    ).status_code in (200, 201)
    mine = _book(listener, tid, "Lee", "lee@example.org")  # signed in
    anon = _book(TestClient(app), tid, "Sam", "sam@example.org")  # signed out
    _book(TestClient(app), tid, "Lee again", "lee@example.org")  # signed out, same email

    # the therapist's export: profile, hours, verification records, bookings
    data = ada.get("/api/export").json()
    th = data["therapist"]
    assert th["profile"]["id"] == tid and th["profile"]["registration_number"] == "AS12345"
    assert len(th["availability"]["weekly"]) == 7
    (v,) = th["verifications"]
    assert v["decision"] == "verified" and v["admin_email"] == "admin@example.org"
    assert sorted(b["name"] for b in th["bookings"]) == ["Lee", "Lee again", "Sam"]
    assert "token_hash" not in str(data)
    # the listener's export: the booking made while signed in only
    data = listener.get("/api/export").json()
    assert data["therapist"] is None
    (b,) = data["bookings"]
    assert (b["name"], b["therapist_name"]) == ("Lee", "Ada Lovelace")
    assert b["starts_at"] == mine["start"]

    # the listener deletes their account: the therapist is told, the booking goes
    before = {m.id for m in svc.repo.outbox()}
    r = listener.delete("/api/account")
    assert r.status_code == 200 and r.json()["deleted"]["cancelled_consults"] == 1
    new = [m for m in svc.repo.outbox() if m.id not in before]
    assert sorted((m.kind, m.to_addr) for m in new) == [
        ("cancelled_listener", "lee@example.org"),
        ("cancelled_therapist", "ada@example.org"),
    ]
    # the emails about the deleted booking went with it
    assert len(svc.repo.outbox()) == len(before) - 2 + 2
    to_ada = next(m for m in new if m.to_addr == "ada@example.org")
    assert "deleted their Sonora account" in _text(to_ada.message)
    assert _ics_method(to_ada.message) == "CANCEL"
    assert TestClient(app).get(f"/api/bookings/{mine['token']}").status_code == 404
    assert len(ada.get("/api/therapists/me/bookings").json()["bookings"]) == 2

    # the therapist deletes theirs: both listeners get a cancellation, then it is all gone
    ada_id = _me(ada)
    before = {m.id for m in svc.repo.outbox()}
    r = ada.delete("/api/account")
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert deleted["cancelled_consults"] == 2 and deleted["therapist_profiles"] == 1
    assert deleted["availability_rules"] == 7 and deleted["therapist_verifications"] == 1
    new = [m for m in svc.repo.outbox() if m.id not in before]
    assert sorted((m.kind, m.to_addr) for m in new) == [
        ("cancelled_listener", "lee@example.org"),
        ("cancelled_listener", "sam@example.org"),
    ]
    for m in new:
        assert _ics_method(m.message) == "CANCEL"
        assert "has left Sonora's directory" in _text(m.message)
    anyone = TestClient(app)
    assert anyone.get(f"/api/bookings/{anon['token']}").status_code == 404
    assert anyone.get(f"/therapists/{tid}").status_code == 404
    assert svc.repo.profiles() == []
    assert set(core.store.count_rows(ada_id).values()) == {0}
    # nothing addressed to the therapist stays behind (their "verified" email included)
    assert [m for m in svc.repo.outbox() if m.to_addr == "ada@example.org"] == []
    # what is left is the three cancellations to listeners, and they are delivered
    assert sorted(m.to_addr for m in svc.repo.outbox()) == [
        "lee@example.org",
        "lee@example.org",
        "sam@example.org",
    ]
    assert svc.deliver().sent == 3 and svc.repo.outbox(unsent_only=True) == []


def test_the_remind_command_sends_one_reminder_per_expiry(app: Any) -> None:
    import datetime as dt

    from typer.testing import CliRunner

    from sonora.cli import app as cli

    core = app.state.core
    svc = core.therapists
    _, tid = _join(app, "ada@example.org")
    admin = _admin(app)
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
    env = _cli_env(core)
    runner = CliRunner()
    r = runner.invoke(cli, ["therapists", "remind", "--days", "5"], env=env)
    assert r.exit_code == 0 and "Queued 0" in r.output  # 10 days away: not yet
    r = runner.invoke(cli, ["therapists", "remind"], env=env)  # 30 days ahead
    assert r.exit_code == 0 and "Queued 1" in r.output and soon in r.output
    r = runner.invoke(cli, ["therapists", "remind"], env=env)
    assert r.exit_code == 0 and "Queued 0" in r.output
    (m,) = [m for m in svc.repo.outbox() if m.kind == "recheck_therapist"]
    assert m.to_addr == "ada@example.org" and soon in m.subject
    assert "/therapists/me/profile" in _text(m.message)


def test_a_crisis_reason_puts_help_first_on_the_confirmation(tmp_path: Path) -> None:
    core = Core(_settings(tmp_path, triage_notes=True))
    try:
        app = create_app(core)
        _, tid = _join(app, "ada@example.org")
        _verify(_admin(app), tid)
        c = TestClient(app)
        r = c.post(
            f"/api/therapists/{tid}/bookings",
            json={
                "start": _slot(c, tid),
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


# -- how consults happen, and times in the browser's zone first (issue #14) -------------
def test_a_consult_invite_says_how_it_happens(app: Any) -> None:
    link = "https://meet.example.org/ada-consults"
    _, tid = _join(app, "ada@example.org", consult_via="video", consult_details=link)
    _verify(_admin(app), tid)
    anon = TestClient(app)
    page = anon.get(f"/therapists/{tid}").text
    assert "How the consult happens: <strong>Video call</strong>" in page
    assert link not in page  # the link is for the person who booked, not the public
    svc = app.state.core.therapists
    before = len(svc.repo.outbox())
    booked = _book(anon, tid, "Sam", "sam@example.org")
    mails = svc.repo.outbox()[before:]
    assert len(mails) == 2
    for m in mails:
        assert f"How: Video call: {link}" in _text(m.message)
        msg = email.message_from_string(m.message)
        (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
        assert str(event["location"]) == f"Video call: {link}"
    ics = Calendar.from_ical(anon.get(f"/bookings/{booked['token']}/invite.ics").content)
    assert str(ics.walk("VEVENT")[0]["location"]) == f"Video call: {link}"


def test_consult_details_are_checked(app: Any) -> None:
    c = TestClient(app)
    data = {
        **PROFILE,
        "email": "bad@example.org",
        "password": "long enough pw",
        "consult_via": "video",
        "consult_details": "zoom me maybe",
    }
    r = c.post("/therapists/join", data={**data, "csrf_token": _csrf(c)}, follow_redirects=False)
    assert r.status_code == 422 and "a video link starts with https://" in r.text
    data.update(consult_via="carrier pigeon", consult_details="")
    r = c.post("/therapists/join", data={**data, "csrf_token": _csrf(c)}, follow_redirects=False)
    assert r.status_code == 422 and "consult_via" in r.text


def test_times_show_in_the_browsers_zone_first(app: Any) -> None:
    _, tid = _join(app, "ada@example.org")
    _verify(_admin(app), tid)
    visitor = TestClient(app)
    visitor.cookies.set("sonora_browser_tz", "America/New_York")
    page = visitor.get(f"/therapists/{tid}").text
    assert "every time below is in <strong>America/New_York</strong>" in page
    # a zone chosen on the page wins over the browser's, and is remembered
    visitor.get(f"/therapists/{tid}", params={"tz": "Asia/Tokyo"})
    assert "<strong>Asia/Tokyo</strong>" in visitor.get(f"/therapists/{tid}").text
