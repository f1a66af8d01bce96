"""Storage of shares, the access log, programmes and answers (one transaction per method).

:class:`ProgrammeStore` is what the service needs; :class:`SqlProgrammeRepo` keeps it in
the app's database.  Methods return plain frozen records, never live ORM rows.  Reads of
the therapist directory (a profile's name and verification, a listener's consults) are
single queries on its tables, never writes; the one write outside this feature's tables
is a reminder email queued in the directory's existing ``outbox`` (the same sender
delivers it), in the same transaction that records the reminder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sonora.programmes.models import AccessLogRow, AnswerRow, ProgrammeRow, ShareRow
from sonora.programmes.spec import ProgrammeSpec
from sonora.store.base import new_id
from sonora.store.database import SqlDatabase
from sonora.store.errors import NotFound
from sonora.store.hot import fetch
from sonora.store.records import record_of
from sonora.therapists.models import Booking, OutboxMessage, TherapistProfile

__all__ = [
    "AnswerRecord",
    "LogRecord",
    "ProgrammeRecord",
    "ProgrammeStore",
    "ShareRecord",
    "SqlProgrammeRepo",
    "TherapistInfo",
]

#: The parts of what a listener can share.
SCOPES = ("numbers", "history", "notes")


#: A listener's programmes, newest first: runs on every check-in, so built once
#: (building a SELECT costs about as much CPU as running it; issue #15).
#: A listener's programmes, newest first, with each therapist's name joined: one Core
#: statement, no ORM session and no query per programme (every check-in, issue #15).
_OF_LISTENER_ROWS = (
    select(
        *ProgrammeRow.__table__.c,
        TherapistProfile.__table__.c.display_name.label("therapist_name"),
    )
    .outerjoin(
        TherapistProfile.__table__,
        TherapistProfile.__table__.c.id == ProgrammeRow.__table__.c.therapist_id,
    )
    .where(ProgrammeRow.__table__.c.listener_id == bindparam("listener_id"))
    .order_by(ProgrammeRow.__table__.c.start_date.desc(), ProgrammeRow.__table__.c.id)
)


@dataclass(frozen=True)
class TherapistInfo:
    """What the programmes feature needs to know about a therapist profile."""

    id: str
    user_id: str
    name: str
    verified_until: dt.datetime | None
    is_demo: bool

    def verified(self, now: dt.datetime) -> bool:
        """A verification that has not run out."""
        return self.verified_until is not None and self.verified_until > now


@dataclass(frozen=True)
class ShareRecord:
    """A listener's consent to share with one therapist."""

    id: str
    listener_id: str
    therapist: TherapistInfo
    numbers: bool
    history: bool
    notes: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    revoked_at: dt.datetime | None
    client_name: str = ""

    @property
    def scope(self) -> tuple[str, ...]:
        """The parts shared, in :data:`SCOPES` order."""
        return tuple(k for k in SCOPES if getattr(self, k))

    def active(self, now: dt.datetime) -> bool:
        """Shared now: not revoked, and the therapist's verification has not lapsed."""
        return self.revoked_at is None and self.therapist.verified(now) and bool(self.scope)

    def state(self, now: dt.datetime) -> str:
        """``"sharing"``, ``"revoked"`` or ``"lapsed"`` (verification ran out)."""
        if self.revoked_at is not None:
            return "revoked"
        return "sharing" if self.therapist.verified(now) else "lapsed"


@dataclass(frozen=True)
class LogRecord:
    """One access-log entry."""

    id: str
    therapist_name: str
    what: str
    scope: tuple[str, ...]
    created_at: dt.datetime


@dataclass(frozen=True)
class ProgrammeRecord:
    """A stored programme."""

    id: str
    listener_id: str
    therapist_id: str
    therapist_name: str
    title: str
    goals: list[dict[str, Any]]
    sessions_per_week: int
    minutes_min: int
    minutes_max: int
    rhythm_note: str
    listen: dict[str, Any]
    questions: list[dict[str, Any]]
    start_date: dt.date
    end_date: dt.date
    note: str
    remind_email: bool
    remind_weekdays: list[int]
    reminded_on: dt.date | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ProgrammeRow, therapist_name: str) -> ProgrammeRecord:
        return record_of(cls, row, therapist_name=therapist_name)

    def runs_on(self, day: dt.date) -> bool:
        """Whether ``day`` is within the programme."""
        return self.start_date <= day <= self.end_date

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dict(self.__dict__)
        for k in ("start_date", "end_date", "reminded_on", "created_at"):
            v = out[k]
            out[k] = None if v is None else v.isoformat()
        return out


@dataclass(frozen=True)
class AnswerRecord:
    """One answer to an extra question."""

    programme_id: str
    checkin_id: str | None
    question_id: str
    value: float
    created_at: dt.datetime


class ProgrammeStore(Protocol):
    """What :class:`~sonora.programmes.service.Programmes` keeps and reads."""

    def therapist_of_user(self, user_id: str) -> TherapistInfo | None: ...
    def therapist(self, therapist_id: str) -> TherapistInfo | None: ...
    def consulted(self, listener_id: str) -> list[tuple[TherapistInfo, str]]: ...
    def shares_of_listener(self, listener_id: str) -> list[ShareRecord]: ...
    def shares_with(self, therapist_id: str) -> list[ShareRecord]: ...
    def share(self, share_id: str) -> ShareRecord | None: ...
    def share_between(self, listener_id: str, therapist_id: str) -> ShareRecord | None: ...
    def save_share(
        self, listener_id: str, therapist_id: str, scope: Sequence[str], now: dt.datetime
    ) -> ShareRecord: ...
    def revoke(self, listener_id: str, therapist_id: str, now: dt.datetime) -> bool: ...
    def log(
        self,
        listener_id: str,
        therapist: TherapistInfo,
        what: str,
        scope: Sequence[str],
        now: dt.datetime,
    ) -> None: ...
    def access_log(self, listener_id: str) -> list[LogRecord]: ...
    def add_programme(
        self, listener_id: str, therapist_id: str, spec: ProgrammeSpec, now: dt.datetime
    ) -> ProgrammeRecord: ...
    def programme(self, programme_id: str) -> ProgrammeRecord | None: ...
    def programmes_of_listener(self, listener_id: str) -> list[ProgrammeRecord]: ...
    def programmes_between(self, listener_id: str, therapist_id: str) -> list[ProgrammeRecord]: ...
    def set_reminders(
        self, listener_id: str, programme_id: str, email: bool, weekdays: Sequence[int]
    ) -> ProgrammeRecord: ...
    def add_answers(
        self,
        listener_id: str,
        rows: Sequence[tuple[str, str, float]],
        checkin_id: str | None,
        now: dt.datetime,
    ) -> int: ...
    def answers(self, programme_id: str) -> list[AnswerRecord]: ...
    def mark_reminded(
        self, programme_id: str, day: dt.date, mails: Sequence[dict[str, str]], now: dt.datetime
    ) -> bool: ...
    def reminder_candidates(self, day: dt.date) -> list[tuple[ProgrammeRecord, str | None]]: ...


def _info(row: TherapistProfile) -> TherapistInfo:
    return TherapistInfo(row.id, row.user_id, row.display_name, row.verified_until, row.is_demo)


class SqlProgrammeRepo:
    """:class:`ProgrammeStore` in the app's database.

    Parameters
    ----------
    store : SqlDatabase
        The migrated database.
    """

    def __init__(self, store: SqlDatabase) -> None:
        self.store = store

    # -- the directory, read only ------------------------------------------------------
    def therapist_of_user(self, user_id: str) -> TherapistInfo | None:
        with self.store.reading() as s:
            row = s.scalars(
                select(TherapistProfile).where(TherapistProfile.user_id == user_id)
            ).first()
            return None if row is None else _info(row)

    def therapist(self, therapist_id: str) -> TherapistInfo | None:
        with self.store.reading() as s:
            row = s.get(TherapistProfile, therapist_id)
            return None if row is None else _info(row)

    def consulted(self, listener_id: str) -> list[tuple[TherapistInfo, str]]:
        """Therapists this account has a confirmed consult with (booked while signed in),
        each with the name the listener gave when booking (the latest)."""
        with self.store.reading() as s:
            rows = s.execute(
                select(TherapistProfile, Booking.name)
                .join(Booking, Booking.therapist_id == TherapistProfile.id)
                .where(Booking.user_id == listener_id, Booking.status == "booked")
                .order_by(Booking.created_at)
            ).all()
            seen: dict[str, tuple[TherapistInfo, str]] = {}
            for t, name in rows:
                seen[t.id] = (_info(t), name)
            return list(seen.values())

    # -- shares ------------------------------------------------------------------------
    def _share(self, s: Session, row: ShareRow) -> ShareRecord:
        t = s.get(TherapistProfile, row.therapist_id)
        assert t is not None
        name = s.scalar(
            select(Booking.name)
            .where(Booking.user_id == row.listener_id, Booking.therapist_id == row.therapist_id)
            .order_by(Booking.created_at.desc())
            .limit(1)
        )
        return ShareRecord(
            row.id,
            row.listener_id,
            _info(t),
            row.share_numbers,
            row.share_history,
            row.share_notes,
            row.created_at,
            row.updated_at,
            row.revoked_at,
            name or "",
        )

    def shares_of_listener(self, listener_id: str) -> list[ShareRecord]:
        with self.store.reading() as s:
            rows = s.scalars(
                select(ShareRow)
                .where(ShareRow.listener_id == listener_id)
                .order_by(ShareRow.created_at)
            )
            return [self._share(s, r) for r in rows]

    def shares_with(self, therapist_id: str) -> list[ShareRecord]:
        with self.store.reading() as s:
            rows = s.scalars(
                select(ShareRow)
                .where(ShareRow.therapist_id == therapist_id, ShareRow.revoked_at.is_(None))
                .order_by(ShareRow.created_at)
            )
            return [self._share(s, r) for r in rows]

    def share(self, share_id: str) -> ShareRecord | None:
        with self.store.reading() as s:
            row = s.get(ShareRow, share_id)
            return None if row is None else self._share(s, row)

    def share_between(self, listener_id: str, therapist_id: str) -> ShareRecord | None:
        with self.store.reading() as s:
            row = s.scalars(
                select(ShareRow).where(
                    ShareRow.listener_id == listener_id, ShareRow.therapist_id == therapist_id
                )
            ).first()
            return None if row is None else self._share(s, row)

    def save_share(
        self, listener_id: str, therapist_id: str, scope: Sequence[str], now: dt.datetime
    ) -> ShareRecord:
        with self.store.transaction() as s:
            row = s.scalars(
                select(ShareRow)
                .where(ShareRow.listener_id == listener_id, ShareRow.therapist_id == therapist_id)
                .with_for_update()
            ).first()
            if row is None:
                row = ShareRow(
                    id=new_id(), listener_id=listener_id, therapist_id=therapist_id, created_at=now
                )
                s.add(row)
            row.share_numbers = "numbers" in scope
            row.share_history = "history" in scope
            row.share_notes = "notes" in scope
            row.updated_at = now
            row.revoked_at = None
            s.flush()
            return self._share(s, row)

    def revoke(self, listener_id: str, therapist_id: str, now: dt.datetime) -> bool:
        with self.store.transaction() as s:
            row = s.scalars(
                select(ShareRow).where(
                    ShareRow.listener_id == listener_id,
                    ShareRow.therapist_id == therapist_id,
                    ShareRow.revoked_at.is_(None),
                )
            ).first()
            if row is None:
                return False
            row.revoked_at = now
            row.updated_at = now
            return True

    # -- access log --------------------------------------------------------------------
    def log(
        self,
        listener_id: str,
        therapist: TherapistInfo,
        what: str,
        scope: Sequence[str],
        now: dt.datetime,
    ) -> None:
        with self.store.transaction() as s:
            s.add(
                AccessLogRow(
                    id=new_id(),
                    listener_id=listener_id,
                    therapist_id=therapist.id,
                    therapist_name=therapist.name,
                    what=what[:80],
                    scope=list(scope),
                    created_at=now,
                )
            )

    def access_log(self, listener_id: str) -> list[LogRecord]:
        with self.store.reading() as s:
            rows = s.scalars(
                select(AccessLogRow)
                .where(AccessLogRow.listener_id == listener_id)
                .order_by(AccessLogRow.created_at.desc(), AccessLogRow.id)
                .limit(1000)
            )
            return [
                LogRecord(r.id, r.therapist_name, r.what, tuple(r.scope or ()), r.created_at)
                for r in rows
            ]

    # -- programmes --------------------------------------------------------------------
    def _prog(self, s: Session, row: ProgrammeRow) -> ProgrammeRecord:
        name = s.scalar(
            select(TherapistProfile.display_name).where(TherapistProfile.id == row.therapist_id)
        )
        return ProgrammeRecord.of(row, name or "")

    def add_programme(
        self, listener_id: str, therapist_id: str, spec: ProgrammeSpec, now: dt.datetime
    ) -> ProgrammeRecord:
        with self.store.transaction() as s:
            row = ProgrammeRow(
                id=new_id(),
                listener_id=listener_id,
                therapist_id=therapist_id,
                title=spec.title,
                goals=spec.goals_json(),
                sessions_per_week=spec.sessions_per_week,
                minutes_min=spec.minutes_min,
                minutes_max=spec.minutes_max,
                rhythm_note=spec.rhythm_note,
                listen=spec.listen.to_dict(),
                questions=spec.questions_json(),
                start_date=spec.start_date,
                end_date=spec.end_date,
                note=spec.note,
                remind_email=False,
                remind_weekdays=[],
                created_at=now,
            )
            s.add(row)
            s.flush()
            return self._prog(s, row)

    def programme(self, programme_id: str) -> ProgrammeRecord | None:
        with self.store.reading() as s:
            row = s.get(ProgrammeRow, programme_id)
            return None if row is None else self._prog(s, row)

    def programmes_of_listener(self, listener_id: str) -> list[ProgrammeRecord]:
        with self.store.connection() as conn:  # on every check-in: a statement built once
            rows = fetch(conn, _OF_LISTENER_ROWS, {"listener_id": listener_id})
        return [ProgrammeRecord.of(r, r.therapist_name or "") for r in rows]

    def programmes_between(self, listener_id: str, therapist_id: str) -> list[ProgrammeRecord]:
        return [
            p for p in self.programmes_of_listener(listener_id) if p.therapist_id == therapist_id
        ]

    def set_reminders(
        self, listener_id: str, programme_id: str, email: bool, weekdays: Sequence[int]
    ) -> ProgrammeRecord:
        with self.store.transaction() as s:
            row = s.get(ProgrammeRow, programme_id)
            if row is None or row.listener_id != listener_id:
                raise NotFound("programme", programme_id)
            row.remind_email = email
            row.remind_weekdays = sorted(set(weekdays))
            s.flush()
            return self._prog(s, row)

    # -- answers -----------------------------------------------------------------------
    def add_answers(
        self,
        listener_id: str,
        rows: Sequence[tuple[str, str, float]],
        checkin_id: str | None,
        now: dt.datetime,
    ) -> int:
        with self.store.transaction() as s:
            for programme_id, question_id, value in rows:
                s.add(
                    AnswerRow(
                        id=new_id(),
                        programme_id=programme_id,
                        listener_id=listener_id,
                        checkin_id=checkin_id,
                        question_id=question_id,
                        value=value,
                        created_at=now,
                    )
                )
            return len(rows)

    def answers(self, programme_id: str) -> list[AnswerRecord]:
        with self.store.reading() as s:
            rows = s.scalars(
                select(AnswerRow)
                .where(AnswerRow.programme_id == programme_id)
                .order_by(AnswerRow.created_at, AnswerRow.id)
            )
            return [
                AnswerRecord(r.programme_id, r.checkin_id, r.question_id, r.value, r.created_at)
                for r in rows
            ]

    # -- reminders ---------------------------------------------------------------------
    def reminder_candidates(self, day: dt.date) -> list[tuple[ProgrammeRecord, str | None]]:
        """Programmes running on ``day`` with email reminders on, not yet reminded that
        day, and the listener's email address."""
        from sonora.accounts.models import User

        with self.store.reading() as s:
            rows = s.execute(
                select(ProgrammeRow, User.email)
                .join(User, User.id == ProgrammeRow.listener_id)
                .where(
                    ProgrammeRow.remind_email.is_(True),
                    ProgrammeRow.start_date <= day,
                    ProgrammeRow.end_date >= day,
                )
            ).all()
            return [
                (self._prog(s, r), email)
                for r, email in rows
                if r.reminded_on != day and day.weekday() in (r.remind_weekdays or [])
            ]

    def mark_reminded(
        self, programme_id: str, day: dt.date, mails: Sequence[dict[str, str]], now: dt.datetime
    ) -> bool:
        """Set ``reminded_on`` to ``day`` unless it already is, and queue ``mails`` in the
        same transaction (so reruns, or two runs at once, send one reminder a day)."""
        from sqlalchemy import or_, update

        with self.store.transaction() as s:
            res = s.execute(
                update(ProgrammeRow)
                .where(
                    ProgrammeRow.id == programme_id,
                    or_(ProgrammeRow.reminded_on.is_(None), ProgrammeRow.reminded_on != day),
                )
                .values(reminded_on=day)
            )
            if not res.rowcount:
                return False
            for m in mails:
                s.add(
                    OutboxMessage(
                        id=new_id(),
                        kind=m["kind"],
                        to_addr=m["to_addr"],
                        subject=m["subject"][:300],
                        message=m["message"],
                        booking_id=None,
                        created_at=now,
                        next_attempt_at=now,
                        attempts=0,
                    )
                )
            return True
