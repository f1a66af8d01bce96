"""What the web tests share: the settings of a test app, a listener made through the API,
a check-in, a form's CSRF token (imported as ``webkit``; the app fixtures are in ``tests/web/conftest.py``).
"""

from __future__ import annotations

import email
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from testkit import migrated_sqlite

from sonora.settings import Settings
from sonora.web import Core

CHECKIN = {"tension": 7, "energy": 4, "mood": 4, "goal": "sleep", "minutes": 5}


def make_listener(c: TestClient) -> dict[str, Any]:
    """Make ``c`` a guest listener who loves rain and dislikes chimes; their profile."""
    r = c.post("/api/guest", json={})
    assert r.status_code == 201, r.text
    r = c.put("/api/profile", json={"loved": ["rain"], "disliked": ["chimes"]})
    assert r.status_code == 200, r.text
    return r.json()


def post_checkin(c: TestClient, **over: Any) -> dict[str, Any]:
    """Check in (:data:`CHECKIN` with ``over``) through the API; the plan made."""
    r = c.post("/api/checkins", json={**CHECKIN, **over})
    assert r.status_code == 201, r.text
    return r.json()


def csrf_of(c: TestClient, page: str = "/login") -> str:
    """The CSRF token of the form on ``page``."""
    r = c.get(page)
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
    assert m, f"no CSRF field on {page}"
    return m.group(1)


def web_settings(tmp_path: Path, **over: Any) -> Settings:
    """Settings of a test app: a fresh SQLite database in ``tmp_path`` (already migrated:
    :func:`testkit.migrated_sqlite`), no triage model loaded and no calibration ahead of
    play (unless ``over`` says otherwise)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": over.pop("database_url", None) or migrated_sqlite(tmp_path / "web.db"),
        "secret_key": "test-secret-" + "k" * 32,
        "triage_notes": False,
        "calibrate_ahead": False,  # these tests never play: keep the CPU for them
    }
    return Settings(**{**values, **over})


# -- the therapist directory's pages ----------------------------------------------------
#: The join form of a therapist in Leeds (England).
THERAPIST_FORM = {
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


def therapist_settings(tmp_path: Path, **over: Any) -> Settings:
    """Settings of a directory test app: the outbox sent at once, bookings any time, and
    the direct booking flow (no address confirmation)."""
    values: dict[str, Any] = {
        "outbox_interval_s": 0,
        "booking_notice_hours": 0,
        "booking_confirmation": False,  # the direct flow; confirmation: tests/test_holds.py
    }
    return web_settings(tmp_path, **{**values, **over})


def form_csrf(c: TestClient, page: str = "/therapists/join") -> str:
    """The CSRF token of the form on ``page`` (the join form by default)."""
    r = c.get(page)
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, page
    return m.group(1)


def join_as_therapist(app: Any, email: str, **over: Any) -> tuple[TestClient, str]:
    """A new therapist signs up through the join form; returns their client and id."""
    c = TestClient(app)
    data = {**THERAPIST_FORM, **over, "email": email, "password": "long enough pw"}
    r = c.post(
        "/therapists/join", data={**data, "csrf_token": form_csrf(c)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/therapists/me?msg=joined", r.text[
        -800:
    ]
    # One token for the seven weekly rows: it is an HMAC of the browser's CSRF cookie,
    # which stays the same while the rows are added.
    token = form_csrf(c, "/therapists/me/availability")
    for day, (start, end) in enumerate([("09:00", "12:00")] + [("00:00", "24:00")] * 6):
        r = c.post(
            "/therapists/me/availability",
            data={
                "csrf_token": token,
                "action": "weekly",
                "weekday": str(day),
                "start": start,
                "end": end,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, (day, r.text[-800:])
    tid = app.state.core.therapists.own_profile(app.state.core.store.get_user(user_id_of(c))).id
    return c, tid


def user_id_of(c: TestClient) -> str:
    """The id of the listener signed in on ``c``."""
    return c.get("/api/me").json()["id"]


def sign_in_admin(app: Any) -> TestClient:
    """A client signed in as ``admin@example.org``, granted the admin role."""
    c = TestClient(app)
    r = c.post("/api/signup", json={"email": "admin@example.org", "password": "long enough pw"})
    assert r.status_code in (200, 201), r.text
    app.state.core.therapists.grant_admin("admin@example.org")
    return c


def verify_by_form(admin: TestClient, tid: str, decision: str = "verified") -> Any:
    """The admin records ``decision`` on therapist ``tid`` through the verification page."""
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


def first_slot(c: TestClient, tid: str, tz: str = "UTC") -> str:
    """The first free consult of therapist ``tid`` in the next 14 days (ISO time)."""
    r = c.get(f"/api/therapists/{tid}/slots", params={"tz": tz, "days": 14})
    assert r.status_code == 200, r.text
    return r.json()["slots"][0]["start"]


def cli_env(core: Core) -> dict[str, str]:
    """The environment a ``sonora`` command needs to use ``core``'s database and outbox."""
    s = core.settings
    return {
        "SONORA_DATA_DIR": str(s.data_dir),
        "SONORA_DATABASE_URL": s.database_url,
        "SONORA_SECRET_KEY": s.secret_key or "",
        "SONORA_OUTBOX_INTERVAL_S": "0",
    }


def mail_text(message: str) -> str:
    """The plain-text part of an email (the whole RFC 5322 message)."""
    msg = email.message_from_string(message)
    return "".join(
        p.get_payload(decode=True).decode()
        for p in msg.walk()
        if p.get_content_type() == "text/plain"
    )
