"""Repository of the therapist directory and consult booking: one transaction per method.

Privacy rules kept here, where the rows are read:

* a therapist's bookings are read by *therapist id*, which callers take from the
  signed-in user's own profile (:meth:`TherapistRepo.profile_of_user`), never from the
  request;
* a booking is found by the SHA-256 of its link token only;
* a booking and the emails it causes are written in one transaction (the outbox rows
  commit with it, or nothing does);
* deleting an account cancels the consults it leaves behind and queues the emails
  that say so in the same transaction as the deletion (:meth:`TherapistRepo.delete_account`,
  which asks the accounts repository to delete the account with this part in it).

Double booking is refused by the database: ``UNIQUE (therapist_id, slot_start)`` on
``bookings``; the losing insert's :class:`~sqlalchemy.exc.IntegrityError` becomes
:class:`SlotTaken`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from sonora.accounts.privacy import rows_by
from sonora.accounts.repo import AccountRepo
from sonora.store.base import new_id, utcnow
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
)
from sonora.therapists.outbox_repo import OutboxRows
from sonora.therapists.privacy import PrivacyRows, TherapistAccountPart
from sonora.therapists.profile_repo import ProfileRows
from sonora.therapists.records import (
    BookingRecord,
    Mail,
    OutboxRecord,
    SlotTaken,
    TherapistRecord,
    VerificationRecord,
)
from sonora.therapists.verification_repo import VerificationRows

__all__ = [
    "BookingRecord",
    "OutboxRecord",
    "SlotTaken",
    "TherapistAccountPart",
    "TherapistRecord",
    "TherapistRepo",
    "VerificationRecord",
]


class TherapistRepo(ProfileRows, VerificationRows, OutboxRows, PrivacyRows):
    """Transactional access to the therapist tables (on top of the accounts repository)."""

    def __init__(self, store: AccountRepo, *, clock: Any = utcnow) -> None:
        self.store = store
        #: Current UTC time for timestamps (the service shares its clock with tests).
        self.clock = clock

    # -- availability ------------------------------------------------------------------
    def availability(
        self, therapist_id: str
    ) -> tuple[list[AvailabilityRule], list[AvailabilityException]]:
        """Weekly rules and exceptions (detached rows, read-only use)."""
        with self.store.transaction() as s:
            rule, ex = AvailabilityRule, AvailabilityException
            rules = rows_by(s, rule, "therapist_id", therapist_id, rule.weekday, rule.start_minute)
            exc = rows_by(s, ex, "therapist_id", therapist_id, ex.start_date, ex.start_minute)
            s.expunge_all()
            return rules, exc

    def add_rule(self, therapist_id: str, weekday: int, start_minute: int, end_minute: int) -> str:
        """Add weekly hours; returns the rule's id."""
        return self._insert(
            AvailabilityRule,
            therapist_id=therapist_id,
            weekday=weekday,
            start_minute=start_minute,
            end_minute=end_minute,
        )

    def add_exception(
        self,
        therapist_id: str,
        *,
        kind: str,
        start_date: dt.date,
        end_date: dt.date,
        start_minute: int | None = None,
        end_minute: int | None = None,
        note: str = "",
    ) -> str:
        """Add a holiday (``kind="off"``) or one-off hours (``kind="extra"``)."""
        return self._insert(
            AvailabilityException,
            therapist_id=therapist_id,
            kind=kind,
            start_date=start_date,
            end_date=end_date,
            start_minute=start_minute,
            end_minute=end_minute,
            note=note,
        )

    def _insert(self, model: type[Any], **values: Any) -> str:
        """Add one row of ``model`` with a new id, in its own transaction; returns the id."""
        with self.store.transaction() as s:
            row_id = new_id()
            s.add(model(id=row_id, **values))
            return row_id

    def delete_availability(self, therapist_id: str, item_id: str) -> bool:
        """Delete one rule or exception *of this therapist*; ``False`` if none matched."""
        with self.store.transaction() as s:
            n = 0
            for model in (AvailabilityRule, AvailabilityException):
                res = s.execute(
                    delete(model).where(model.id == item_id, model.therapist_id == therapist_id)
                )
                n += int(res.rowcount or 0)
            return n > 0

    # -- bookings ----------------------------------------------------------------------
    def taken(self, therapist_id: str, start: dt.datetime, end: dt.datetime) -> set[dt.datetime]:
        """Slot starts held by bookings between ``start`` and ``end``."""
        with self.store.reading() as s:
            rows = s.scalars(
                select(Booking.slot_start).where(
                    Booking.therapist_id == therapist_id,
                    Booking.slot_start.is_not(None),
                    Booking.slot_start >= start - dt.timedelta(minutes=15),
                    Booking.slot_start < end,
                )
            )
            return {r for r in rows if r is not None}

    def book(
        self,
        *,
        booking_id: str,
        therapist_id: str,
        start: dt.datetime,
        end: dt.datetime,
        name: str,
        email: str,
        reason: str,
        care: dict[str, Any] | None,
        listener_tz: str,
        token_hash: str,
        user_id: str | None,
        mails: Sequence[Mail],
        pending: bool = False,
    ) -> BookingRecord:
        """Insert a booking and its emails in one transaction.

        ``pending``: the booking waits for its email address to confirm and holds no
        slot yet (:meth:`confirm`).

        The INSERT is the transaction's first statement, so on SQLite the write lock is
        taken (waiting for other writers) before anything is read.

        Raises
        ------
        SlotTaken
            When another booking holds ``(therapist_id, start)``.
        """
        now = self.clock()
        try:
            with self.store.transaction() as s:
                row = Booking(
                    id=booking_id,
                    therapist_id=therapist_id,
                    slot_start=None if pending else start,
                    starts_at=start,
                    ends_at=end,
                    status="pending" if pending else "booked",
                    name=name,
                    email=email,
                    reason=reason,
                    care=care,
                    listener_tz=listener_tz,
                    token_hash=token_hash,
                    user_id=user_id,
                    sequence=0,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
                self._queue(s, mails, booking_id, now)
                return BookingRecord.of(row)
        except IntegrityError as exc:
            raise SlotTaken(f"{start.isoformat()} is taken") from exc

    def confirm(self, token_hash: str, mails_for: Any) -> BookingRecord:
        """A pending booking takes its slot; queue ``mails_for(booking)`` together.

        Raises
        ------
        SlotTaken
            When someone else holds the slot by now.
        """
        now = self.clock()
        try:
            with self.store.transaction() as s:
                row = s.scalars(select(Booking).where(Booking.token_hash == token_hash)).first()
                if row is None:
                    raise NotFound("booking", "link")
                if row.status != "pending":
                    return BookingRecord.of(row)
                row.status, row.slot_start, row.updated_at = "booked", row.starts_at, now
                s.flush()
                rec = BookingRecord.of(row)
                self._queue(s, mails_for(rec), row.id, now)
                return rec
        except IntegrityError as exc:
            raise SlotTaken("the slot is taken") from exc

    def booking_by_token(self, token_hash: str) -> BookingRecord:
        """The booking whose link token hashes to ``token_hash`` (:class:`NotFound` otherwise)."""
        with self.store.reading() as s:
            row = s.scalars(select(Booking).where(Booking.token_hash == token_hash)).first()
            if row is None:
                raise NotFound("booking", "link")
            return BookingRecord.of(row)

    def cancel(self, token_hash: str, mails_for: Any) -> BookingRecord:
        """Cancel the booking (frees its slot) and queue ``mails_for(booking)`` together."""
        now = self.clock()
        with self.store.transaction() as s:
            row = s.scalars(select(Booking).where(Booking.token_hash == token_hash)).first()
            if row is None:
                raise NotFound("booking", "link")
            return self._cancel_row(s, row, mails_for, now)

    def _cancel_row(
        self,
        s: Any,
        row: Booking,
        mails_for: Callable[[BookingRecord], Sequence[Mail]],
        now: dt.datetime,
    ) -> BookingRecord:
        """Cancel a booked ``row`` inside session ``s`` and queue its mails (no-op if not booked).

        The caller holds the transaction, so the cancellation and its mails commit
        together; a booking already cancelled or moved is returned as it is.
        """
        if row.status != "booked":
            return BookingRecord.of(row)
        row.status, row.slot_start = "cancelled", None
        row.sequence += 1
        row.updated_at = now
        s.flush()
        rec = BookingRecord.of(row)
        self._queue(s, mails_for(rec), row.id, now)
        return rec

    def reschedule(
        self, token_hash: str, start: dt.datetime, end: dt.datetime, mails_for: Any
    ) -> BookingRecord:
        """Move the booking to another slot and queue ``mails_for(booking)``, together.

        Raises
        ------
        SlotTaken
            When the new slot is held by someone else (the old one is kept).
        """
        now = self.clock()
        try:
            with self.store.transaction() as s:
                res = s.execute(
                    update(Booking)
                    .where(Booking.token_hash == token_hash, Booking.status == "booked")
                    .values(
                        slot_start=start,
                        starts_at=start,
                        ends_at=end,
                        updated_at=now,
                        sequence=Booking.sequence + 1,
                    )
                )
                if not res.rowcount:
                    row = s.scalars(select(Booking).where(Booking.token_hash == token_hash)).first()
                    if row is None:
                        raise NotFound("booking", "link")
                    raise StoreError("status: this consult was cancelled; book a new one")
                row = s.scalars(select(Booking).where(Booking.token_hash == token_hash)).one()
                rec = BookingRecord.of(row)
                self._queue(s, mails_for(rec), row.id, now)
                return rec
        except IntegrityError as exc:
            raise SlotTaken(f"{start.isoformat()} is taken") from exc

    def upcoming(
        self, therapist_id: str, since: dt.datetime, *, limit: int = 200
    ) -> list[BookingRecord]:
        """This therapist's booked consults ending after ``since``, soonest first."""
        with self.store.reading() as s:
            rows = s.scalars(
                select(Booking)
                .where(
                    Booking.therapist_id == therapist_id,
                    Booking.status == "booked",
                    Booking.ends_at > since,
                )
                .order_by(Booking.starts_at)
                .limit(limit)
            )
            return [BookingRecord.of(r) for r in rows]

    def cancel_by_therapist(
        self,
        therapist_id: str,
        booking_id: str,
        mails_for: Callable[[BookingRecord], Sequence[Mail]],
    ) -> BookingRecord:
        """Cancel one of *this therapist's* bookings and queue ``mails_for(booking)``.

        The booking is looked up by its id **and** ``therapist_id`` (the signed-in
        therapist's own profile), so nobody cancels another therapist's consult: an id
        of someone else's booking is :class:`NotFound`, exactly like an unknown one.
        """
        now = self.clock()
        with self.store.transaction() as s:
            row = s.scalars(
                select(Booking).where(
                    Booking.id == booking_id, Booking.therapist_id == therapist_id
                )
            ).first()
            if row is None:
                raise NotFound("booking", booking_id)
            return self._cancel_row(s, row, mails_for, now)
