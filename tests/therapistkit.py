"""Set-up the therapist tests share: a hand-moved clock, an account, a verified
therapist with weekly hours, a booking form (imported as ``therapistkit``; the fixtures
are in ``tests/therapists/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sonora.core.database import Database as Store
from sonora.settings import Settings
from sonora.therapists.mail import FileSender
from sonora.therapists.service import Therapists

UTC = dt.UTC
#: A Monday, well before any transition, as "now" for most tests.
T0 = dt.datetime(2026, 3, 16, 6, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


PROFILE = {
    "display_name": "Ada Lovelace",
    "country": "GB",
    "registration_number": "as 12345",
    "region": "West Yorkshire",
    "city": "Leeds",
    "in_person": True,
    "online": True,
    "languages": "English, Welsh",
    "populations": ["adults"],
    "approaches": ["songwriting"],
    "bio": "",
    "timezone": "",
}
#: A therapist in Leeds with a register number and a zone: the profile the programme
#: and browser tests give their verified therapists (fictional).
LEEDS_PROFILE = {
    **PROFILE,
    "registration_number": "AS12345",
    "languages": "English",
    "bio": "Hello.",
    "timezone": "Europe/London",
}


def make_account(store: Store, email_addr: str, *, admin: bool = False) -> Any:
    """A registered account (``admin``: one who may verify credentials)."""
    user = store.create_user()
    user = store.register(user.id, email=email_addr, password_hash="x")
    if admin:
        from sonora.therapists.repo import TherapistRepo

        TherapistRepo(store).set_admin(user.id)
    return user


def make_therapist(
    svc: Therapists,
    email_addr: str,
    *,
    verify: bool = True,
    rules: tuple[tuple[int, int, int], ...] = ((0, 9 * 60, 12 * 60),),
    **over: Any,
) -> Any:
    """A therapist with weekly hours (``rules``: weekday, from, to minutes), verified by
    an admin unless ``verify`` is false, and the verification email already sent."""
    store = svc.repo.store
    user = make_account(store, email_addr)
    t = svc.create_profile(user, {**PROFILE, **over})
    for day, a, b in rules:
        svc.repo.add_rule(t.id, day, a, b)
    if verify:
        admin = svc.repo.user_by_email("admin@example.org") or make_account(
            store, "admin@example.org", admin=True
        )
        t = svc.verify(admin, t.id, {"decision": "verified", "note": "on the register"})
        # the therapist is told, through the outbox; send it so tests start from an empty queue
        waiting = svc.repo.outbox(unsent_only=True)
        assert [(m.kind, m.to_addr) for m in waiting] == [("verified_therapist", email_addr)]
        assert svc.deliver(FileSender(svc.settings.outbox_folder)).sent == 1
    return user, t


def booking_form(**over: Any) -> dict[str, Any]:
    """A consult booking form (``start`` and changes in ``over``)."""
    return {"tz": "Europe/London", "name": "Sam", "email": "sam@example.org", **over}


def make_service(store: Store, settings: Settings, clock: Clock) -> Therapists:
    """The therapist directory on ``store`` with a hand-moved clock."""
    return Therapists(store, settings, clock=clock)
