"""Verification of credentials by admins, and re-check reminders."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sonora.accounts.repo import UserRecord
from sonora.errors import ParameterError
from sonora.settings import Settings
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.credentials import (
    credential_for,
    renewal_due,
)
from sonora.therapists.fields import (
    parse_date,
    text_field,
)
from sonora.therapists.repo import (
    TherapistRecord,
    TherapistRepo,
    VerificationRecord,
)

__all__ = ["Verification"]

log = logging.getLogger("sonora.therapists")


class Verification:
    """Verification part of :class:`~sonora.therapists.service.Therapists`."""

    repo: TherapistRepo
    settings: Settings
    clock: Callable[[], dt.datetime]

    # -- re-check reminders ------------------------------------------------------------
    def remind(self, *, days_ahead: int = 30) -> list[TherapistRecord]:
        """Email each therapist whose verification runs out within ``days_ahead`` days
        (or has run out) once per expiry; returns those reminded by this call.

        Run it daily (``sonora therapists remind``, e.g. from cron): a second run finds
        nothing new to send, and two runs at once send one email.
        """
        if not 0 <= days_ahead <= 366:
            raise ParameterError("days", f"{days_ahead} is out of range: 0 to 366 days")
        now = self.clock()
        out = []
        for t in self.repo.due_for_reminder(now + dt.timedelta(days=days_ahead)):
            if self.repo.mark_reminded(t, self._recheck_mails(t), now):
                out.append(t)
        if out:
            self._wake()
        return out

    # -- admin -------------------------------------------------------------------------
    def is_admin(self, user: UserRecord | None) -> bool:
        """Whether the signed-in user is an admin."""
        return user is not None and not user.is_guest and self.repo.is_admin(user.id)

    def grant_admin(self, email: str, *, revoke: bool = False) -> UserRecord:
        """Make the account with ``email`` an admin (or stop it being one)."""
        user = self.repo.user_by_email(email)
        if user is None or user.is_guest:
            raise ParameterError("email", f"no account with the email {email!r}; sign up first")
        self.repo.set_admin(user.id, not revoke)
        return user

    def queue(self) -> list[tuple[TherapistRecord, str]]:
        """Every profile with its status: real people needing a check first, demo data
        (labelled on the page) after them."""
        now = self.clock()
        order = {"recheck_due": 0, "unverified": 1, "verified": 2}
        items = [(t, t.status(now)) for t in self.repo.profiles()]
        items.sort(
            key=lambda x: (x[0].is_demo, order[x[1]], x[0].verified_until or x[0].created_at)
        )
        return items

    def history(self, therapist_id: str) -> list[VerificationRecord]:
        """Every verification decision about a therapist."""
        return self.repo.verifications(therapist_id)

    def verify(
        self, admin: UserRecord, therapist_id: str, data: Mapping[str, Any]
    ) -> TherapistRecord:
        """Record an admin's decision (``decision``: verified or rejected; ``note``;
        optional ``valid_until`` date; ``registration_number`` as looked up)."""
        if not self.is_admin(admin):
            raise NotFound("therapist", "profile")
        t = self.repo.profile(str(therapist_id)[:64])
        if t.user_id == admin.id:
            raise ParameterError("therapist", "ask another admin to verify your own credential")
        decision = str(data.get("decision") or "")
        if decision not in ("verified", "rejected"):
            raise ParameterError("decision", "choose verified or rejected")
        note = text_field(data, "note", max_len=1000, min_len=3)
        now = self.clock()
        limit = renewal_due(t.country, now)
        valid_until: dt.datetime | None = limit
        if data.get("valid_until"):
            d = parse_date(data.get("valid_until"), "valid_until")
            valid_until = dt.datetime.combine(d, dt.time(23, 59), tzinfo=dt.UTC)
            if valid_until <= now:
                raise ParameterError("valid_until", "must be a date after today")
            if valid_until > limit:
                raise ParameterError(
                    "valid_until",
                    f"at most one renewal cycle ({credential_for(t.country).renewal_years} "
                    f"year(s)) ahead: {limit.date().isoformat()}",
                )
        expected = str(data.get("registration_number") or t.registration_number)
        try:
            rec = self.repo.record_verification(
                t.id,
                admin=admin,
                decision=decision,
                note=note,
                valid_until=valid_until,
                now=now,
                expected_number=expected,
                mails_for=self._verified_mails if decision == "verified" else None,
            )
        except StoreError as exc:
            raise ParameterError("registration_number", str(exc).split(": ", 1)[-1]) from None
        self._wake()
        return rec
