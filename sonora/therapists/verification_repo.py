"""Verification decisions and re-check reminders in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import or_, select, update

from sonora.accounts.models import User
from sonora.accounts.repo import AccountRepo, UserRecord
from sonora.store.base import new_id
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.models import (
    TherapistProfile,
    TherapistVerification,
)
from sonora.therapists.records import (
    Mail,
    TherapistRecord,
    VerificationRecord,
)

__all__ = ["VerificationRows"]


class VerificationRows:
    """Verification part of :class:`~sonora.therapists.repo.TherapistRepo`."""

    store: AccountRepo
    clock: Any

    # -- verification ------------------------------------------------------------------
    def record_verification(
        self,
        therapist_id: str,
        *,
        admin: UserRecord,
        decision: str,
        note: str,
        valid_until: dt.datetime | None,
        now: dt.datetime,
        expected_number: str,
        mails_for: Callable[[TherapistRecord], Sequence[Mail]] | None = None,
    ) -> TherapistRecord:
        """Record an admin's decision and apply it to the profile, together.

        ``expected_number`` is the registration number the admin looked up: if the
        therapist changed it meanwhile, nothing is recorded (:class:`StoreError`).
        ``mails_for(profile)`` (the profile after the decision) gives emails to queue in
        the same transaction.
        """
        with self.store.transaction() as s:
            row = s.get(TherapistProfile, therapist_id)
            if row is None:
                raise NotFound("therapist", therapist_id)
            if row.registration_number != expected_number:
                raise StoreError(
                    "registration_number: the therapist changed it while you were checking; "
                    "look it up again"
                )
            s.add(
                TherapistVerification(
                    id=new_id(),
                    therapist_id=therapist_id,
                    admin_id=admin.id,
                    admin_email=admin.email or admin.id,
                    decision=decision,
                    country=row.country,
                    registration_number=row.registration_number,
                    note=note,
                    checked_at=now,
                    valid_until=valid_until if decision == "verified" else None,
                )
            )
            if decision == "verified":
                row.verified_at, row.verified_until = now, valid_until
                row.verified_by, row.verification_note = admin.email or admin.id, note
            else:
                row.verified_at = row.verified_until = row.verified_by = None
                row.verification_note = note
            s.flush()
            rec = TherapistRecord.of(row, self._email(s, row.user_id))
            if mails_for is not None:
                self._queue(s, mails_for(rec), None, now)
            return rec

    def verifications(self, therapist_id: str) -> list[VerificationRecord]:
        """Every decision about a therapist, newest first."""
        with self.store.reading() as s:
            rows = s.scalars(
                select(TherapistVerification)
                .where(TherapistVerification.therapist_id == therapist_id)
                .order_by(TherapistVerification.checked_at.desc(), TherapistVerification.id)
            )
            return [
                VerificationRecord(
                    r.id,
                    r.therapist_id,
                    r.admin_email,
                    r.decision,
                    r.country,
                    r.registration_number,
                    r.note,
                    r.checked_at,
                    r.valid_until,
                )
                for r in rows
            ]

    # -- re-check reminders ------------------------------------------------------------
    def due_for_reminder(self, before: dt.datetime) -> list[TherapistRecord]:
        """Non-demo profiles whose verification runs out by ``before`` and whose current
        expiry has had no reminder yet."""
        q = (
            select(TherapistProfile, User.email)
            .join(User, User.id == TherapistProfile.user_id)
            .where(
                ~TherapistProfile.is_demo,
                TherapistProfile.verified_until.is_not(None),
                TherapistProfile.verified_until <= before,
                or_(
                    TherapistProfile.recheck_reminded_for.is_(None),
                    TherapistProfile.recheck_reminded_for != TherapistProfile.verified_until,
                ),
            )
            .order_by(TherapistProfile.verified_until, TherapistProfile.id)
        )
        with self.store.reading() as s:
            return [TherapistRecord.of(r[0], r[1]) for r in s.execute(q).all()]

    def mark_reminded(self, t: TherapistRecord, mails: Sequence[Mail], now: dt.datetime) -> bool:
        """Note that ``t``'s current expiry was reminded and queue ``mails``, together.

        Only one caller wins for a given expiry (the UPDATE checks that nobody reminded
        it first, and that the expiry is still the one the reminder is about), so two
        ``remind`` runs at once send one email.  Returns whether this call won.
        """
        if t.verified_until is None:
            return False
        with self.store.transaction() as s:
            res = s.execute(
                update(TherapistProfile)
                .where(
                    TherapistProfile.id == t.id,
                    TherapistProfile.verified_until == t.verified_until,
                    or_(
                        TherapistProfile.recheck_reminded_for.is_(None),
                        TherapistProfile.recheck_reminded_for != t.verified_until,
                    ),
                )
                .values(recheck_reminded_for=t.verified_until)
            )
            if not res.rowcount:
                return False
            self._queue(s, mails, None, now)
            return True
