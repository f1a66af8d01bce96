"""Sign-up that does not reveal registered addresses (when the server sends email), and
the direct sign-up of a laptop without mail; both through the real app and database."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from webkit import csrf_of

from sonora.settings import Settings
from sonora.web import Core, create_app

PASSWORD = "tide-lantern-orchard"


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    cores: list[Core] = []

    def make(**over: Any) -> tuple[TestClient, Core]:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path / 'web.db'}",
            "secret_key": "test-secret-" + "k" * 32,
            "triage_notes": False,
            "calibrate_ahead": False,
            "outbox_interval_s": 0.0,  # mail stays in the outbox, where the test reads it
            "rate_limits": False,
        }
        core = Core(Settings(**{**values, **over}))
        cores.append(core)
        return TestClient(create_app(core), follow_redirects=False), core

    yield make
    for c in cores:
        c.close()


def _mails(core: Core) -> list[Any]:
    return core.therapists.repo.outbox()


def _link(core: Core, to: str) -> str:
    [mail] = [m for m in _mails(core) if m.to_addr == to and m.kind == "signup_confirm"]
    body = email.message_from_string(mail.message, policy=email.policy.default)
    text = body.get_body(("plain",)).get_content()
    m = re.search(r"/signup/confirm/(\S+)", text)
    assert m, text
    return m.group(1)


def test_sign_up_answers_the_same_for_new_and_known_addresses(make_client: Any) -> None:
    c, core = make_client(signup_confirmation="always")
    # An account that exists (made directly, as a laptop would have).
    guest = core.accounts.create_user()
    core.accounts.register(guest.id, email="known@example.org", password_hash="x")

    answers = []
    for address in ("known@example.org", "new@example.org"):
        c.cookies.clear()
        r = c.post("/api/signup", json={"email": address, "password": PASSWORD})
        answers.append((r.status_code, {k: v for k, v in r.json().items() if k != "id"}))
    assert answers[0] == answers[1]
    assert answers[0][0] == 202 and answers[0][1]["is_guest"] is True
    # The difference is only in the mailbox of the address's owner.
    kinds = {(m.to_addr, m.kind) for m in _mails(core)}
    assert kinds == {("known@example.org", "signup_exists"), ("new@example.org", "signup_confirm")}
    # Nothing is registered before the link: the new address cannot log in yet.
    c.cookies.clear()
    r = c.post("/api/login", json={"email": "new@example.org", "password": PASSWORD})
    assert r.status_code == 401


def test_the_link_needs_the_password_and_makes_the_account(make_client: Any) -> None:
    c, core = make_client(signup_confirmation="always")
    r = c.post("/api/signup", json={"email": "Sam@Example.org", "password": PASSWORD})
    assert r.status_code == 202
    guest_id = r.json()["id"]
    token = _link(core, "sam@example.org")
    # Whoever holds the link without the password (the address's owner, when someone
    # else signed up with it) cannot confirm an account whose password another knows.
    other = TestClient(c.app, follow_redirects=False)
    r = other.post("/api/signup/confirm", json={"token": token, "password": "not-the-one-1"})
    assert r.status_code == 401 and r.json()["field"] == "password"
    r = c.post("/api/signup/confirm", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": guest_id, "email": "sam@example.org", "is_guest": False}
    assert c.get("/api/me").json()["email"] == "sam@example.org"
    # A second use is refused (the guest is an account now), and log-in works.
    r = c.post("/api/signup/confirm", json={"token": token, "password": PASSWORD})
    assert r.status_code == 400 and r.json()["field"] == "token"
    c.cookies.clear()
    r = c.post("/api/login", json={"email": "sam@example.org", "password": PASSWORD})
    assert r.status_code == 200


def test_forged_replaced_and_weak_sign_ups_are_refused(make_client: Any) -> None:
    c, core = make_client(signup_confirmation="always")
    r = c.post("/api/signup", json={"email": "a@example.org", "password": "password"})
    assert r.status_code == 400 and r.json()["field"] == "password"  # same for any address
    assert _mails(core) == []
    c.post("/api/signup", json={"email": "a@example.org", "password": PASSWORD})
    first = _link(core, "a@example.org")
    body, sig = first.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    r = c.post("/api/signup/confirm", json={"token": forged, "password": PASSWORD})
    assert r.status_code == 400 and r.json()["field"] == "token"
    # A newer sign-up from the same browser voids the older link.
    c.post("/api/signup", json={"email": "b@example.org", "password": "orchard-lamp-tide"})
    r = c.post("/api/signup/confirm", json={"token": first, "password": PASSWORD})
    assert r.status_code == 400 and r.json()["field"] == "token"
    r = c.post(
        "/api/signup/confirm",
        json={"token": _link(core, "b@example.org"), "password": "orchard-lamp-tide"},
    )
    assert r.status_code == 200 and r.json()["email"] == "b@example.org"


def test_pages_sign_up_by_link(make_client: Any) -> None:
    c, core = make_client(signup_confirmation="always")
    page = c.get("/signup")
    assert "We email you a link to finish" in page.text
    r = c.post(
        "/signup",
        data={
            "email": "pat@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_of(c, "/signup"),
        },
    )
    assert r.status_code == 202 and "Check your email" in r.text
    token = _link(core, "pat@example.org")
    form = c.get(f"/signup/confirm/{token}")
    assert form.status_code == 200 and "Finish signing up" in form.text
    csrf = csrf_of(c, f"/signup/confirm/{token}")
    r = c.post(f"/signup/confirm/{token}", data={"password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/account?msg=signed-up"
    assert c.get("/api/me").json()["email"] == "pat@example.org"


def test_without_outgoing_mail_sign_up_is_direct_and_says_so(make_client: Any) -> None:
    c, core = make_client()  # auto, and no SMTP server: a laptop
    assert core.settings.signup_confirms is False
    page = c.get("/signup")
    assert "This server sends no email" in page.text
    r = c.post("/api/signup", json={"email": "lee@example.org", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["is_guest"] is False  # in one step
    c.cookies.clear()
    r = c.post("/api/signup", json={"email": "lee@example.org", "password": PASSWORD})
    assert r.status_code == 409  # the trade-off the page states
    assert _mails(core) == []
    # With an SMTP server set, "auto" confirms by link.
    assert Settings(smtp_host="smtp.example.org").signup_confirms is True
    assert (
        Settings(smtp_host="smtp.example.org", signup_confirmation="never").signup_confirms is False
    )
