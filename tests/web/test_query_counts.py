"""Round trips per request on the hot paths, on each kind of database (issue #15).

A check-in and a history read are the requests every listener makes; their cost is
mostly statements sent to the database.  These tests count the statements one
``POST /api/checkins`` and one ``GET /api/history`` send (a cursor hook on both of the
store's engines), so a change that adds a query to the hot path fails here instead of
showing up later as CPU in ``benchmarks/checkin_cpu.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from webkit import CHECKIN, web_settings

from sonora.core.database import Database
from sonora.store.db import read_engine
from sonora.web import Core, create_app

#: Statements per check-in: token+user+profile and the rate counters (one ``WITH``
#: statement on PostgreSQL, two on SQLite), running programmes, recent moods, the
#: matcher's sessions, and the check-in with its plan (one statement on PostgreSQL,
#: two INSERTs in one transaction on SQLite).
CHECKIN_STATEMENTS = {"postgresql": 5, "sqlite": 7}
#: History: token+user+profile, one joined read of the sessions, the music playlists.
HISTORY_STATEMENTS = 3


@pytest.fixture
def counted(
    db_url: tuple[str, str | None], tmp_path: Path
) -> Iterator[tuple[TestClient, list[str], str]]:
    """A signed-in guest with some finished sessions, the list statements go to, and
    the database's dialect."""
    url, schema = db_url
    store = Database.open(url, schema=schema)
    core = Core(web_settings(tmp_path, database_url=url), store=store)
    app = create_app(core)
    seen: list[str] = []

    def hook(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    # the read engine has its own pool on PostgreSQL; on SQLite it is the same engine
    # with options, whose events are the engine's own
    engines = [store.engine]
    if read_engine(store.engine).pool is not store.engine.pool:
        engines.append(read_engine(store.engine))
    try:
        with TestClient(app) as c:
            assert c.post("/api/guest", json={}).status_code in (200, 201)
            for rating in (8, 3):  # history for the matcher and the mood pattern
                r = c.post("/api/checkins", json=CHECKIN)
                assert r.status_code == 201, r.text
                pid = r.json()["plan"]["id"]
                out = {"tension": 3, "mood": 6, "rating": rating, "completed": True}
                assert c.post(f"/api/plans/{pid}/outcome", json=out).status_code == 201
            for e in engines:
                sa.event.listen(e, "before_cursor_execute", hook)
            yield c, seen, store.engine.dialect.name
    finally:
        for e in engines:
            if sa.event.contains(e, "before_cursor_execute", hook):
                sa.event.remove(e, "before_cursor_execute", hook)
        store.close()


def _statements(seen: list[str]) -> list[str]:
    """What was sent, without transaction control (BEGIN/COMMIT are not statements here)."""
    return [s for s in seen if s.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]


def test_a_check_in_sends_a_fixed_small_number_of_statements(
    counted: tuple[TestClient, list[str], str],
) -> None:
    c, seen, dialect = counted
    seen.clear()
    r = c.post("/api/checkins", json=CHECKIN)
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["layers"], "a check-in makes a plan"
    sent = _statements(seen)
    assert len(sent) == CHECKIN_STATEMENTS[dialect], "\n---\n".join(sent)


def test_a_history_read_is_three_statements_whatever_its_length(
    counted: tuple[TestClient, list[str], str],
) -> None:
    c, seen, _dialect = counted
    seen.clear()
    r = c.get("/api/history")
    assert r.status_code == 200, r.text
    assert len(r.json()["sessions"]) == 2
    assert len(_statements(seen)) == HISTORY_STATEMENTS, "\n---\n".join(_statements(seen))
