"""Repositories: every read and write Sonora makes, each in one transaction.

Every method that reads or changes a listener's data takes ``user_id`` and filters by
it, so a caller cannot reach someone else's check-ins, plans or history by id: a row
of another person is :class:`NotFound`, exactly as a row that does not exist.

Methods return plain frozen records (never live ORM objects), so nothing outside this
module holds a database session.

Examples
--------
>>> from sonora.store import Store
>>> store = Store.open("sqlite://")          # in memory, migrated
>>> user = store.create_user()
>>> store.get_profile(user.id).onboarded
False
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sonora.errors import SonoraError
from sonora.store.models import (
    PERSONAL_TABLES,
    AuthToken,
    CheckInRow,
    ListeningSession,
    MatcherState,
    MatchSession,
    OutcomeRow,
    PlanRow,
    Profile,
    User,
    new_id,
    utcnow,
)

__all__ = [
    "CheckInRecord",
    "EmailTaken",
    "HistoryEntry",
    "NotFound",
    "OutcomeRecord",
    "PlanRecord",
    "ProfileRecord",
    "Store",
    "StoreError",
    "UserRecord",
    "hash_token",
]

#: Export format version (bump when the shape of :meth:`Store.export_user` changes).
EXPORT_VERSION = 1


class StoreError(SonoraError):
    """Base class of storage errors a caller is expected to handle."""


class NotFound(StoreError, LookupError):
    """No such row for this listener (it may exist for someone else)."""

    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")


class EmailTaken(StoreError):
    """An account with that email address already exists."""


def hash_token(token: str) -> str:
    """SHA-256 hex of a cookie token: only this is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class UserRecord:
    """A listener: guest or account."""

    id: str
    email: str | None
    is_guest: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, row: User) -> UserRecord:
        return cls(row.id, row.email, row.is_guest, row.created_at)


@dataclass(frozen=True)
class ProfileRecord:
    """Onboarding answers and preferences."""

    user_id: str
    data: dict[str, Any]
    onboarded: bool


@dataclass(frozen=True)
class CheckInRecord:
    """A stored check-in."""

    id: str
    user_id: str
    created_at: dt.datetime
    goal: str | None
    data: dict[str, Any]
    care: dict[str, Any] | None

    @classmethod
    def of(cls, row: CheckInRow) -> CheckInRecord:
        return cls(row.id, row.user_id, row.created_at, row.goal, dict(row.data), row.care)


@dataclass(frozen=True)
class PlanRecord:
    """A stored plan with its calibration and mixer gains."""

    id: str
    user_id: str
    checkin_id: str
    created_at: dt.datetime
    plan: dict[str, Any]
    calibration: dict[str, Any] | None
    gains: list[float] | None
    started_at: dt.datetime | None

    @classmethod
    def of(cls, row: PlanRow) -> PlanRecord:
        return cls(
            row.id,
            row.user_id,
            row.checkin_id,
            row.created_at,
            dict(row.plan),
            None if row.calibration is None else dict(row.calibration),
            None if row.gains is None else list(row.gains),
            row.started_at,
        )


@dataclass(frozen=True)
class OutcomeRecord:
    """A stored check-out."""

    id: str
    plan_id: str
    created_at: dt.datetime
    data: dict[str, Any]
    reward: float | None

    @classmethod
    def of(cls, row: OutcomeRow) -> OutcomeRecord:
        return cls(row.id, row.plan_id, row.created_at, dict(row.data), row.reward)


@dataclass(frozen=True)
class HistoryEntry:
    """One session in a listener's history: check-in, plan and (maybe) outcome."""

    checkin: CheckInRecord
    plan: PlanRecord
    outcome: OutcomeRecord | None = None
    listened_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


# -- the store -------------------------------------------------------------------------
class Store:
    """Transactional access to Sonora's database.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A migrated database (see :func:`sonora.store.db.migrate`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, future=True)
        # Single-statement reads run in autocommit: no BEGIN/COMMIT round trips.
        self._reads = sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            future=True,
        )

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, migrate: bool = True) -> Store:
        """Connect to ``url`` (``"sqlite://"`` is a private in-memory database).

        Parameters
        ----------
        url : str
            Database URL.
        schema : str, optional
            PostgreSQL schema to use.
        migrate : bool
            Apply migrations first.
        """
        from sonora.store.db import make_engine
        from sonora.store.db import migrate as run_migrations

        engine = make_engine(url, schema=schema)
        if migrate:
            run_migrations(engine)
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as s:
            yield s

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for one read-only statement, in autocommit (no transaction)."""
        with self._reads() as s:
            yield s

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # -- users and sign-ins ------------------------------------------------------------
    def create_user(self) -> UserRecord:
        """Create a guest listener (no email, no password) with an empty profile."""
        with self.transaction() as s:
            user = User(id=new_id(), is_guest=True, created_at=utcnow(), last_seen_at=utcnow())
            s.add(user)
            s.flush()  # parent row first: there are no ORM relationships to order inserts
            s.add(Profile(user_id=user.id, data={}, onboarded=False, updated_at=utcnow()))
            s.flush()
            return UserRecord.of(user)

    def get_user(self, user_id: str) -> UserRecord:
        """The listener ``user_id`` (:class:`NotFound` if gone)."""
        with self.reading() as s:
            row = s.get(User, user_id)
            if row is None:
                raise NotFound("user", user_id)
            return UserRecord.of(row)

    def credentials(self, email: str) -> tuple[UserRecord, str] | None:
        """``(user, password_hash)`` for an account email, or ``None``."""
        with self.reading() as s:
            row = s.scalars(select(User).where(User.email == email.lower())).first()
            if row is None or row.password_hash is None:
                return None
            return UserRecord.of(row), row.password_hash

    def register(self, user_id: str, *, email: str, password_hash: str) -> UserRecord:
        """Turn a guest into an account, keeping everything they have done.

        Raises
        ------
        EmailTaken
            If another account uses ``email``.
        NotFound
            If the user does not exist.
        """
        email = email.lower()
        try:
            with self.transaction() as s:
                row = s.get(User, user_id)
                if row is None:
                    raise NotFound("user", user_id)
                taken = s.scalars(select(User.id).where(User.email == email)).first()
                if taken is not None and taken != user_id:
                    raise EmailTaken(email)
                row.email = email
                row.password_hash = password_hash
                row.is_guest = False
                s.flush()
                return UserRecord.of(row)
        except IntegrityError as exc:  # a concurrent sign-up with the same email
            raise EmailTaken(email) from exc

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replace the stored hash (e.g. rehash with newer argon2 parameters)."""
        with self.transaction() as s:
            s.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))

    def merge_guest(self, guest_id: str, into_user_id: str) -> None:
        """Move a guest's sessions into an account (at log-in), then delete the guest.

        The account keeps its own profile if it finished onboarding; otherwise it takes
        the guest's.  The guest's matcher state is dropped (the account's wins).
        """
        if guest_id == into_user_id:
            return
        with self.transaction() as s:
            guest = s.get(User, guest_id)
            if guest is None or not guest.is_guest:
                return
            for model in (CheckInRow, PlanRow, OutcomeRow, ListeningSession):
                s.execute(
                    update(model).where(model.user_id == guest_id).values(user_id=into_user_id)
                )
            mine = s.get(Profile, into_user_id)
            theirs = s.get(Profile, guest_id)
            if theirs is not None and theirs.onboarded and (mine is None or not mine.onboarded):
                if mine is None:
                    s.add(
                        Profile(
                            user_id=into_user_id,
                            data=dict(theirs.data),
                            onboarded=True,
                            updated_at=utcnow(),
                        )
                    )
                else:
                    mine.data = dict(theirs.data)
                    mine.onboarded = True
                    mine.updated_at = utcnow()
            self._delete_user_rows(s, guest_id)

    def issue_token(self, user_id: str, *, days: int) -> str:
        """Create a sign-in token for a cookie; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.transaction() as s:
            s.add(
                AuthToken(
                    id=hash_token(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + dt.timedelta(days=days),
                )
            )
        return token

    def user_for_token(self, token: str) -> UserRecord | None:
        """The listener a cookie token belongs to, or ``None`` (unknown or expired)."""
        if not token or len(token) > 256:
            return None
        now = utcnow()
        with self.reading() as s:
            row = s.execute(
                select(User, AuthToken.expires_at)
                .join(AuthToken, AuthToken.user_id == User.id)
                .where(AuthToken.id == hash_token(token))
            ).first()
        if row is None or row[1] <= now:
            return None
        user = row[0]
        if now - user.last_seen_at > dt.timedelta(minutes=5):
            with self.transaction() as s:
                s.execute(update(User).where(User.id == user.id).values(last_seen_at=now))
        return UserRecord.of(user)

    def revoke_token(self, token: str) -> None:
        """Forget one sign-in (log out)."""
        with self.transaction() as s:
            s.execute(delete(AuthToken).where(AuthToken.id == hash_token(token)))

    def purge_guests(self, *, idle_days: int) -> int:
        """Delete guests not seen for ``idle_days`` and everything of theirs."""
        cutoff = utcnow() - dt.timedelta(days=idle_days)
        with self.transaction() as s:
            ids = list(s.scalars(select(User.id).where(User.is_guest, User.last_seen_at < cutoff)))
            for uid in ids:
                self._delete_user_rows(s, uid)
            s.execute(delete(AuthToken).where(AuthToken.expires_at < utcnow()))
            return len(ids)

    # -- profile -----------------------------------------------------------------------
    def get_profile(self, user_id: str) -> ProfileRecord:
        """Onboarding answers and preferences (empty before onboarding)."""
        with self.reading() as s:
            row = s.get(Profile, user_id)
            if row is None:
                return ProfileRecord(user_id, {}, False)
            return ProfileRecord(user_id, dict(row.data), row.onboarded)

    def save_profile(
        self, user_id: str, data: dict[str, Any], *, onboarded: bool = True
    ) -> ProfileRecord:
        """Replace the profile's data."""
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            row = s.get(Profile, user_id)
            if row is None:
                row = Profile(user_id=user_id, data={}, onboarded=False)
                s.add(row)
            row.data = dict(data)
            row.onboarded = onboarded
            row.updated_at = utcnow()
            return ProfileRecord(user_id, dict(row.data), row.onboarded)

    # -- check-ins and plans -----------------------------------------------------------
    def add_checkin_and_plan(
        self,
        user_id: str,
        *,
        checkin: dict[str, Any],
        goal: str | None,
        care: dict[str, Any] | None,
        plan: dict[str, Any],
    ) -> tuple[CheckInRecord, PlanRecord]:
        """Store a check-in and the plan made for it, together (one transaction)."""
        now = utcnow()
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            c = CheckInRow(
                id=new_id(), user_id=user_id, created_at=now, goal=goal, data=checkin, care=care
            )
            p = PlanRow(id=new_id(), user_id=user_id, checkin_id=c.id, created_at=now, plan=plan)
            s.add_all([c, p])
            s.flush()  # one flush: the unit of work inserts the check-in first
            return CheckInRecord.of(c), PlanRecord.of(p)

    def get_checkin(self, user_id: str, checkin_id: str) -> CheckInRecord:
        """A check-in of this listener (:class:`NotFound` otherwise)."""
        with self.reading() as s:
            row = s.get(CheckInRow, checkin_id)
            if row is None or row.user_id != user_id:
                raise NotFound("check-in", checkin_id)
            return CheckInRecord.of(row)

    def get_plan(self, user_id: str, plan_id: str) -> PlanRecord:
        """A plan of this listener (:class:`NotFound` otherwise)."""
        with self.reading() as s:
            return PlanRecord.of(self._own_plan(s, user_id, plan_id))

    def _own_plan(self, s: Session, user_id: str, plan_id: str) -> PlanRow:
        row = s.get(PlanRow, plan_id)
        if row is None or row.user_id != user_id:
            raise NotFound("plan", plan_id)
        return row

    def update_plan(self, user_id: str, plan_id: str, plan: dict[str, Any]) -> PlanRecord:
        """Replace a plan's content (a swapped layer, a new length); drops its calibration
        and mixer gains, which no longer fit."""
        with self.transaction() as s:
            row = self._own_plan(s, user_id, plan_id)
            row.plan = dict(plan)
            row.calibration = None
            row.gains = None
            s.flush()
            return PlanRecord.of(row)

    def set_calibration(self, plan_id: str, calibration: dict[str, Any]) -> bool:
        """Keep a plan's loudness calibration if it still matches the plan's content.

        ``calibration["key"]`` must equal the key computed from the plan now stored
        (the caller passes it); a stale result for an edited plan is discarded.

        Returns
        -------
        bool
            Whether it was stored.
        """
        with self.transaction() as s:
            row = s.get(PlanRow, plan_id)
            if row is None:
                return False
            expected = calibration.get("plan_key")
            from sonora.store.keys import plan_key

            if expected != plan_key(row.plan):
                return False
            row.calibration = dict(calibration)
            return True

    def set_gains(self, user_id: str, plan_id: str, gains: list[float]) -> PlanRecord:
        """Store the listener's mixer gains (linear, one per layer)."""
        with self.transaction() as s:
            row = self._own_plan(s, user_id, plan_id)
            row.gains = [float(g) for g in gains]
            s.flush()
            return PlanRecord.of(row)

    def mark_started(self, user_id: str, plan_id: str) -> None:
        """Note the first time a plan was played."""
        with self.transaction() as s:
            row = self._own_plan(s, user_id, plan_id)
            if row.started_at is None:
                row.started_at = utcnow()

    # -- outcomes ----------------------------------------------------------------------
    def record_outcome(
        self, user_id: str, plan_id: str, *, data: dict[str, Any], reward: float | None
    ) -> OutcomeRecord:
        """Store (or replace) the check-out of a plan of this listener."""
        with self.transaction() as s:
            self._own_plan(s, user_id, plan_id)
            row = s.scalars(select(OutcomeRow).where(OutcomeRow.plan_id == plan_id)).first()
            if row is None:
                row = OutcomeRow(id=new_id(), plan_id=plan_id, user_id=user_id)
                s.add(row)
            row.data = dict(data)
            row.reward = reward
            row.created_at = utcnow()
            s.flush()
            return OutcomeRecord.of(row)

    def get_outcome(self, user_id: str, plan_id: str) -> OutcomeRecord | None:
        """The check-out of a plan of this listener, if any."""
        with self.transaction() as s:
            self._own_plan(s, user_id, plan_id)
            row = s.scalars(select(OutcomeRow).where(OutcomeRow.plan_id == plan_id)).first()
            return None if row is None else OutcomeRecord.of(row)

    # -- listening ---------------------------------------------------------------------
    def start_listening(self, user_id: str, plan_id: str, *, fmt: str, offset_s: float) -> str:
        """Record the start of a stream; returns its id."""
        now = utcnow()
        with self.transaction() as s:
            row = self._own_plan(s, user_id, plan_id)
            if row.started_at is None:
                row.started_at = now
            ls = ListeningSession(
                id=new_id(),
                plan_id=plan_id,
                user_id=user_id,
                format=fmt,
                start_offset_s=offset_s,
                offset_s=offset_s,
                started_at=now,
                updated_at=now,
            )
            s.add(ls)
            return ls.id

    def update_listening(self, listening_id: str, *, offset_s: float, ended: str | None) -> None:
        """Record how far a stream got and, when it is over, how it ended."""
        with self.transaction() as s:
            row = s.get(ListeningSession, listening_id)
            if row is None:  # the listener deleted their account meanwhile
                return
            row.offset_s = float(offset_s)
            row.updated_at = utcnow()
            if ended is not None:
                row.ended = ended

    # -- history, export, deletion -----------------------------------------------------
    def recent_moods(self, user_id: str, *, since: dt.datetime, limit: int = 20) -> list[Any]:
        """Moods (0-10 or ``None``) of this listener's check-ins since ``since``, oldest first.

        One small query (the mood-pattern signal runs on every check-in).
        """
        with self.reading() as s:
            rows = s.execute(
                select(CheckInRow.data)
                .where(CheckInRow.user_id == user_id, CheckInRow.created_at >= since)
                .order_by(CheckInRow.created_at.desc(), CheckInRow.id)
                .limit(limit)
            ).all()
        return [(data or {}).get("mood") for (data,) in reversed(rows)]

    def history(self, user_id: str, *, limit: int = 500) -> list[HistoryEntry]:
        """This listener's sessions, oldest first (at most ``limit``, the newest)."""
        with self.transaction() as s:
            plans = list(
                s.scalars(
                    select(PlanRow)
                    .where(PlanRow.user_id == user_id)
                    .order_by(PlanRow.created_at.desc(), PlanRow.id)
                    .limit(limit)
                )
            )
            if not plans:
                return []
            ids = [p.id for p in plans]
            checkins = {
                c.id: c
                for c in s.scalars(
                    select(CheckInRow).where(
                        CheckInRow.id.in_([p.checkin_id for p in plans]),
                        CheckInRow.user_id == user_id,
                    )
                )
            }
            outcomes = {
                o.plan_id: o
                for o in s.scalars(
                    select(OutcomeRow).where(
                        OutcomeRow.plan_id.in_(ids), OutcomeRow.user_id == user_id
                    )
                )
            }
            listened = dict(
                s.execute(
                    select(
                        ListeningSession.plan_id,
                        func.max(ListeningSession.offset_s),
                    )
                    .where(ListeningSession.plan_id.in_(ids), ListeningSession.user_id == user_id)
                    .group_by(ListeningSession.plan_id)
                ).all()
            )
            out = [
                HistoryEntry(
                    checkin=CheckInRecord.of(checkins[p.checkin_id]),
                    plan=PlanRecord.of(p),
                    outcome=None if p.id not in outcomes else OutcomeRecord.of(outcomes[p.id]),
                    listened_s=float(listened.get(p.id) or 0.0),
                )
                for p in plans
                if p.checkin_id in checkins
            ]
            out.reverse()
            return out

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything stored about this listener, as one JSON-ready mapping.

        Password hashes and sign-in token hashes are left out (they are secrets about
        the account, not the listener's data); everything else is included.
        """

        def ts(v: dt.datetime | None) -> str | None:
            return None if v is None else v.isoformat()

        with self.transaction() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound("user", user_id)
            profile = s.get(Profile, user_id)

            def rows(model: Any) -> list[Any]:
                return list(
                    s.scalars(
                        select(model).where(model.user_id == user_id).order_by(*_order(model))
                    )
                )

            return {
                "format": "sonora-export",
                "version": EXPORT_VERSION,
                "exported_at": utcnow().isoformat(),
                "user": {
                    "id": user.id,
                    "email": user.email,
                    "is_guest": user.is_guest,
                    "created_at": ts(user.created_at),
                    "last_seen_at": ts(user.last_seen_at),
                },
                "profile": None
                if profile is None
                else {
                    "data": profile.data,
                    "onboarded": profile.onboarded,
                    "updated_at": ts(profile.updated_at),
                },
                "checkins": [
                    {
                        "id": c.id,
                        "created_at": ts(c.created_at),
                        "goal": c.goal,
                        "answers": c.data,
                        "care": c.care,
                    }
                    for c in rows(CheckInRow)
                ],
                "plans": [
                    {
                        "id": p.id,
                        "checkin_id": p.checkin_id,
                        "created_at": ts(p.created_at),
                        "started_at": ts(p.started_at),
                        "plan": p.plan,
                        "mixer_gains": p.gains,
                    }
                    for p in rows(PlanRow)
                ],
                "outcomes": [
                    {
                        "id": o.id,
                        "plan_id": o.plan_id,
                        "created_at": ts(o.created_at),
                        "answers": o.data,
                        "score": o.reward,
                    }
                    for o in rows(OutcomeRow)
                ],
                "listening": [
                    {
                        "id": ls.id,
                        "plan_id": ls.plan_id,
                        "format": ls.format,
                        "start_offset_s": ls.start_offset_s,
                        "offset_s": ls.offset_s,
                        "started_at": ts(ls.started_at),
                        "updated_at": ts(ls.updated_at),
                        "ended": ls.ended,
                    }
                    for ls in rows(ListeningSession)
                ],
                "learning": {
                    "state": {m.key: m.data for m in rows(MatcherState)},
                    "sessions": [m.data for m in rows(MatchSession)],
                },
                "sign_ins": [
                    {"created_at": ts(t.created_at), "expires_at": ts(t.expires_at)}
                    for t in rows(AuthToken)
                ],
            }

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Delete the listener and everything of theirs; returns rows deleted per table."""
        with self.transaction() as s:
            if s.get(User, user_id) is None:
                raise NotFound("user", user_id)
            return self._delete_user_rows(s, user_id)

    def _delete_user_rows(self, s: Session, user_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for model in PERSONAL_TABLES:
            res = s.execute(delete(model).where(model.user_id == user_id))
            counts[model.__tablename__] = int(res.rowcount or 0)
        res = s.execute(delete(User).where(User.id == user_id))
        counts["users"] = int(res.rowcount or 0)
        return counts

    def count_rows(self, user_id: str) -> dict[str, int]:
        """Rows held for this listener in every table (deletion is checked with this)."""
        with self.transaction() as s:
            out = {
                m.__tablename__: int(
                    s.scalar(select(func.count()).select_from(m).where(m.user_id == user_id)) or 0
                )
                for m in PERSONAL_TABLES
            }
            out["users"] = int(
                s.scalar(select(func.count()).select_from(User).where(User.id == user_id)) or 0
            )
            return out

    # -- matcher state -----------------------------------------------------------------
    def get_state(self, user_id: str, key: str) -> Any | None:
        """The matcher's stored state for this listener under ``key`` (or ``None``)."""
        with self.reading() as s:
            row = s.get(MatcherState, (user_id, key))
            return None if row is None else row.data

    def put_state(self, user_id: str, key: str, data: Any) -> None:
        """Store the matcher's state for this listener under ``key``."""
        with self.transaction() as s:
            row = s.get(MatcherState, (user_id, key))
            if row is None:
                s.add(
                    MatcherState(
                        user_id=user_id, key=key, data=data, version=1, updated_at=utcnow()
                    )
                )
            else:
                row.data = data
                row.version += 1
                row.updated_at = utcnow()


def _order(model: Any) -> list[Any]:
    for name in ("created_at", "started_at", "updated_at"):
        col = getattr(model, name, None)
        if col is not None:
            return [col, *model.__table__.primary_key.columns]
    return list(model.__table__.primary_key.columns)
