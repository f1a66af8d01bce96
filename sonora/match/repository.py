"""The matcher's storage interface (:class:`sonora.match.Store`) on the database.

* Profiles are the ``profiles`` rows the web app keeps (one source of truth): the
  matcher's ``personal_evidence`` is the profile's ``quiet_rest`` switch.
* Finished sessions are ``match_sessions`` rows (``SessionRecord.to_dict()``).
* State whose key ends in a listener's id (``"match.pending.<id>"``) belongs to that
  listener (``matcher_state``), so exporting or deleting an account includes it; all
  other state (the population prior) is shared (``app_state``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.exc import IntegrityError

from sonora.accounts.models import Profile as ProfileRow
from sonora.accounts.models import User
from sonora.match.profile import Profile
from sonora.match.store import SessionRecord
from sonora.match.tables import AppState, MatcherState, MatchSession
from sonora.store.base import new_id, utcnow
from sonora.store.database import SqlDatabase
from sonora.store.hot import fetch

__all__ = ["MatcherStore", "matcher_profile", "web_profile_update"]

_ID = re.compile(r"^[0-9a-f]{32}$")
#: Profile keys the matcher owns, and the web profile key each one is stored under.
_KEYS = {
    "loved": "loved",
    "disliked": "disliked",
    "sensitivities": "sensitivities",
    "default_goal": "default_goal",
    "breath_pacer": "breath_pacer",
    "personal_evidence": "quiet_rest",
}


def matcher_profile(listener_id: str, data: dict[str, Any]) -> Profile:
    """The matcher's :class:`~sonora.match.Profile` from stored profile data."""
    answers = {k: data[w] for k, w in _KEYS.items() if w in data and data[w] is not None}
    return Profile.from_onboarding(listener_id, answers)


def web_profile_update(profile: Profile) -> dict[str, Any]:
    """Stored profile data for a matcher :class:`~sonora.match.Profile`."""
    d = profile.to_dict()
    return {w: d[k] for k, w in _KEYS.items()}


_ALL_SESSIONS = select(MatchSession.data).order_by(MatchSession.created_at, MatchSession.id)


def _sessions_since() -> Any:
    """One listener's session count and newest time, with their sessions newer than
    ``:since``, oldest first (one row with ``data`` NULL when there are none): what
    :meth:`MatcherStore.sessions` checks its cache with.  Built once."""
    uid = bindparam("user_id", type_=MatchSession.user_id.type)
    agg = (
        select(
            func.count().label("n"),
            func.max(MatchSession.created_at).label("last_at"),
        )
        .where(MatchSession.user_id == uid)
        .subquery("agg")
    )
    new = (
        select(MatchSession.data, MatchSession.created_at, MatchSession.id)
        .where(
            MatchSession.user_id == uid,
            MatchSession.created_at > bindparam("since", type_=MatchSession.created_at.type),
        )
        .subquery("new")
    )
    return (
        select(agg.c.n, agg.c.last_at, new.c.data)
        .select_from(agg.outerjoin(new, true()))
        .order_by(new.c.created_at, new.c.id)
    )


_SESSIONS_SINCE = _sessions_since()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Listeners whose sessions a process keeps decoded (the most recently used).
CACHED_LISTENERS = 1024


class MatcherStore:
    """:class:`sonora.match.Store` backed by Sonora's database.

    Parameters
    ----------
    store : SqlDatabase
        The app's store (same engine, same transactions style).
    """

    def __init__(self, store: SqlDatabase) -> None:
        self.store = store
        #: listener id -> (count, newest created_at, their sessions oldest first)
        self._cache: OrderedDict[str, tuple[int, dt.datetime | None, tuple[SessionRecord, ...]]]
        self._cache = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- profiles ----------------------------------------------------------------------
    def get_profile(self, listener_id: str) -> Profile | None:
        """The listener's profile, or ``None`` if they never onboarded."""
        with self.store.reading() as s:
            row = s.get(ProfileRow, listener_id)
            if row is None or not row.onboarded:
                return None
            return matcher_profile(listener_id, dict(row.data))

    def put_profile(self, profile: Profile) -> None:
        """Create or replace the matcher's part of a profile (other keys are kept)."""
        with self.store.transaction() as s:
            if s.get(User, profile.listener_id) is None:
                return  # deleted meanwhile: nothing to attach it to
            row = s.get(ProfileRow, profile.listener_id)
            if row is None:
                row = ProfileRow(user_id=profile.listener_id, data={}, onboarded=True)
                s.add(row)
            row.data = {**dict(row.data or {}), **web_profile_update(profile)}
            row.onboarded = True
            row.updated_at = utcnow()

    # -- sessions ----------------------------------------------------------------------
    def add_session(self, record: SessionRecord) -> None:
        """Append a finished session."""
        with self.store.transaction() as s:
            if s.get(User, record.listener_id) is None:
                return
            s.add(
                MatchSession(
                    id=new_id(),
                    user_id=record.listener_id,
                    created_at=utcnow(),
                    data=record.to_dict(),
                )
            )

    def sessions(self, listener_id: str | None = None) -> list[SessionRecord]:
        """Sessions of one listener (or everyone), oldest first.

        One listener's are read on every check-in, so this process keeps them decoded
        and asks the database only for the count, the newest time and any sessions
        newer than those it holds, in one statement (sessions are only ever appended;
        a count that does not add up, as after an older session moved in or a
        deletion, rereads them all).  Another process's new session is
        seen at once, as before (issue #15).
        """
        if listener_id is None:
            with self.store.connection() as conn:  # Core: no ORM session (issue #15)
                return [_record(data) for data in conn.scalars(_ALL_SESSIONS)]
        with self._cache_lock:
            cached = self._cache.get(listener_id)
        if cached is not None:
            n, last_at, records = cached
            found = self._read_since(listener_id, last_at or _EPOCH)
            if found is not None and found[0] == n + len(found[2]):
                if found[2]:
                    records = records + found[2]
                    self._remember(listener_id, found[0], found[1], records)
                return list(records)
        found = self._read_since(listener_id, _EPOCH)
        assert found is not None
        self._remember(listener_id, *found)
        return list(found[2])

    def _read_since(
        self, listener_id: str, since: dt.datetime
    ) -> tuple[int, dt.datetime | None, tuple[SessionRecord, ...]] | None:
        """``(count, newest created_at, sessions newer than since)`` in one statement."""
        with self.store.connection() as conn:
            rows = fetch(conn, _SESSIONS_SINCE, {"user_id": listener_id, "since": since})
        if not rows:  # pragma: no cover - the aggregate always gives a row
            return None
        n, last_at = int(rows[0].n), rows[0].last_at
        return n, last_at, tuple(_record(r.data) for r in rows if r.data is not None)

    def _remember(
        self,
        listener_id: str,
        n: int,
        last_at: dt.datetime | None,
        records: tuple[SessionRecord, ...],
    ) -> None:
        with self._cache_lock:
            self._cache[listener_id] = (n, last_at, records)
            self._cache.move_to_end(listener_id)
            while len(self._cache) > CACHED_LISTENERS:
                self._cache.popitem(last=False)

    def forget_cached(self, listener_id: str) -> None:
        """Drop what this process holds of a listener's sessions (a deleted account)."""
        with self._cache_lock:
            self._cache.pop(listener_id, None)

    def listener_ids(self) -> list[str]:
        """Listeners with a profile or at least one session."""
        with self.store.reading() as s:
            a = set(s.scalars(select(ProfileRow.user_id).where(ProfileRow.onboarded)))
            b = set(s.scalars(select(MatchSession.user_id).distinct()))
            return sorted(a | b)

    # -- state -------------------------------------------------------------------------
    def get_state(self, key: str) -> Any:
        """A saved value (``None`` if absent)."""
        owner = _owner(key)
        with self.store.reading() as s:
            if owner is not None:
                row = s.get(MatcherState, (owner, key))
                if row is not None:
                    return row.data
            shared = s.get(AppState, key)
            return None if shared is None else shared.data

    def put_state(self, key: str, value: Any) -> None:
        """Save a JSON-serialisable value."""
        owner = _owner(key)
        if owner is not None and self._upsert_owned(owner, key, value):
            return
        with self.store.transaction() as s:
            if owner is not None:
                # An existing row implies the user exists (deleting them cascades), so
                # the common case is one read.
                row = s.get(MatcherState, (owner, key))
                if row is not None:
                    row.data = value
                    row.version += 1
                    row.updated_at = utcnow()
                    return
                if s.get(User, owner) is not None:
                    s.add(
                        MatcherState(
                            user_id=owner, key=key, data=value, version=1, updated_at=utcnow()
                        )
                    )
                    return
            row2 = s.get(AppState, key)
            if row2 is None:
                s.add(AppState(key=key, data=value, updated_at=utcnow()))
            else:
                row2.data = value
                row2.updated_at = utcnow()

    def _upsert_owned(self, owner: str, key: str, value: Any) -> bool:
        """One ``INSERT ... ON CONFLICT DO UPDATE`` for a listener's key (PostgreSQL,
        SQLite); ``False`` when it does not apply (another database, or no such user).

        The matcher saves state on every recommendation; one statement in place of two
        reads and a write takes a noticeable share off each check-in.
        """
        name = self.store.engine.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            return False
        ins = insert(MatcherState).values(
            user_id=owner, key=key, data=value, version=1, updated_at=utcnow()
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[MatcherState.user_id, MatcherState.key],
            set_={
                "data": ins.excluded.data,
                "version": MatcherState.version + 1,
                "updated_at": ins.excluded.updated_at,
            },
        )
        try:
            # a single statement is atomic on its own: run it in autocommit (no
            # BEGIN/COMMIT round trips)
            with self.store.reading() as s:
                s.execute(stmt)
        except IntegrityError:  # the listener is gone: the caller's fallback decides
            return False
        return True


def _owner(key: str) -> str | None:
    last = key.rsplit(".", 1)[-1]
    return last if _ID.match(last) else None


def _record(data: dict[str, Any]) -> SessionRecord:
    d = dict(data)
    d["families"] = tuple(d.get("families") or ())
    if d.get("features") is not None:
        d["features"] = tuple(d["features"])
    return SessionRecord(**d)
