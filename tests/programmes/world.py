"""A small world for the programme tests: an admin, two verified therapists, listeners
with confirmed consults, on a real SQLite database (or PostgreSQL, given a store)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from testkit import migrated_sqlite
from therapistkit import LEEDS_PROFILE

from sonora.accounts.repo import UserRecord
from sonora.core.app import Core
from sonora.settings import Settings
from sonora.therapists.models import TherapistProfile

PROFILE = LEEDS_PROFILE


def settings(tmp_path: Path, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": over.pop("database_url", None) or migrated_sqlite(tmp_path / "prog.db"),
        "secret_key": "test-secret-" + "k" * 32,
        "triage_notes": False,
        "calibrate_ahead": False,
        "outbox_interval_s": 0,
        "booking_notice_hours": 0,
        "booking_confirmation": False,
        "rate_limits": False,
    }
    return Settings(**{**values, **over})


@dataclass
class Person:
    user: UserRecord
    token: str
    therapist_id: str | None = None


class World:
    """People and helpers over one :class:`Core`."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.admin = self.account("admin@example.org")
        core.therapists.grant_admin("admin@example.org")
        self.admin.user = core.store.get_user(self.admin.user.id)
        self.ada = self.therapist("ada@example.org", "Ada Lovelace", "AS12345")
        self.bea = self.therapist("bea@example.org", "Bea Bowls", "AS54321")
        self.lee = self.account("lee@example.org")  # books with Ada
        self.mo = self.account("mo@example.org")  # books with Bea
        self.book(self.lee, self.ada, "Lee")
        self.book(self.mo, self.bea, "Mo")

    def account(self, email: str) -> Person:
        user, token = self.core.sign_up(None, email, "long enough pw")
        return Person(user, token)

    def therapist(self, email: str, name: str, number: str) -> Person:
        p = self.account(email)
        svc = self.core.therapists
        t = svc.create_profile(
            p.user, {**PROFILE, "display_name": name, "registration_number": number}
        )
        for day in range(7):
            svc.add_weekly(p.user, {"weekday": day, "start": "00:00", "end": "24:00"})
        svc.verify(self.admin.user, t.id, {"decision": "verified", "note": "HCPC register"})
        p.therapist_id = t.id
        return p

    def book(self, listener: Person, therapist: Person, name: str) -> None:
        svc = self.core.therapists
        t = svc.public_profile(therapist.therapist_id or "")
        start = svc.free_slots(t, limit=4)[-1]
        svc.book(
            t.id,
            {
                "start": start.isoformat(),
                "tz": "Europe/London",
                "name": name,
                "email": listener.user.email,
            },
            user=listener.user,
        )

    def lapse(self, therapist: Person) -> None:
        """The therapist's verification runs out (as if its date had passed)."""
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        with self.core.store.transaction() as s:
            s.execute(
                update(TherapistProfile)
                .where(TherapistProfile.id == therapist.therapist_id)
                .values(verified_until=past)
            )

    def session(self, listener: Person, answers: dict[str, Any] | None = None, **over: Any) -> str:
        """A check-in, its plan and a check-out; returns the plan id."""
        core = self.core
        if not core.profile(listener.user)["onboarded"]:
            core.save_profile(listener.user, {"country": "GB"})
        checkin = {"tension": 7, "energy": 4, "mood": 4, "goal": "unwind", "minutes": 10, **over}
        c, p, _ = core.check_in(listener.user, checkin)
        if answers:
            core.programmes.record_answers(listener.user, answers, c.id)
        core.check_out(listener.user, p.id, {"tension": 3, "mood": 6, "rating": 4})
        return p.id


def programme_body(**over: Any) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).date()
    return {
        "title": "Evenings, winding down",
        "goals": [
            {"domain": "emotional", "text": "Notice the evening worry and let it pass"},
            {"domain": "physical", "text": "Shoulders down before bed"},
        ],
        "sessions_per_week": 5,
        "minutes_min": 15,
        "minutes_max": 20,
        "rhythm_note": "5 evenings a week, before bed",
        "listen": {"kind": "sonora_chooses", "families": ["rain", "bowls"]},
        "questions": [
            {
                "text": "How settled do you feel?",
                "low": "not at all",
                "high": "completely",
                "goal": 0,
            }
        ],
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=13)).isoformat(),
        **over,
    }
