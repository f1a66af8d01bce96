"""Bookings held only once the email address confirms; therapists block addresses.

Real app, real SQLite, real outbox rows: the only email an unconfirmed address gets is
its confirmation link, the booker never sees the link, and a slot is taken only by a
confirmed booking.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import web_settings

from sonora.therapists import holds
from sonora.therapists.demo import seed_demo, verify_demo
from sonora.web import Core, create_app


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Core, str]]:
    core = Core(
        web_settings(
            tmp_path, outbox_interval_s=0, booking_notice_hours=0, booking_confirm_minutes=30
        )
    )
    user = core.store.create_user()
    core.store.register(user.id, email="admin@example.org", password_hash="x")
    core.therapists.grant_admin("admin@example.org")
    made = seed_demo(core.therapists)
    verify_demo(core.therapists, "admin@example.org")
    with TestClient(create_app(core), follow_redirects=False) as c:
        yield c, core, made[0].id
    core.close()


def _slots(c: TestClient, tid: str) -> list[str]:
    r = c.get(f"/api/therapists/{tid}/slots", params={"tz": "UTC"})
    assert r.status_code == 200, r.text
    return [s["start"] for s in r.json()["slots"]]


def _mails(core: Core) -> list[Any]:
    return core.therapists.repo.outbox()


def _token_from(mail: Any) -> str:
    msg = email.message_from_string(mail.message, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",)).get_content()
    m = re.search(r"/bookings/([A-Za-z0-9_-]+)/confirm", body)
    assert m, body
    return m.group(1)


def _book(c: TestClient, tid: str, start: str, addr: str) -> Any:
    return c.post(
        f"/api/therapists/{tid}/bookings",
        json={"start": start, "tz": "UTC", "name": 'Sam "S" Lee', "email": addr},
    )


def test_slot_is_held_only_after_the_address_confirms(env: Any) -> None:
    c, core, tid = env
    start = _slots(c, tid)[0]
    r = _book(c, tid, start, "sam@example.org")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and "token" not in body and "manage_url" not in body
    assert "confirm" in body["detail"]
    # One email: the confirmation, to the address given; nothing to the therapist.
    mails = _mails(core)
    assert [(m.kind, m.to_addr) for m in mails] == [("confirm_listener", "sam@example.org")]
    # The slot is still free: an unconfirmed booking holds nothing.
    assert start in _slots(c, tid)
    other = _book(c, tid, start, "kim@example.org")
    assert other.status_code == 202
    sam, kim = _token_from(_mails(core)[0]), _token_from(_mails(core)[1])
    assert sam != kim
    # The link opens a page whose button confirms (a GET alone confirms nothing).
    page = c.get(f"/bookings/{sam}/confirm")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert start in _slots(c, tid)
    ok = c.post(f"/api/bookings/{sam}/confirm", json={})
    assert ok.status_code == 200 and ok.json()["status"] == "booked"
    assert start not in _slots(c, tid)
    kinds = [m.kind for m in _mails(core)]
    assert kinds.count("booked_listener") == 1
    # Confirming again changes nothing; the other pending booking finds the slot taken.
    assert c.post(f"/api/bookings/{sam}/confirm", json={}).json()["status"] == "booked"
    taken = c.post(f"/api/bookings/{kim}/confirm", json={})
    assert taken.status_code == 409 and taken.json()["field"] == "start"
    # Kim got the confirmation request only, never a booking email.
    assert [m.kind for m in _mails(core) if m.to_addr == "kim@example.org"] == ["confirm_listener"]


def test_confirmation_link_expires(env: Any) -> None:
    c, core, tid = env
    start = _slots(c, tid)[1]
    assert _book(c, tid, start, "late@example.org").status_code == 202
    token = _token_from(_mails(core)[0])
    svc = core.therapists
    real_clock = svc.clock
    svc.clock = lambda: real_clock() + dt.timedelta(minutes=31)
    try:
        r = c.post(f"/api/bookings/{token}/confirm", json={})
    finally:
        svc.clock = real_clock
    assert r.status_code == 422 and r.json()["field"] == "token"
    assert "expired" in r.json()["detail"]
    assert start in _slots(c, tid)


def test_a_blocked_address_gets_nothing_and_the_booker_learns_nothing(env: Any) -> None:
    c, core, tid = env
    svc = core.therapists
    t = svc.repo.profile(tid)
    assert holds.block(svc, t, "Pest@Example.org") == "pest@example.org"
    assert holds.blocked(svc, t) == ["pest@example.org"]
    start = _slots(c, tid)[2]
    r = _book(c, tid, start, "pest@example.org")
    assert r.status_code == 202  # the same answer as anyone gets
    assert _mails(core) == []  # but no email at all
    holds.unblock(svc, t, "pest@example.org")
    assert _book(c, tid, _slots(c, tid)[3], "pest@example.org").status_code == 202
    assert [m.to_addr for m in _mails(core)] == ["pest@example.org"]


def test_booking_page_asks_to_check_email_without_revealing_the_link(env: Any) -> None:
    c, core, tid = env
    start = _slots(c, tid)[4]
    page = c.get(f"/therapists/{tid}/book", params={"start": start, "tz": "UTC"})
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    r = c.post(
        f"/therapists/{tid}/book",
        data={
            "csrf_token": token,
            "start": start,
            "tz": "UTC",
            "name": "Sam",
            "email": "page@example.org",
        },
    )
    assert r.status_code == 200, r.text[:500]
    assert "Check your email" in r.text and "page@example.org" in r.text
    link = _token_from(_mails(core)[0])
    assert link not in r.text
    confirm = c.get(f"/bookings/{link}/confirm")
    form_token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', confirm.text).group(1)
    done = c.post(f"/bookings/{link}/confirm", data={"csrf_token": form_token})
    assert done.status_code == 303 and done.headers["location"] == f"/bookings/{link}?new=1"
    assert start not in _slots(c, tid)
