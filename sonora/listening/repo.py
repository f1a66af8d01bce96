"""The listening repository: check-ins, plans, check-outs, streams and history.

Every method that reads or changes a listener's data takes ``user_id`` and filters by
it, so a caller cannot reach someone else's check-ins, plans or history by id: a row
of another person is :class:`~sonora.store.errors.NotFound`, exactly as a row that does
not exist.  Methods return plain frozen records (never live ORM objects).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sonora.accounts.privacy import UserRows, iso, rows_of
from sonora.listening.models import CheckInRow, ListeningSession, OutcomeRow, PlanRow
from sonora.listening.stretches import ListenedStretch, listened_since
from sonora.store.base import new_id, utcnow
from sonora.store.database import SqlDatabase
from sonora.store.errors import NotFound
from sonora.store.hot import fetch
from sonora.store.records import RowRecord

__all__ = [
    "LISTENING_ROWS",
    "CheckInRecord",
    "HistoryEntry",
    "ListeningRepo",
    "OutcomeRecord",
    "PlanRecord",
]


# -- records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckInRecord(RowRecord):
    """A stored check-in."""

    id: str
    user_id: str
    created_at: dt.datetime
    goal: str | None
    data: dict[str, Any]
    care: dict[str, Any] | None


#: The data of a listener's check-ins since a time, newest first: runs on every
#: check-in, so the statement is built once (building it cost as much CPU as running
#: it; issue #15).
_RECENT_MOODS = (
    select(CheckInRow.data)
    .where(
        CheckInRow.user_id == bindparam("user_id"),
        CheckInRow.created_at >= bindparam("since", type_=CheckInRow.__table__.c.created_at.type),
    )
    .order_by(CheckInRow.created_at.desc(), CheckInRow.id)
    .limit(bindparam("limit"))
)


def _history_statement() -> Select[Any]:
    """A listener's newest plans with their check-ins, outcomes and listened seconds."""
    pl, ck = PlanRow.__table__, CheckInRow.__table__
    oc, ls = OutcomeRow.__table__, ListeningSession.__table__
    uid = bindparam("user_id")
    recent = (
        select(pl)
        .where(pl.c.user_id == uid)
        .order_by(pl.c.created_at.desc(), pl.c.id)
        .limit(bindparam("limit"))
        .subquery("recent")
    )
    listened = (
        select(ls.c.plan_id, func.max(ls.c.offset_s).label("listened_s"))
        .where(ls.c.user_id == uid)
        .group_by(ls.c.plan_id)
        .subquery("listened")
    )
    return (
        select(
            recent,
            ck.c.id.label("c_id"),
            ck.c.created_at.label("c_created_at"),
            ck.c.goal.label("c_goal"),
            ck.c.data.label("c_data"),
            ck.c.care.label("c_care"),
            oc.c.id.label("o_id"),
            oc.c.created_at.label("o_created_at"),
            oc.c.data.label("o_data"),
            oc.c.reward.label("o_reward"),
            listened.c.listened_s,
        )
        .join(ck, and_(ck.c.id == recent.c.checkin_id, ck.c.user_id == uid))
        .outerjoin(oc, and_(oc.c.plan_id == recent.c.id, oc.c.user_id == uid))
        .outerjoin(listened, listened.c.plan_id == recent.c.id)
        .order_by(recent.c.created_at.desc(), recent.c.id)
    )


_HISTORY = _history_statement()


def _checkin_and_plan_statement() -> Any:
    """PostgreSQL: the check-in and its plan in one ``WITH ... INSERT`` statement, with
    bound parameters (``c_id, p_id, user_id, now, goal, data, care, plan``), built once:
    building it per check-in (values inline) cost ~0.2 ms of CPU (issue #15)."""
    ck, pl = CheckInRow.__table__, PlanRow.__table__
    c_ins = (
        insert(ck)
        .values(
            id=bindparam("c_id", type_=ck.c.id.type),
            user_id=bindparam("user_id", type_=ck.c.user_id.type),
            created_at=bindparam("now", type_=ck.c.created_at.type),
            goal=bindparam("goal", type_=ck.c.goal.type),
            data=bindparam("data", type_=ck.c.data.type),
            care=bindparam("care", type_=ck.c.care.type),
        )
        .returning(ck.c.id)
        .cte("new_checkin")
    )
    source = select(
        bindparam("p_id", type_=pl.c.id.type),
        bindparam("user_id", type_=pl.c.user_id.type),
        bindparam("now", type_=pl.c.created_at.type),
        c_ins.c.id,
        bindparam("plan", type_=pl.c.plan.type),
    )
    return insert(pl).from_select(["id", "user_id", "created_at", "checkin_id", "plan"], source)


_CHECKIN_AND_PLAN = _checkin_and_plan_statement()


@dataclass(frozen=True)
class PlanRecord(RowRecord):
    """A stored plan with its calibration and mixer gains."""

    id: str
    user_id: str
    checkin_id: str
    created_at: dt.datetime
    plan: dict[str, Any]
    calibration: dict[str, Any] | None
    gains: list[float] | None
    started_at: dt.datetime | None


@dataclass(frozen=True)
class OutcomeRecord(RowRecord):
    """A stored check-out."""

    id: str
    plan_id: str
    created_at: dt.datetime
    data: dict[str, Any]
    reward: float | None


@dataclass(frozen=True)
class HistoryEntry:
    """One session in a listener's history: check-in, plan and (maybe) outcome."""

    checkin: CheckInRecord
    plan: PlanRecord
    outcome: OutcomeRecord | None = None
    listened_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _export(s: Session, user_id: str) -> dict[str, Any]:
    return {
        "checkins": [
            {
                "id": c.id,
                "created_at": iso(c.created_at),
                "goal": c.goal,
                "answers": c.data,
                "care": c.care,
            }
            for c in rows_of(s, CheckInRow, user_id)
        ],
        "plans": [
            {
                "id": p.id,
                "checkin_id": p.checkin_id,
                "created_at": iso(p.created_at),
                "started_at": iso(p.started_at),
                "plan": p.plan,
                "mixer_gains": p.gains,
            }
            for p in rows_of(s, PlanRow, user_id)
        ],
        "outcomes": [
            {
                "id": o.id,
                "plan_id": o.plan_id,
                "created_at": iso(o.created_at),
                "answers": o.data,
                "score": o.reward,
            }
            for o in rows_of(s, OutcomeRow, user_id)
        ],
        "listening": [
            {
                "id": ls.id,
                "plan_id": ls.plan_id,
                "format": ls.format,
                "start_offset_s": ls.start_offset_s,
                "offset_s": ls.offset_s,
                "started_at": iso(ls.started_at),
                "updated_at": iso(ls.updated_at),
                "ended": ls.ended,
            }
            for ls in rows_of(s, ListeningSession, user_id)
        ],
    }


#: The listening feature's part of an account (children first).
#: A guest's sessions move to the account they log in to.
LISTENING_ROWS = UserRows(
    (ListeningSession, OutcomeRow, PlanRow, CheckInRow), _export, movable=True
)


class ListeningRepo(SqlDatabase):
    """Check-ins, plans, check-outs, streams and history, each call one transaction."""

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
        """Store a check-in and the plan made for it, together (one transaction).

        On PostgreSQL both rows go in one ``WITH ... INSERT`` statement (its own
        transaction: one round trip instead of BEGIN, two INSERTs and COMMIT, on the
        check-in's hot path, issue #15); elsewhere two INSERTs in one transaction.
        """
        now = utcnow()
        cid, pid = new_id(), new_id()
        c_values = {
            "id": cid,
            "user_id": user_id,
            "created_at": now,
            "goal": goal,
            "data": checkin,
            "care": care,
        }
        p_values = {"id": pid, "user_id": user_id, "checkin_id": cid, "created_at": now}
        try:
            if self.engine.dialect.name == "postgresql":
                params = {
                    "c_id": cid,
                    "p_id": pid,
                    "user_id": user_id,
                    "now": now,
                    "goal": goal,
                    "data": checkin,
                    "care": care,
                    "plan": plan,
                }
                with self.connection() as conn:  # autocommit: the statement is the transaction
                    fetch(conn, _CHECKIN_AND_PLAN, params)
            else:
                with self.transaction() as s:
                    s.execute(insert(CheckInRow.__table__).values(c_values))
                    s.execute(insert(PlanRow.__table__).values({**p_values, "plan": plan}))
        except IntegrityError as exc:
            # fresh random ids: only the user's foreign key can fail, so the user is gone
            # (the foreign key checks it instead of one more SELECT on every check-in)
            raise NotFound("user", user_id) from exc
        return (
            CheckInRecord(cid, user_id, now, goal, dict(checkin), care),
            PlanRecord(pid, user_id, cid, now, dict(plan), None, None, None),
        )

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

    def edit_outcome(
        self, user_id: str, plan_id: str, *, data: dict[str, Any], reward: float | None
    ) -> OutcomeRecord:
        """Replace the answers and score of an existing check-out (its date is kept).

        Raises :class:`NotFound` (``what="outcome"``) when the plan has no check-out yet.
        """
        with self.transaction() as s:
            self._own_plan(s, user_id, plan_id)
            row = s.scalars(
                select(OutcomeRow).where(OutcomeRow.plan_id == plan_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound("outcome", plan_id)
            row.data = dict(data)
            row.reward = reward
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

    def listened_since(self, user_id: str, since: dt.datetime) -> list[ListenedStretch]:
        """This listener's streams started at or after ``since`` (timezone-aware), oldest
        first, with the time listened (:func:`sonora.listening.stretches.listened_since`)."""
        return listened_since(self, user_id, since)

    # -- history, export, deletion -----------------------------------------------------
    def recent_moods(self, user_id: str, *, since: dt.datetime, limit: int = 20) -> list[Any]:
        """Moods (0-10 or ``None``) of this listener's check-ins since ``since``, oldest first.

        One small query (the mood-pattern signal runs on every check-in).
        """
        with self.connection() as conn:
            rows = fetch(conn, _RECENT_MOODS, {"user_id": user_id, "since": since, "limit": limit})
        return [(data or {}).get("mood") for (data,) in reversed(rows)]

    def history(self, user_id: str, *, limit: int = 500) -> list[HistoryEntry]:
        """This listener's sessions, oldest first (at most ``limit``, the newest).

        One statement (plans joined with their check-ins, outcomes and how far each
        was listened to), built once: a history read was five round trips (issue #15).
        """
        with self.connection() as conn:
            rows = fetch(conn, _HISTORY, {"user_id": user_id, "limit": limit})
        out = [
            HistoryEntry(
                checkin=CheckInRecord(
                    r.c_id, user_id, r.c_created_at, r.c_goal, dict(r.c_data), r.c_care
                ),
                plan=PlanRecord(
                    r.id,
                    user_id,
                    r.checkin_id,
                    r.created_at,
                    dict(r.plan),
                    None if r.calibration is None else dict(r.calibration),
                    None if r.gains is None else list(r.gains),
                    r.started_at,
                ),
                outcome=None
                if r.o_id is None
                else OutcomeRecord(r.o_id, r.id, r.o_created_at, dict(r.o_data), r.o_reward),
                listened_s=float(r.listened_s or 0.0),
            )
            for r in rows
        ]
        out.reverse()
        return out
