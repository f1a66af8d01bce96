"""The directory's part of an account's export and deletion (:mod:`sonora.accounts.privacy`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sonora.accounts.models import User
from sonora.accounts.privacy import rows_by, rows_of
from sonora.accounts.repo import AccountRepo
from sonora.store.errors import NotFound
from sonora.therapists.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    OutboxMessage,
    TherapistProfile,
    TherapistVerification,
)
from sonora.therapists.records import (
    CONSULT_FIELDS,
    PROFILE_FIELDS,
    BookingRecord,
    Mail,
    TherapistRecord,
)

__all__ = ["PrivacyRows", "TherapistAccountPart"]


class PrivacyRows:
    """Export/delete part of :class:`~sonora.therapists.repo.TherapistRepo`."""

    store: AccountRepo
    clock: Any

    # -- privacy: export and deletion --------------------------------------------------
    def export_account(self, user_id: str) -> dict[str, Any]:
        """What the directory holds about this account, JSON-ready (see :meth:`export_in`)."""
        with self.store.transaction() as s:
            return self.export_in(s, user_id)

    def export_in(self, s: Session, user_id: str) -> dict[str, Any]:
        """What the directory holds about this account, JSON-ready.

        ``therapist``: the account's therapist profile, its weekly hours and exceptions,
        every verification decision about it and every booking with it (``None`` when
        the account has no profile).  ``bookings``: consults this account booked while
        signed in (the booking's ``user_id``).  Link-token hashes are left out.
        Runs in the caller's transaction ``s`` (the account export's unit of work).
        """

        def ts(v: dt.datetime | dt.date | None) -> str | None:
            return None if v is None else v.isoformat()

        def booking(b: Booking) -> dict[str, Any]:
            return {
                "id": b.id,
                "therapist_id": b.therapist_id,
                "starts_at": ts(b.starts_at),
                "ends_at": ts(b.ends_at),
                "status": b.status,
                "name": b.name,
                "email": b.email,
                "reason": b.reason,
                "screen": b.care,
                "listener_tz": b.listener_tz,
                "created_at": ts(b.created_at),
                "updated_at": ts(b.updated_at),
            }

        own = rows_of(s, Booking, user_id)
        names = dict(
            s.execute(
                select(TherapistProfile.id, TherapistProfile.display_name).where(
                    TherapistProfile.id.in_({b.therapist_id for b in own})
                )
            ).all()
        )
        out: dict[str, Any] = {
            "therapist": None,
            "bookings": [{**booking(b), "therapist_name": names.get(b.therapist_id)} for b in own],
        }
        row = s.scalars(select(TherapistProfile).where(TherapistProfile.user_id == user_id)).first()
        if row is None:
            return out
        tid = row.id

        def of(model: Any, *order: Any) -> list[Any]:
            return rows_by(s, model, "therapist_id", tid, *order)

        out["therapist"] = {
            "profile": {
                "id": row.id,
                **{k: getattr(row, k) for k in (*PROFILE_FIELDS, *CONSULT_FIELDS)},
                "is_demo": row.is_demo,
                "created_at": ts(row.created_at),
                "updated_at": ts(row.updated_at),
                "verified_at": ts(row.verified_at),
                "verified_until": ts(row.verified_until),
                "verified_by": row.verified_by,
                "verification_note": row.verification_note,
                "recheck_reminded_for": ts(row.recheck_reminded_for),
            },
            "availability": {
                "weekly": [
                    {
                        "id": r.id,
                        "weekday": r.weekday,
                        "start_minute": r.start_minute,
                        "end_minute": r.end_minute,
                    }
                    for r in of(
                        AvailabilityRule,
                        AvailabilityRule.weekday,
                        AvailabilityRule.start_minute,
                    )
                ],
                "exceptions": [
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "start_date": ts(e.start_date),
                        "end_date": ts(e.end_date),
                        "start_minute": e.start_minute,
                        "end_minute": e.end_minute,
                        "note": e.note,
                    }
                    for e in of(
                        AvailabilityException,
                        AvailabilityException.start_date,
                        AvailabilityException.id,
                    )
                ],
            },
            "verifications": [
                {
                    "id": v.id,
                    "decision": v.decision,
                    "admin_email": v.admin_email,
                    "country": v.country,
                    "registration_number": v.registration_number,
                    "note": v.note,
                    "checked_at": ts(v.checked_at),
                    "valid_until": ts(v.valid_until),
                }
                for v in of(
                    TherapistVerification,
                    TherapistVerification.checked_at,
                    TherapistVerification.id,
                )
            ],
            "bookings": [booking(b) for b in of(Booking, Booking.starts_at, Booking.id)],
        }
        return out

    def delete_account(
        self,
        user_id: str,
        mails_for: Callable[[BookingRecord, TherapistRecord, str], Sequence[Mail]],
        *,
        before: Sequence[Any] = (),
    ) -> dict[str, int]:
        """Delete an account and everything of its, telling the people it leaves behind.

        In **one** transaction, before anything is deleted:

        * each upcoming consult *with* this account's therapist profile is cancelled
          and ``mails_for(booking, therapist, "therapist_left")`` is queued (the
          listener's cancellation, with a ``METHOD:CANCEL`` invite);
        * each upcoming consult this account booked while signed in is cancelled and
          ``mails_for(booking, therapist, "listener_left")`` is queued;

        then the profile, its hours, verification records and bookings, the account's
        own bookings, the earlier emails about those bookings, every email to the
        therapist (kinds ending ``_therapist``) and the listener rows of
        :meth:`sonora.accounts.repo.AccountRepo.delete_user` are deleted.  If any step fails, nothing
        is deleted and nothing is queued.

        Returns
        -------
        dict
            Rows deleted per table, plus ``cancelled_consults``.
        """
        return self.store.delete_user(user_id, parts=(*before, self.account_part(mails_for)))

    def account_part(
        self, mails_for: Callable[[BookingRecord, TherapistRecord, str], Sequence[Mail]]
    ) -> TherapistAccountPart:
        """The directory's part of an account, for export and deletion
        (:mod:`sonora.accounts.privacy`); ``mails_for`` writes the cancellation emails."""
        return TherapistAccountPart(self, mails_for)

    def delete_in(
        self,
        s: Session,
        user_id: str,
        mails_for: Callable[[BookingRecord, TherapistRecord, str], Sequence[Mail]],
    ) -> dict[str, int]:
        """The directory's rows of an account deleted in the caller's transaction ``s``
        (see :meth:`delete_account`); returns rows per table plus ``cancelled_consults``."""
        now = self.clock()
        counts: dict[str, int] = {}
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        profile = s.scalars(
            select(TherapistProfile).where(TherapistProfile.user_id == user_id)
        ).first()
        own = list(s.scalars(select(Booking.id).where(Booking.user_id == user_id)))
        theirs: list[str] = []
        if profile is not None:
            theirs = list(s.scalars(select(Booking.id).where(Booking.therapist_id == profile.id)))
        upcoming = s.scalars(
            select(Booking)
            .where(
                Booking.id.in_(set(own) | set(theirs)),
                Booking.status == "booked",
                Booking.ends_at > now,
            )
            .order_by(Booking.starts_at, Booking.id)
        ).all()
        therapists: dict[str, TherapistRecord] = {}
        cancelled = 0
        for b in upcoming:
            if b.therapist_id not in therapists:
                t_row = s.get(TherapistProfile, b.therapist_id)
                assert t_row is not None
                therapists[b.therapist_id] = TherapistRecord.of(
                    t_row, self._email(s, t_row.user_id)
                )
            b.status, b.slot_start = "cancelled", None
            b.sequence += 1
            b.updated_at = now
            s.flush()
            why = "therapist_left" if b.id in theirs else "listener_left"
            # queued with no booking id: the booking row is about to be deleted
            self._queue(
                s, mails_for(BookingRecord.of(b), therapists[b.therapist_id], why), None, now
            )
            cancelled += 1
        gone = set(own) | set(theirs)
        if gone:
            res = s.execute(delete(OutboxMessage).where(OutboxMessage.booking_id.in_(gone)))
            counts["outbox"] = int(res.rowcount or 0)
            res = s.execute(delete(Booking).where(Booking.id.in_(gone)))
            counts["bookings"] = int(res.rowcount or 0)
        if profile is not None and user.email:
            res = s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.to_addr == user.email,
                    OutboxMessage.kind.like("%\\_therapist", escape="\\"),
                )
            )
            counts["outbox"] = counts.get("outbox", 0) + int(res.rowcount or 0)
        if profile is not None:
            for model in (AvailabilityRule, AvailabilityException, TherapistVerification):
                res = s.execute(delete(model).where(model.therapist_id == profile.id))
                counts[model.__tablename__] = int(res.rowcount or 0)
            res = s.execute(delete(TherapistProfile).where(TherapistProfile.id == profile.id))
            counts["therapist_profiles"] = int(res.rowcount or 0)
        counts["cancelled_consults"] = cancelled
        return counts


@dataclass(frozen=True)
class TherapistAccountPart:
    """The therapist directory's part of an account (:class:`~sonora.accounts.privacy.AccountPart`)."""

    repo: PrivacyRows
    mails_for: Callable[[BookingRecord, TherapistRecord, str], Sequence[Mail]]

    def export(self, s: Session, user_id: str) -> dict[str, Any]:
        return self.repo.export_in(s, user_id)

    def delete(self, s: Session, user_id: str) -> dict[str, int]:
        return self.repo.delete_in(s, user_id, self.mails_for)

    def count(self, s: Session, user_id: str) -> dict[str, int]:
        return {
            "therapist_profiles": int(
                s.scalar(
                    select(func.count())
                    .select_from(TherapistProfile)
                    .where(TherapistProfile.user_id == user_id)
                )
                or 0
            ),
            "bookings": int(
                s.scalar(
                    select(func.count()).select_from(Booking).where(Booking.user_id == user_id)
                )
                or 0
            ),
        }

    def move(self, s: Session, from_user_id: str, to_user_id: str) -> None:
        return None
