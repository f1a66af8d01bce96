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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sonora.accounts.models import User
from sonora.accounts.repo import AccountRepo, UserRecord
from sonora.store.base import new_id, utcnow
from sonora.store.errors import NotFound, StoreError
from sonora.therapists.models import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    OutboxMessage,
    TherapistProfile,
    TherapistVerification,
)

__all__ = [
    "BookingRecord",
    "OutboxRecord",
    "SlotTaken",
    "TherapistRecord",
    "TherapistRepo",
    "VerificationRecord",
]

PROFILE_FIELDS = (
    "display_name",
    "country",
    "registration_number",
    "region",
    "city",
    "latitude",
    "longitude",
    "in_person",
    "online",
    "languages",
    "populations",
    "approaches",
    "bio",
    "timezone",
)


class SlotTaken(StoreError):
    """Someone else holds that slot (the database's unique constraint said so)."""


@dataclass(frozen=True)
class TherapistRecord:
    """A therapist profile with its current verification."""

    id: str
    user_id: str
    display_name: str
    country: str
    registration_number: str
    region: str
    city: str
    latitude: float | None
    longitude: float | None
    in_person: bool
    online: bool
    languages: tuple[str, ...]
    populations: tuple[str, ...]
    approaches: tuple[str, ...]
    bio: str
    timezone: str
    is_demo: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    verified_at: dt.datetime | None
    verified_until: dt.datetime | None
    verified_by: str | None
    verification_note: str | None
    email: str | None = None
    recheck_reminded_for: dt.datetime | None = None

    @classmethod
    def of(cls, row: TherapistProfile, email: str | None = None) -> TherapistRecord:
        return cls(
            row.id,
            row.user_id,
            row.display_name,
            row.country,
            row.registration_number,
            row.region,
            row.city,
            row.latitude,
            row.longitude,
            row.in_person,
            row.online,
            tuple(row.languages or ()),
            tuple(row.populations or ()),
            tuple(row.approaches or ()),
            row.bio,
            row.timezone,
            row.is_demo,
            row.created_at,
            row.updated_at,
            row.verified_at,
            row.verified_until,
            row.verified_by,
            row.verification_note,
            email,
            row.recheck_reminded_for,
        )

    def status(self, now: dt.datetime) -> str:
        """``"verified"``, ``"recheck_due"`` (verification ran out) or ``"unverified"``."""
        if self.verified_until is None:
            return "unverified"
        return "verified" if self.verified_until > now else "recheck_due"

    def listed(self, now: dt.datetime) -> bool:
        """Shown publicly: a verification that has not run out (demo data included:
        a demo profile is listed only once an admin records a verification for it)."""
        return self.status(now) == "verified"


@dataclass(frozen=True)
class VerificationRecord:
    """One admin decision."""

    id: str
    therapist_id: str
    admin_email: str
    decision: str
    country: str
    registration_number: str
    note: str
    checked_at: dt.datetime
    valid_until: dt.datetime | None


@dataclass(frozen=True)
class BookingRecord:
    """A consult booking (``slot_start`` is ``None`` once cancelled)."""

    id: str
    therapist_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    name: str
    email: str
    reason: str
    care: dict[str, Any] | None
    listener_tz: str
    sequence: int
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Booking) -> BookingRecord:
        return cls(
            row.id,
            row.therapist_id,
            row.starts_at,
            row.ends_at,
            row.status,
            row.name,
            row.email,
            row.reason,
            None if row.care is None else dict(row.care),
            row.listener_tz,
            row.sequence,
            row.created_at,
        )


@dataclass(frozen=True)
class OutboxRecord:
    """An email in the outbox."""

    id: str
    kind: str
    to_addr: str
    subject: str
    message: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None


@dataclass
class Mail:
    """An email to put in the outbox (the whole message as text)."""

    kind: str
    to_addr: str
    subject: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


class TherapistRepo:
    """Transactional access to the therapist tables (on top of the accounts repository)."""

    def __init__(self, store: AccountRepo, *, clock: Any = utcnow) -> None:
        self.store = store
        #: Current UTC time for timestamps (the service shares its clock with tests).
        self.clock = clock

    # -- accounts and admins -----------------------------------------------------------
    def user_by_email(self, email: str) -> UserRecord | None:
        """The account with this email, if any."""
        with self.store.reading() as s:
            row = s.scalars(select(User).where(User.email == email.strip().lower())).first()
            return None if row is None else UserRecord.of(row)

    def set_admin(self, user_id: str, is_admin: bool = True) -> None:
        """Grant (or take away) the admin flag."""
        with self.store.transaction() as s:
            row = s.get(User, user_id)
            if row is None:
                raise NotFound("user", user_id)
            row.is_admin = is_admin

    def is_admin(self, user_id: str) -> bool:
        """Whether the user is an admin (guests never are)."""
        with self.store.reading() as s:
            row = s.get(User, user_id)
            return bool(row is not None and row.is_admin and not row.is_guest)

    # -- profiles ----------------------------------------------------------------------
    def create_profile(
        self, user_id: str, fields: dict[str, Any], *, is_demo: bool = False
    ) -> TherapistRecord:
        """Create the user's therapist profile (one per user; :class:`StoreError` if one exists)."""
        now = self.clock()
        try:
            with self.store.transaction() as s:
                user = s.get(User, user_id)
                if user is None:
                    raise NotFound("user", user_id)
                if s.scalars(
                    select(TherapistProfile.id).where(TherapistProfile.user_id == user_id)
                ).first():
                    raise StoreError("this account already has a therapist profile")
                row = TherapistProfile(
                    id=new_id(),
                    user_id=user_id,
                    is_demo=is_demo,
                    created_at=now,
                    updated_at=now,
                    **{k: fields[k] for k in PROFILE_FIELDS},
                )
                s.add(row)
                s.flush()
                return TherapistRecord.of(row, user.email)
        except IntegrityError as exc:  # a concurrent second profile for the same user
            raise StoreError("this account already has a therapist profile") from exc

    def update_profile(self, therapist_id: str, fields: dict[str, Any]) -> TherapistRecord:
        """Change a profile; a new country or registration number voids the verification."""
        with self.store.transaction() as s:
            row = s.get(TherapistProfile, therapist_id)
            if row is None:
                raise NotFound("therapist", therapist_id)
            credential_changed = (
                fields.get("country", row.country) != row.country
                or fields.get("registration_number", row.registration_number)
                != row.registration_number
            )
            for k in PROFILE_FIELDS:
                if k in fields:
                    setattr(row, k, fields[k])
            if credential_changed:
                row.verified_at = row.verified_until = row.verified_by = None
                row.verification_note = None
            row.updated_at = self.clock()
            s.flush()
            return TherapistRecord.of(row, self._email(s, row.user_id))

    @staticmethod
    def _email(s: Any, user_id: str) -> str | None:
        return s.scalar(select(User.email).where(User.id == user_id))

    def profile(self, therapist_id: str) -> TherapistRecord:
        """A profile by id (:class:`NotFound` otherwise); callers decide who may see it."""
        with self.store.reading() as s:
            row = s.execute(
                select(TherapistProfile, User.email)
                .join(User, User.id == TherapistProfile.user_id)
                .where(TherapistProfile.id == therapist_id)
            ).first()
            if row is None:
                raise NotFound("therapist", therapist_id)
            return TherapistRecord.of(row[0], row[1])

    def profile_of_user(self, user_id: str) -> TherapistRecord | None:
        """The signed-in user's own profile, if they have one."""
        with self.store.reading() as s:
            row = s.scalars(
                select(TherapistProfile).where(TherapistProfile.user_id == user_id)
            ).first()
            return None if row is None else TherapistRecord.of(row, self._email(s, user_id))

    def profiles(
        self, *, listed_at: dt.datetime | None = None, country: str | None = None
    ) -> list[TherapistRecord]:
        """Profiles (only those listed at ``listed_at`` when given), oldest first."""
        q = select(TherapistProfile, User.email).join(User, User.id == TherapistProfile.user_id)
        if listed_at is not None:
            q = q.where(TherapistProfile.verified_until > listed_at)
        if country:
            q = q.where(TherapistProfile.country == country)
        with self.store.reading() as s:
            rows = s.execute(q.order_by(TherapistProfile.created_at, TherapistProfile.id)).all()
            return [TherapistRecord.of(r[0], r[1]) for r in rows]

    def delete_demo(self) -> int:
        """Delete every demo profile and its user account; returns how many."""
        with self.store.transaction() as s:
            ids = list(s.scalars(select(TherapistProfile.user_id).where(TherapistProfile.is_demo)))
            for uid in ids:
                s.execute(delete(TherapistProfile).where(TherapistProfile.user_id == uid))
                s.execute(delete(User).where(User.id == uid))
            return len(ids)

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

    # -- availability ------------------------------------------------------------------
    def availability(
        self, therapist_id: str
    ) -> tuple[list[AvailabilityRule], list[AvailabilityException]]:
        """Weekly rules and exceptions (detached rows, read-only use)."""
        with self.store.transaction() as s:
            rules = list(
                s.scalars(
                    select(AvailabilityRule)
                    .where(AvailabilityRule.therapist_id == therapist_id)
                    .order_by(AvailabilityRule.weekday, AvailabilityRule.start_minute)
                )
            )
            exc = list(
                s.scalars(
                    select(AvailabilityException)
                    .where(AvailabilityException.therapist_id == therapist_id)
                    .order_by(AvailabilityException.start_date, AvailabilityException.start_minute)
                )
            )
            s.expunge_all()
            return rules, exc

    def add_rule(self, therapist_id: str, weekday: int, start_minute: int, end_minute: int) -> str:
        """Add weekly hours; returns the rule's id."""
        with self.store.transaction() as s:
            rid = new_id()
            s.add(
                AvailabilityRule(
                    id=rid,
                    therapist_id=therapist_id,
                    weekday=weekday,
                    start_minute=start_minute,
                    end_minute=end_minute,
                )
            )
            return rid

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
        with self.store.transaction() as s:
            eid = new_id()
            s.add(
                AvailabilityException(
                    id=eid,
                    therapist_id=therapist_id,
                    kind=kind,
                    start_date=start_date,
                    end_date=end_date,
                    start_minute=start_minute,
                    end_minute=end_minute,
                    note=note,
                )
            )
            return eid

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
    ) -> BookingRecord:
        """Insert a booking and its emails in one transaction.

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
                    slot_start=start,
                    starts_at=start,
                    ends_at=end,
                    status="booked",
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

    @staticmethod
    def _queue(s: Any, mails: Iterable[Mail], booking_id: str | None, now: dt.datetime) -> None:
        for m in mails:
            s.add(
                OutboxMessage(
                    id=new_id(),
                    kind=m.kind,
                    to_addr=m.to_addr,
                    subject=m.subject[:300],
                    message=m.message,
                    booking_id=booking_id,
                    created_at=now,
                    next_attempt_at=now,
                    attempts=0,
                )
            )

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
            if row.status != "booked":
                return BookingRecord.of(row)
            row.status, row.slot_start = "cancelled", None
            row.sequence += 1
            row.updated_at = now
            s.flush()
            rec = BookingRecord.of(row)
            self._queue(s, mails_for(rec), row.id, now)
            return rec

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

        own = list(
            s.scalars(
                select(Booking)
                .where(Booking.user_id == user_id)
                .order_by(Booking.created_at, Booking.id)
            )
        )
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
            return list(s.scalars(select(model).where(model.therapist_id == tid).order_by(*order)))

        out["therapist"] = {
            "profile": {
                "id": row.id,
                **{k: getattr(row, k) for k in PROFILE_FIELDS},
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
        return self.store.delete_user(user_id, parts=(self.account_part(mails_for),))

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

    # -- outbox ------------------------------------------------------------------------
    def queue(self, mails: Sequence[Mail], booking_id: str | None = None) -> None:
        """Put emails in the outbox (one transaction)."""
        with self.store.transaction() as s:
            self._queue(s, mails, booking_id, self.clock())

    def claim_due(
        self, now: dt.datetime, *, lease_s: float = 300.0, limit: int = 20
    ) -> list[OutboxRecord]:
        """Emails due now, each claimed for ``lease_s`` so another sender skips it.

        A claim moves ``next_attempt_at`` forward only if nobody changed it first, so
        two senders never both take the same message.
        """
        with self.store.reading() as s:
            due = list(
                s.execute(
                    select(OutboxMessage.id, OutboxMessage.next_attempt_at)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
                    .limit(limit)
                ).all()
            )
        out: list[OutboxRecord] = []
        lease_until = now + dt.timedelta(seconds=lease_s)
        for mid, at in due:
            with self.store.transaction() as s:
                res = s.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == mid,
                        OutboxMessage.next_attempt_at == at,
                        OutboxMessage.sent_at.is_(None),
                    )
                    .values(next_attempt_at=lease_until)
                )
                if not res.rowcount:
                    continue
                r = s.get(OutboxMessage, mid)
                assert r is not None
                out.append(
                    OutboxRecord(
                        r.id,
                        r.kind,
                        r.to_addr,
                        r.subject,
                        r.message,
                        r.attempts,
                        r.next_attempt_at,
                        r.sent_at,
                        r.last_error,
                    )
                )
        return out

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Note that an email went out."""
        with self.store.transaction() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
            )

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Note a failed attempt and when to try again."""
        with self.store.transaction() as s:
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    last_error=error[:2000],
                    next_attempt_at=retry_at,
                )
            )

    def outbox(self, *, unsent_only: bool = False) -> list[OutboxRecord]:
        """Every email in the outbox, oldest first."""
        q = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if unsent_only:
            q = q.where(OutboxMessage.sent_at.is_(None))
        with self.store.reading() as s:
            return [
                OutboxRecord(
                    r.id,
                    r.kind,
                    r.to_addr,
                    r.subject,
                    r.message,
                    r.attempts,
                    r.next_attempt_at,
                    r.sent_at,
                    r.last_error,
                )
                for r in s.scalars(q)
            ]

    def outbox_counts(self) -> dict[str, int]:
        """``{"sent": n, "waiting": n, "failing": n}`` (failing: waiting after a failure)."""
        with self.store.reading() as s:
            sent = s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_not(None))) or 0
            waiting = s.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))) or 0
            failing = (
                s.scalar(
                    select(func.count()).where(
                        OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0
                    )
                )
                or 0
            )
            return {"sent": int(sent), "waiting": int(waiting), "failing": int(failing)}


@dataclass(frozen=True)
class TherapistAccountPart:
    """The therapist directory's part of an account (:class:`~sonora.accounts.privacy.AccountPart`)."""

    repo: TherapistRepo
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
