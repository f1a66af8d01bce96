"""Abuse: rate limits (SQLite and PostgreSQL counters), log-in backoff, password rules,
check-out once, request-size limit, ``no-store``, email headers and the country list.

Everything runs against the real app and a real database; the log-in backoff is
stepped with a fake clock so no test sleeps.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sonora.core.database import Database as Store
from sonora.countries import check_country
from sonora.errors import ParameterError
from sonora.limits.counters import SqlCounters
from sonora.settings import Settings, parse_rate
from sonora.therapists.mail import compose
from sonora.web import Core, create_app
from sonora.web.limits import Limits, RateLimited

CHECKIN = {"tension": 7, "energy": 4, "mood": 4, "goal": "unwind", "minutes": 5}


class Clock:
    """A settable epoch clock."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings_for(tmp_path: Path, **over: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'web.db'}",
        "secret_key": "test-secret-" + "k" * 32,
        "triage_notes": False,
        "calibrate_ahead": False,
        "outbox_interval_s": 0.0,
    }
    return Settings(**{**base, **over})


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    cores: list[Core] = []

    def make(*, client: tuple[str, int] = ("203.0.113.7", 5000), **over: Any) -> TestClient:
        core = Core(settings_for(tmp_path, **over))
        cores.append(core)
        return TestClient(create_app(core), client=client, follow_redirects=False)

    yield make
    for c in cores:
        c.close()


# -- counters -------------------------------------------------------------------------
def test_counters_count_atomically_across_threads(store: Store) -> None:
    counters = SqlCounters(store.engine)
    now = 1_000_000.0

    def hammer() -> None:
        for _ in range(25):
            counters.hit("t:client:x", period_s=60, now=now)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.peek("t:client:x", period_s=60, now=now)[0] == 200
    # The next window starts from zero; another key is separate.
    assert counters.hit("t:client:x", period_s=60, now=now + 60) == 1
    assert counters.peek("t:client:y", period_s=60, now=now) == (0, 0.0)
    counters.clear("t:client:x")
    assert counters.peek("t:client:x", period_s=60, now=now)[0] == 0


def test_expired_windows_are_purged(store: Store) -> None:
    counters = SqlCounters(store.engine)
    counters.hit("old", period_s=60, now=0.0)
    counters.hit("new", period_s=60, now=1000.0)
    assert counters.purge(now=1000.0) == 1
    assert counters.peek("new", period_s=60, now=1000.0)[0] == 1


def test_limit_says_when_to_try_again(store: Store, tmp_path: Path) -> None:
    clock = Clock(600.0)  # a window boundary for 10-minute windows
    limits = Limits(
        settings_for(tmp_path, limit_checkins_per_account="3/10m"),
        SqlCounters(store.engine),
        clock=clock,
    )
    for _ in range(3):
        limits.check("checkins", account="u1")
    clock.t += 120.0
    with pytest.raises(RateLimited) as info:
        limits.check("checkins", account="u1")
    assert info.value.retry_after_s == 480  # the rest of the window
    assert "at most 3" in info.value.message and "8 minutes" in info.value.message
    limits.check("checkins", account="u2")  # someone else is not affected
    clock.t += 480.0
    limits.check("checkins", account="u1")  # a new window


def test_a_signed_in_count_finds_the_listener_and_counts_both_scopes(
    store: Store, tmp_path: Path
) -> None:
    """:meth:`Limits.check_signed_in` (one statement on PostgreSQL, issue #15) gives the
    listener and counts as ``user_for_token`` then :meth:`Limits.check` do."""
    clock = Clock(600.0)
    counters = SqlCounters(store.engine)
    limits = Limits(
        settings_for(
            tmp_path, limit_checkins_per_account="2/10m", limit_checkins_per_client="4/10m"
        ),
        counters,
        clock=clock,
    )
    user = store.create_user()
    token = store.issue_token(user.id, days=1)

    def signed_in(client: str, tok: str | None) -> Any:
        return limits.check_signed_in("checkins", client=client, token=tok, accounts=store)

    for _ in range(2):
        found = signed_in("c1", token)
        assert found is not None and found.id == user.id and found.is_guest
    with pytest.raises(RateLimited) as info:  # the account's third
        signed_in("c1", token)
    assert info.value.scope == "account"
    with pytest.raises(RateLimited):  # from elsewhere: still this account's limit
        signed_in("c2", token)
    assert signed_in("c3", "not-a-token") is None  # nobody: counted per client only
    with pytest.raises(RateLimited) as info:  # c1's fourth and fifth: over per client
        signed_in("c1", "not-a-token")
        signed_in("c1", "not-a-token")
    assert info.value.scope == "client"
    key = f"checkins:account:{user.id}"
    assert counters.peek(key, period_s=600.0, now=clock.t)[0] == 4
    assert counters.peek("checkins:client:c1", period_s=600.0, now=clock.t)[0] == 5
    # an expired token is nobody: its listener's account count does not move
    expired = store.issue_token(user.id, days=-1)
    assert signed_in("c4", expired) is None
    assert counters.peek(key, period_s=600.0, now=clock.t)[0] == 4
    assert counters.peek("checkins:client:c4", period_s=600.0, now=clock.t)[0] == 1


def test_rate_settings_are_checked() -> None:
    assert parse_rate("5/h") == (5, 3600.0)
    with pytest.raises(ValueError, match="COUNT/PERIOD"):
        parse_rate("many")
    with pytest.raises(ValueError, match="PERIOD"):
        parse_rate("5/30d")
    with pytest.raises(Exception, match="limit_streams_per_account"):
        Settings(limit_streams_per_account="0/1h", data_dir="/tmp/x", secret_key="k" * 32)


# -- the limits on each route ---------------------------------------------------------
def _guest(c: TestClient) -> None:
    assert c.post("/api/guest", json={}).status_code == 201


def test_checkins_per_account_429_with_retry_after(make_client: Any) -> None:
    c = make_client(limit_checkins_per_account="2/1h")
    _guest(c)
    for _ in range(2):
        assert c.post("/api/checkins", json=CHECKIN).status_code == 201
    r = c.post("/api/checkins", json=CHECKIN)
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    body = r.json()
    assert body["field"] == "rate" and "check-ins" in body["detail"]
    assert body["retry_after_s"] == int(r.headers["Retry-After"])
    # Another listener on the same address is not held back by this one's limit.
    other = TestClient(c.app, client=("203.0.113.7", 5001))
    _guest(other)
    assert other.post("/api/checkins", json=CHECKIN).status_code == 201


def test_checkins_refused_before_the_route_still_count(make_client: Any) -> None:
    """The check-in route counts its limits in its own thread hop; a check-in refused
    before it runs (invalid answers, no session, a cross-site Origin) is counted all
    the same, so a flood of bad requests is held back like good ones."""
    c = make_client(limit_checkins_per_account="3/1h", limit_checkins_per_client="5/1h")
    _guest(c)
    assert c.post("/api/checkins", json={**CHECKIN, "tension": 11}).status_code == 422
    assert c.post("/api/checkins", json=CHECKIN).status_code == 201
    r = c.post("/api/checkins", json=CHECKIN, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = c.post("/api/checkins", json=CHECKIN)  # the fourth for this account
    assert r.status_code == 429 and r.json()["field"] == "rate", r.text
    assert r.headers["Cache-Control"] == "no-store" and "Content-Security-Policy" in r.headers
    # without a session: counted per client (the fifth from here), then 401
    anon = TestClient(c.app, client=("203.0.113.7", 5001))
    assert anon.post("/api/checkins", json=CHECKIN).status_code == 401
    assert anon.post("/api/checkins", json=CHECKIN).status_code == 429


def test_checkins_per_client_and_the_page_says_when(make_client: Any) -> None:
    c = make_client(limit_checkins_per_client="1/1h")
    _guest(c)
    assert c.post("/api/checkins", json=CHECKIN).status_code == 201
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    r = c.post("/checkin", data={"csrf_token": token, "tension": "5", "minutes": "5"})
    assert r.status_code == 429
    assert "text/html" in r.headers["content-type"]
    assert "try again in" in r.text and "UTC" in r.text
    assert "Content-Security-Policy" in r.headers
    assert int(r.headers["Retry-After"]) > 0


def test_signup_and_guests_per_client(make_client: Any) -> None:
    c = make_client(limit_signup_per_client="2/1h", limit_guests_per_client="3/1h")
    codes = [c.post("/api/guest", json={}).status_code for _ in range(2)]
    other = TestClient(c.app, client=("203.0.113.7", 9))  # same address, new browser
    codes += [other.post("/api/guest", json={}).status_code for _ in range(1)]
    third = TestClient(c.app, client=("203.0.113.7", 10))
    assert third.post("/api/guest", json={}).status_code == 429
    assert codes == [201, 200, 201]
    fresh = [
        TestClient(c.app, client=("203.0.113.7", 20 + i)).post(
            "/api/signup", json={"email": f"s{i}@example.org", "password": "tide-lantern-9"}
        )
        for i in range(3)
    ]
    assert [r.status_code for r in fresh] == [201, 201, 429]
    elsewhere = TestClient(c.app, client=("198.51.100.4", 1))
    r = elsewhere.post(
        "/api/signup", json={"email": "s9@example.org", "password": "tide-lantern-9"}
    )
    assert r.status_code == 201


def test_streams_and_downloads_per_account(make_client: Any) -> None:
    c = make_client(limit_streams_per_account="2/10m", limit_downloads_per_account="1/1h")
    _guest(c)
    bogus = "0" * 32  # not a plan: 404, but the attempt counts
    assert [c.get(f"/api/plans/{bogus}/stream").status_code for _ in range(3)] == [404, 404, 429]
    assert [c.get(f"/api/plans/{bogus}/download").status_code for _ in range(2)] == [404, 429]


def test_bookings_per_email_and_client(make_client: Any) -> None:
    c = make_client(limit_bookings_per_email="2/1d", limit_bookings_per_client="3/1h")
    body = {
        "start": "2030-01-01T10:00:00+00:00",
        "tz": "UTC",
        "name": "Sam",
        "email": "Victim@Example.org",
    }
    codes = [
        c.post(f"/api/therapists/{'1' * 32}/bookings", json=body).status_code for _ in range(3)
    ]
    assert codes[:2] == [404, 404] and codes[2] == 429  # third for that address
    r = c.post(
        f"/api/therapists/{'1' * 32}/bookings", json={**body, "email": "someone@example.org"}
    )
    assert r.status_code == 429  # the client's limit (3) is used up too
    assert "bookings" in r.json()["detail"]


# -- log-in backoff -------------------------------------------------------------------
def test_login_backoff_is_per_email_and_client_and_capped(make_client: Any) -> None:
    c = make_client(login_free_failures=3, login_max_backoff_s=60.0)
    owner = TestClient(c.app, client=("198.51.100.1", 1))
    r = owner.post("/api/signup", json={"email": "kim@example.org", "password": "tide-lantern-9"})
    assert r.status_code == 201
    limits: Limits = c.app.state.limits
    clock = Clock(5_000_000.0)
    limits.clock = clock
    bad = {"email": "kim@example.org", "password": "wrong-guess"}
    assert [c.post("/api/login", json=bad).status_code for _ in range(3)] == [401] * 3
    waits = []
    for _ in range(8):
        r = c.post("/api/login", json=bad)
        assert r.status_code == 429, r.text
        waits.append(int(r.headers["Retry-After"]))
        clock.t += waits[-1]  # wait as told, then fail again
        assert c.post("/api/login", json=bad).status_code == 401
    assert waits[:3] == [2, 4, 8]  # doubles ...
    assert max(waits) == 60  # ... up to the cap
    # Even the right password waits its turn from the attacker's address ...
    r = c.post("/api/login", json={**bad, "password": "tide-lantern-9"})
    assert r.status_code == 429 and r.json()["field"] == "password"
    # ... but the owner, elsewhere, is never locked out.
    r = owner.post("/api/login", json={**bad, "password": "tide-lantern-9"})
    assert r.status_code == 200
    # Once the wait is over, the right password works and clears the count.
    clock.t += 60
    assert c.post("/api/login", json={**bad, "password": "tide-lantern-9"}).status_code == 200
    assert c.post("/api/login", json=bad).status_code == 401


def test_login_per_client_across_emails(make_client: Any) -> None:
    c = make_client(limit_login_per_client="5/10m")
    codes = [
        c.post(
            "/api/login", json={"email": f"u{i}@example.org", "password": "x-x-x-x-x"}
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]


# -- passwords and sign-up ------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "common"),
        ("12345678", "common"),
        ("Password1!", "common"),
        ("        ", "spaces"),
        ("sam.lee@example.org", "email"),
        ("zzzzzzzzzz", "repeated"),
        ("short", "at least"),
    ],
)
def test_weak_passwords_are_refused(make_client: Any, password: str, why: str) -> None:
    c = make_client()
    r = c.post("/api/signup", json={"email": "Sam.Lee@example.org", "password": password})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "password" and why in r.json()["detail"]


def test_a_good_password_is_taken(make_client: Any) -> None:
    c = make_client()
    r = c.post("/api/signup", json={"email": "sam@example.org", "password": "orchard-tide-lamp"})
    assert r.status_code == 201


# -- check-out once -------------------------------------------------------------------
def test_check_out_once_and_never_empty(make_client: Any) -> None:
    c = make_client()
    _guest(c)
    plan_id = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    r = c.post(f"/api/plans/{plan_id}/outcome", json={})
    assert r.status_code == 422 and r.json()["field"] == "tension"
    first = c.post(f"/api/plans/{plan_id}/outcome", json={"tension": 2, "mood": 7, "rating": 8})
    assert first.status_code == 201
    again = c.post(f"/api/plans/{plan_id}/outcome", json={"tension": 9})
    assert again.status_code == 409 and again.json()["field"] == "outcome"
    kept = c.get("/api/export").json()["outcomes"]
    assert len(kept) == 1
    assert kept[0]["answers"]["mood"] == 7 and kept[0]["answers"]["tension"] == 2


def test_a_partial_first_check_out_keeps_only_what_was_sent(make_client: Any) -> None:
    c = make_client()
    _guest(c)
    made = c.post("/api/checkins", json=CHECKIN).json()
    plan_id = made["plan"]["id"]
    assert c.post(f"/api/plans/{plan_id}/outcome", json={"tension": 3}).status_code == 201
    data = c.get("/api/export").json()
    answers = data["outcomes"][0]["answers"]
    assert answers["tension"] == 3 and answers["mood"] is None and answers["rating"] is None
    assert answers["completed"] is True and answers["fell_asleep"] is False
    # ... and the check-in it is compared with is untouched
    checkin = next(x for x in data["checkins"] if x["id"] == made["checkin"]["id"])
    assert checkin["answers"]["mood"] == 4 and checkin["answers"]["tension"] == 7


def test_patch_edits_only_the_fields_sent(make_client: Any) -> None:
    c = make_client()
    _guest(c)
    plan_id = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    url = f"/api/plans/{plan_id}/outcome"
    # nothing to edit yet
    assert c.patch(url, json={"mood": 6}).status_code == 404
    first = c.post(url, json={"tension": 2, "mood": 7, "rating": 8})
    assert first.status_code == 201
    r = c.patch(url, json={"rating": 3})
    assert r.status_code == 200, r.text
    answers = c.get("/api/export").json()["outcomes"][0]["answers"]
    assert (answers["tension"], answers["mood"], answers["rating"]) == (2, 7, 3)
    # a lower rating is a lower score; the history shows the edit
    assert r.json()["score"] < first.json()["score"]
    after = c.get("/api/history").json()["sessions"][0]["after"]
    assert after["tension"] == 2 and after["mood"] == 7
    # same validation and ranges as the first check-out, and nothing half-written
    for body, field in (({"mood": 11}, "mood"), ({"completed": "maybe"}, "completed")):
        bad = c.patch(url, json=body)
        assert bad.status_code == 422 and bad.json()["field"] == field, bad.text
    bad = c.patch(url, json={"colour": "blue"})
    assert bad.status_code == 422 and "colour" in bad.text
    assert c.get("/api/export").json()["outcomes"][0]["answers"] == answers
    # clearing every answer is refused, naming the field sent
    c.patch(url, json={"mood": None, "rating": None})
    bad = c.patch(url, json={"tension": None})
    assert bad.status_code == 422 and bad.json()["field"] == "tension"


@pytest.mark.parametrize("body", [None, {}])
def test_an_empty_patch_is_422_naming_the_fields(make_client: Any, body: Any) -> None:
    c = make_client()
    _guest(c)
    plan_id = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    url = f"/api/plans/{plan_id}/outcome"
    assert c.post(url, json={"tension": 2}).status_code == 201
    r = c.patch(url) if body is None else c.patch(url, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "outcome"
    for name in ("tension", "energy", "mood", "rating", "completed", "fell_asleep"):
        assert name in r.json()["detail"]


def test_the_after_form_twice_is_409_and_keeps_the_first(make_client: Any) -> None:
    c = make_client()
    _guest(c)
    plan_id = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]

    def submit(tension: str) -> Any:
        page = c.get(f"/after/{plan_id}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"csrf_token": token.group(1), "tension": tension, "ending": "finished"}
        return c.post(f"/after/{plan_id}", data=form, follow_redirects=False)

    assert submit("2").status_code == 303
    again = submit("9")
    assert again.status_code == 409
    assert "already checked out" in again.text and "first answers stand" in again.text
    assert c.get("/api/export").json()["outcomes"][0]["answers"]["tension"] == 2


# -- request size, no-store, country ----------------------------------------------------
def test_request_size_limit(make_client: Any) -> None:
    c = make_client(max_body_bytes=10_000)
    _guest(c)
    big = '{"note": "' + "x" * 20_000 + '"}'
    r = c.post("/api/checkins", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"x" * 1000

    r = c.post("/api/checkins", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert c.post("/api/checkins", json=CHECKIN).status_code == 201  # small bodies pass


def test_personal_data_is_not_stored_by_caches(make_client: Any) -> None:
    c = make_client()
    _guest(c)
    made = c.post("/api/checkins", json=CHECKIN).json()
    for path in (
        "/api/history",
        "/api/me",
        "/api/profile",
        "/api/export",
        f"/api/checkins/{made['checkin']['id']}",
        f"/api/plans/{made['plan']['id']}",
    ):
        r = c.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-store", path
    assert c.get("/history").headers["cache-control"] == "no-store"
    assert c.post("/api/checkins", json=CHECKIN).headers["cache-control"] == "no-store"


@pytest.mark.parametrize("bad", ["ZZ", "XX", "G1", "  ", "AA", "EU"])
def test_country_must_be_iso_3166(make_client: Any, bad: str) -> None:
    c = make_client()
    _guest(c)
    r = c.put("/api/profile", json={"country": bad})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "country" and "ISO 3166-1" in r.json()["detail"]


def test_country_codes_are_normalised() -> None:
    assert check_country(" ie ") == "IE" and check_country("UK") == "GB"
    with pytest.raises(ParameterError, match="default_country"):
        check_country("QQ", "default_country")
    with pytest.raises(Exception, match="default_country"):
        Settings(default_country="ZZ", data_dir="/tmp/x", secret_key="k" * 32)


# -- email headers ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        'Sam "The Boss" O\'Neil, Jr., who has a name long enough to need folding twice over',
        'Zoë "Ø" Müller, PhD',
        'a",b <evil@example.org>,"c',
        "Line\r\nBcc: evil@example.org",
        "x" * 120,
    ],
)
def test_to_header_is_one_address_whatever_the_name(name: str) -> None:
    raw = compose(
        sender="Sonora Consults <sonora@example.org>",
        to_addr="sam@example.org",
        to_name=name,
        subject="Your free consult",
        text="Hello",
    )
    msg = email.message_from_string(raw, policy=email.policy.default)
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == "sam@example.org"
    assert to[0].display_name == " ".join(name.replace("\r\n", " ").split()) or (
        to[0].display_name == name
    )
    assert msg["Bcc"] is None
    sender = msg["From"].addresses
    assert len(sender) == 1 and sender[0].addr_spec == "sonora@example.org"
    assert sender[0].display_name == "Sonora Consults"
