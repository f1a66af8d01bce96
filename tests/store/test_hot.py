"""Hot-path statements (issue #15): psycopg directly gives what SQLAlchemy gives, and a
request's statements share one pinned connection.  On SQLite and PostgreSQL (the
fast path only exists on PostgreSQL; SQLite checks the fallback gives the same)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from sonora.accounts.repo import _USER_FOR_TOKEN, hash_token
from sonora.core.database import Database
from sonora.listening.repo import _HISTORY
from sonora.store import NotFound
from sonora.store.hot import fetch, pinned_connection


def _listener_with_a_session(store: Database) -> tuple[str, str]:
    user = store.create_user()
    token = store.issue_token(user.id, days=1)
    store.save_profile(user.id, {"loved": ["rain"], "default_goal": "sleep"})
    store.add_checkin_and_plan(
        user.id,
        checkin={"tension": 6, "goal": "sleep"},
        goal="sleep",
        care=None,
        plan={"recipe": "rain", "layers": []},
    )
    return user.id, token


def test_fetch_gives_the_rows_sqlalchemy_gives(store: Database) -> None:
    uid, token = _listener_with_a_session(store)
    for stmt, params in (
        (_USER_FOR_TOKEN, {"token_id": hash_token(token)}),
        (_HISTORY, {"user_id": uid, "limit": 10}),
    ):
        with store.connection() as conn:
            fast = fetch(conn, stmt, params)
            slow = conn.execute(stmt, params).all()
        assert len(fast) == len(slow) == 1
        assert tuple(fast[0]) == tuple(slow[0])
        assert fast[0]._fields == tuple(slow[0]._fields)
        # UTCDateTime's result processor ran: aware, and in UTC itself
        stamps = [v for v in fast[0] if isinstance(v, dt.datetime)]
        assert stamps and all(v.tzinfo is dt.UTC for v in stamps)
    with store.connection() as conn:
        row = fetch(conn, _USER_FOR_TOKEN, {"token_id": hash_token(token)})[0]
    assert row.id == uid and row.data["loved"] == ["rain"] and row.is_guest is True
    with store.connection() as conn:
        assert fetch(conn, _USER_FOR_TOKEN, {"token_id": "nobody"}) == []


def test_a_stored_json_null_and_a_missing_user_behave_as_before(store: Database) -> None:
    uid, _token = _listener_with_a_session(store)
    (entry,) = store.history(uid)
    assert entry.checkin.care is None and entry.checkin.data == {"tension": 6, "goal": "sleep"}
    # the foreign key refuses a check-in of nobody: SQLAlchemy's IntegrityError, as before
    with pytest.raises(NotFound):
        store.add_checkin_and_plan(
            "0" * 32, checkin={"tension": 1}, goal=None, care=None, plan={"recipe": "rain"}
        )
    with store.connection() as conn, pytest.raises(sa.exc.IntegrityError):
        from sonora.listening.repo import _CHECKIN_AND_PLAN

        if conn.dialect.name != "postgresql":
            raise sa.exc.IntegrityError("x", {}, Exception("the statement is PostgreSQL's"))
        now = dt.datetime.now(dt.UTC)
        fetch(
            conn,
            _CHECKIN_AND_PLAN,
            {"c_id": "a" * 32, "p_id": "b" * 32, "user_id": "0" * 32, "now": now}
            | {"goal": None, "data": {}, "care": None, "plan": {}},
        )
    # the connection is still usable after the error (autocommit: nothing to roll back)
    with store.connection() as conn:
        assert len(fetch(conn, _HISTORY, {"user_id": uid, "limit": 5})) == 1


def test_a_pinned_block_uses_one_connection_for_every_statement(store: Database) -> None:
    with store.connection() as a:
        pass
    engine = a.engine
    assert pinned_connection(engine) is None
    with store.pinned() as held:
        assert pinned_connection(engine) is held
        with store.connection() as c1, store.connection() as c2:
            assert c1 is held and c2 is held
        with store.pinned() as again:  # nested: the same one
            assert again is held
        store.history("0" * 32)  # statements run on it
    assert pinned_connection(engine) is None
    with store.connection() as d:
        assert d is not held
    assert held.closed  # returned to the pool when the block ended
