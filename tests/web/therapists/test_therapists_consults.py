"""Consults on the therapist pages against the real app and a real SQLite database:
a therapist cancels only their own consults (the listener is emailed a CANCEL invite),
export and deletion include the directory, and invites say how a consult happens, with
times in the browser's zone first.
"""

from __future__ import annotations

import email
import re
from typing import Any

from fastapi.testclient import TestClient
from icalendar import Calendar
from webkit import (
    THERAPIST_FORM,
    first_slot,
    form_csrf,
    join_as_therapist,
    mail_text,
    sign_in_admin,
    user_id_of,
    verify_by_form,
)


def _book(c: TestClient, tid: str, name: str, email: str) -> dict[str, Any]:
    r = c.post(
        f"/api/therapists/{tid}/bookings",
        json={"start": first_slot(c, tid), "tz": "Europe/London", "name": name, "email": email},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _ics_method(message: str) -> str:
    msg = email.message_from_string(message)
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    return str(Calendar.from_ical(part.get_payload(decode=True))["method"])


def test_a_therapist_cancels_only_their_own_consults(app: Any) -> None:
    svc = app.state.core.therapists
    ada, tid = join_as_therapist(app, "ada@example.org")
    bo, bid = join_as_therapist(
        app, "bo@example.org", display_name="Bo Other", registration_number="AS22222"
    )
    admin = sign_in_admin(app)
    verify_by_form(admin, tid)
    verify_by_form(admin, bid)
    booked = _book(TestClient(app), tid, "Sam", "sam@example.org")
    dash = ada.get("/therapists/me").text
    (booking_id,) = re.findall(r'action="/therapists/me/bookings/([0-9a-f]+)/cancel"', dash)
    before = len(svc.repo.outbox())
    # another therapist cannot cancel it: 404, like an unknown booking
    r = bo.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": form_csrf(bo, "/therapists/me/availability"), "note": "gotcha"},
    )
    assert r.status_code == 404
    # nor anyone without the form's CSRF token, nor a listener
    assert ada.post(f"/therapists/me/bookings/{booking_id}/cancel", data={}).status_code == 403
    guest = TestClient(app)
    guest.post("/api/guest", json={})
    r = guest.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": form_csrf(guest, "/therapists/join")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/therapists/join"
    assert TestClient(app).get(f"/api/bookings/{booked['token']}").json()["status"] == "booked"
    assert len(svc.repo.outbox()) == before
    # a note longer than allowed names the field and cancels nothing
    r = ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": form_csrf(ada, "/therapists/me/availability"), "note": "x" * 501},
    )
    assert r.status_code == 422 and "note" in r.text
    # the therapist cancels it
    r = ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={
            "csrf_token": form_csrf(ada, "/therapists/me/availability"),
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
    body = mail_text(to_sam.message)
    assert "had to cancel" in body and "I am unwell that day." in body
    assert f"/therapists/{tid}" in body  # book another time
    # cancelling again changes nothing and sends nothing
    ada.post(
        f"/therapists/me/bookings/{booking_id}/cancel",
        data={"csrf_token": form_csrf(ada, "/therapists/me/availability")},
    )
    assert len(svc.repo.outbox()) == before + 2


def test_export_and_deletion_include_the_directory(app: Any) -> None:
    core = app.state.core
    svc = core.therapists
    ada, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
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
    assert "deleted their Sonora account" in mail_text(to_ada.message)
    assert _ics_method(to_ada.message) == "CANCEL"
    assert TestClient(app).get(f"/api/bookings/{mine['token']}").status_code == 404
    assert len(ada.get("/api/therapists/me/bookings").json()["bookings"]) == 2

    # the therapist deletes theirs: both listeners get a cancellation, then it is all gone
    ada_id = user_id_of(ada)
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
        assert "has left Sonora's directory" in mail_text(m.message)
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


# -- how consults happen, and times in the browser's zone first (issue #14) -------------
def test_a_consult_invite_says_how_it_happens(app: Any) -> None:
    link = "https://meet.example.org/ada-consults"
    _, tid = join_as_therapist(app, "ada@example.org", consult_via="video", consult_details=link)
    verify_by_form(sign_in_admin(app), tid)
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
        assert f"How: Video call: {link}" in mail_text(m.message)
        msg = email.message_from_string(m.message)
        (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        event = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]
        assert str(event["location"]) == f"Video call: {link}"
    ics = Calendar.from_ical(anon.get(f"/bookings/{booked['token']}/invite.ics").content)
    assert str(ics.walk("VEVENT")[0]["location"]) == f"Video call: {link}"
    # the emailed invites schedule (REQUEST, to the attendee); the downloaded file is a
    # calendar to import: PUBLISH, with no ATTENDEE (RFC 5546 3.2.1) (found by qa11)
    for m in mails:
        (part,) = [
            p
            for p in email.message_from_string(m.message).walk()
            if p.get_content_type() == "text/calendar"
        ]
        assert str(Calendar.from_ical(part.get_payload(decode=True))["method"]) == "REQUEST"
    assert str(ics["method"]) == "PUBLISH"
    event = ics.walk("VEVENT")[0]
    assert "ATTENDEE" not in event and "ORGANIZER" in event
    assert str(event["status"]) == "CONFIRMED"


def test_consult_details_are_checked(app: Any) -> None:
    c = TestClient(app)
    data = {
        **THERAPIST_FORM,
        "email": "bad@example.org",
        "password": "long enough pw",
        "consult_via": "video",
        "consult_details": "zoom me maybe",
    }
    r = c.post(
        "/therapists/join", data={**data, "csrf_token": form_csrf(c)}, follow_redirects=False
    )
    assert r.status_code == 422 and "a video link starts with https://" in r.text
    data.update(consult_via="carrier pigeon", consult_details="")
    r = c.post(
        "/therapists/join", data={**data, "csrf_token": form_csrf(c)}, follow_redirects=False
    )
    assert r.status_code == 422 and "consult_via" in r.text


def test_times_show_in_the_browsers_zone_first(app: Any) -> None:
    _, tid = join_as_therapist(app, "ada@example.org")
    verify_by_form(sign_in_admin(app), tid)
    visitor = TestClient(app)
    visitor.cookies.set("sonora_browser_tz", "America/New_York")
    page = visitor.get(f"/therapists/{tid}").text
    assert "every time below is in <strong>America/New_York</strong>" in page
    # a zone chosen on the page wins over the browser's, and is remembered
    visitor.get(f"/therapists/{tid}", params={"tz": "Asia/Tokyo"})
    assert "<strong>Asia/Tokyo</strong>" in visitor.get(f"/therapists/{tid}").text


def test_time_zone_aliases_are_offered_never_and_stored_canonical(app: Any) -> None:
    """A hand-made join form, a browser and an API client may send an alias
    (Asia/Calcutta, US/Pacific): each is stored and shown as its canonical name, and the
    pickers offer canonical names only."""
    core = app.state.core
    ada, tid = join_as_therapist(app, "ada@example.org", timezone="US/Pacific")
    assert core.therapists.repo.profile(tid).timezone == "America/Los_Angeles"
    form = ada.get("/therapists/me/profile").text
    assert '<option value="America/Los_Angeles" selected' in form
    assert 'value="US/Pacific"' not in form and 'value="Asia/Calcutta"' not in form
    admin = sign_in_admin(app)
    verify_by_form(admin, tid)
    visitor = TestClient(app)
    r = visitor.get(f"/api/therapists/{tid}/slots", params={"tz": "Asia/Calcutta", "days": 14})
    assert r.status_code == 200 and r.json()["timezone"] == "Asia/Kolkata", r.text
    assert r.json()["slots"][0]["local"].endswith("+05:30")
    # the browser's own zone (offline.js's cookie) may be an alias too
    visitor.cookies.set("sonora_browser_tz", "Asia/Calcutta")
    page = visitor.get(f"/therapists/{tid}").text
    assert "<strong>Asia/Kolkata</strong>" in page
    assert '<option value="Asia/Kolkata" selected' in page
    start = first_slot(visitor, tid)
    r = visitor.post(
        f"/api/therapists/{tid}/bookings",
        json={"start": start, "tz": "Africa/Asmera", "name": "Sam", "email": "sam@example.org"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["listener_tz"] == "Africa/Asmara"
    r = visitor.get(f"/api/bookings/{r.json()['token']}")
    assert r.json()["listener_tz"] == "Africa/Asmara", r.text
