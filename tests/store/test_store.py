"""Storage on SQLite and PostgreSQL: repositories, isolation, export, deletion, migrations.

PostgreSQL runs at 127.0.0.1:5432, database ``test`` (``SONORA_TEST_POSTGRES_URL``
overrides; without a server these tests fail rather than skip).  Each test gets its own schema,
dropped afterwards; nothing else in the database is touched.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sonora.accounts.models import AuthToken, User
from sonora.accounts.repo import EmailTaken
from sonora.core.database import Database as Store
from sonora.core.database import metadata
from sonora.match import InMemoryStore, Matcher, SessionRecord
from sonora.match import Store as MatchStoreProtocol
from sonora.match.repository import MatcherStore
from sonora.match.tables import MatcherState, MatchSession
from sonora.plan import CheckIn, CheckOut
from sonora.store import (
    NotFound,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from sonora.store.base import new_id, utcnow


def _session(store: Store, user_id: str, **checkin: object) -> tuple[str, str]:
    c, p = store.add_checkin_and_plan(
        user_id,
        checkin={"tension": 7, "goal": "sleep", **checkin},
        goal="sleep",
        care=None,
        plan={"kind": "sonora-plan", "title": "Rain", "layers": [{"family": "rain"}]},
    )
    return c.id, p.id


# -- migrations ---------------------------------------------------------------------
def test_migrations_up_down_up(db_url: tuple[str, str | None]) -> None:
    url, schema = db_url
    engine = make_engine(url, schema=schema)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= tables
        migrate(engine, "base", downgrade=True)
        assert current_revision(engine) is None
        left = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        assert left == set()
        migrate(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_migrating_twice_is_harmless(store: Store) -> None:
    migrate(store.engine)
    assert current_revision(store.engine) == head_revision()


# -- users and sign-ins -------------------------------------------------------------
def test_guest_then_account_keeps_everything(store: Store) -> None:
    guest = store.create_user()
    assert guest.is_guest and guest.email is None
    _session(store, guest.id)
    user = store.register(guest.id, email="Sam@Example.org", password_hash="h1")
    assert user.id == guest.id and not user.is_guest and user.email == "sam@example.org"
    assert len(store.history(user.id)) == 1
    found = store.credentials("SAM@example.org")
    assert found is not None and found[1] == "h1"


def test_email_is_unique(store: Store) -> None:
    a, b = store.create_user(), store.create_user()
    store.register(a.id, email="a@example.org", password_hash="x")
    with pytest.raises(EmailTaken):
        store.register(b.id, email="A@example.org", password_hash="y")
    assert store.get_user(b.id).is_guest  # nothing half-written


def test_tokens_resolve_expire_and_revoke(store: Store) -> None:
    u = store.create_user()
    token = store.issue_token(u.id, days=1)
    assert store.user_for_token(token).id == u.id
    assert store.user_for_token(token + "x") is None
    with store.transaction() as s:
        row = s.scalars(sa.select(AuthToken).where(AuthToken.user_id == u.id)).one()
        assert row.id != token  # only a hash is stored
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert store.user_for_token(token) is None
    t2 = store.issue_token(u.id, days=1)
    store.revoke_token(t2)
    assert store.user_for_token(t2) is None


def test_merge_guest_moves_sessions_and_deletes_the_guest(store: Store) -> None:
    account = store.create_user()
    store.register(account.id, email="m@example.org", password_hash="x")
    guest = store.create_user()
    store.save_profile(guest.id, {"loved": ["rain"]}, onboarded=True)
    _, plan_id = _session(store, guest.id)
    store.merge_guest(guest.id, account.id)
    assert [e.plan.id for e in store.history(account.id)] == [plan_id]
    assert store.get_profile(account.id).data == {"loved": ["rain"]}
    with pytest.raises(NotFound):
        store.get_user(guest.id)


# -- isolation ----------------------------------------------------------------------
def test_nobody_reads_another_persons_rows(store: Store) -> None:
    alice, bob = store.create_user(), store.create_user()
    checkin_id, plan_id = _session(store, alice.id)
    store.record_outcome(alice.id, plan_id, data={"tension": 3}, reward=1.0)
    for call in (
        lambda: store.get_plan(bob.id, plan_id),
        lambda: store.get_checkin(bob.id, checkin_id),
        lambda: store.update_plan(bob.id, plan_id, {"x": 1}),
        lambda: store.set_gains(bob.id, plan_id, [0.5]),
        lambda: store.record_outcome(bob.id, plan_id, data={}, reward=0.0),
        lambda: store.get_outcome(bob.id, plan_id),
        lambda: store.start_listening(bob.id, plan_id, fmt="opus", offset_s=0.0),
        lambda: store.mark_started(bob.id, plan_id),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.history(bob.id) == []
    assert store.get_outcome(alice.id, plan_id).data == {"tension": 3}


# -- transactions -------------------------------------------------------------------
def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    u = store.create_user()
    with pytest.raises(RuntimeError), store.transaction() as s:
        s.execute(sa.text("DELETE FROM profiles WHERE user_id = :u"), {"u": u.id})
        raise RuntimeError("boom")
    assert store.count_rows(u.id)["profiles"] == 1


def test_checkin_and_plan_are_written_together(store: Store) -> None:
    with pytest.raises(NotFound):
        store.add_checkin_and_plan("0" * 32, checkin={}, goal=None, care=None, plan={})
    u = store.create_user()
    with pytest.raises((sa.exc.StatementError, TypeError)):  # a plan that is not JSON
        store.add_checkin_and_plan(
            u.id, checkin={"tension": 1}, goal="sleep", care=None, plan={"bad": object()}
        )
    assert store.count_rows(u.id)["checkins"] == 0


# -- outcomes, listening, history ---------------------------------------------------
def test_history_joins_checkin_plan_outcome_and_listening(store: Store) -> None:
    u = store.create_user()
    _, p1 = _session(store, u.id)
    _, p2 = _session(store, u.id, tension=4)
    store.record_outcome(u.id, p1, data={"tension": 2, "rating": 9}, reward=3.0)
    store.record_outcome(u.id, p1, data={"tension": 1, "rating": 9}, reward=4.0)  # replaced
    lid = store.start_listening(u.id, p2, fmt="opus", offset_s=0.0)
    store.update_listening(lid, offset_s=61.5, ended="disconnected")
    h = store.history(u.id)
    assert [e.plan.id for e in h] == [p1, p2]
    assert h[0].outcome.data["tension"] == 1 and h[0].outcome.reward == 4.0
    assert h[1].outcome is None and h[1].listened_s == pytest.approx(61.5)
    assert h[0].checkin.created_at.tzinfo is not None


def test_calibration_is_kept_only_for_the_plan_it_measured(store: Store) -> None:
    from sonora.store import plan_key

    u = store.create_user()
    _, pid = _session(store, u.id)
    plan = store.get_plan(u.id, pid).plan
    assert store.set_calibration(pid, {"plan_key": plan_key(plan), "trims": [1.0]})
    assert store.get_plan(u.id, pid).calibration["trims"] == [1.0]
    store.update_plan(u.id, pid, {**plan, "title": "Edited"})
    assert store.get_plan(u.id, pid).calibration is None
    assert not store.set_calibration(pid, {"plan_key": plan_key(plan), "trims": [1.0]})


# -- export and deletion ------------------------------------------------------------
def _fill(store: Store, user_id: str) -> str:
    store.save_profile(user_id, {"loved": ["rain"], "quiet_rest": True}, onboarded=True)
    _, pid = _session(store, user_id, note="a private note")
    store.set_gains(user_id, pid, [0.5])
    store.record_outcome(user_id, pid, data={"tension": 2}, reward=2.5)
    lid = store.start_listening(user_id, pid, fmt="opus", offset_s=0.0)
    store.update_listening(lid, offset_s=12.0, ended="finished")
    ms = MatcherStore(store)
    ms.add_session(
        SessionRecord(listener_id=user_id, recipe="rain/dark", families=("rain",), reward=2.5)
    )
    ms.put_state(f"match.pending.{user_id}", {"seed": 1})
    store.issue_token(user_id, days=1)
    return pid


def test_export_has_everything_of_theirs_and_nothing_else(store: Store) -> None:
    me, other = store.create_user(), store.create_user()
    pid = _fill(store, me.id)
    _fill(store, other.id)
    data = store.export_user(me.id)
    assert data["user"]["id"] == me.id
    assert data["profile"]["data"]["loved"] == ["rain"]
    assert [c["answers"]["note"] for c in data["checkins"]] == ["a private note"]
    assert [p["id"] for p in data["plans"]] == [pid]
    assert data["plans"][0]["mixer_gains"] == [0.5]
    assert data["outcomes"][0]["score"] == 2.5
    assert data["listening"][0]["offset_s"] == 12.0
    assert data["learning"]["sessions"][0]["recipe"] == "rain/dark"
    assert f"match.pending.{me.id}" in data["learning"]["state"]
    assert len(data["sign_ins"]) == 1
    text = repr(data)
    assert other.id not in text


def test_delete_removes_every_row_of_theirs(store: Store) -> None:
    me, other = store.create_user(), store.create_user()
    _fill(store, me.id)
    _fill(store, other.id)
    before_other = store.count_rows(other.id)
    counts = store.delete_user(me.id)
    assert counts["users"] == 1 and counts["checkins"] == 1 and counts["match_sessions"] == 1
    assert set(store.count_rows(me.id).values()) == {0}
    assert store.count_rows(other.id) == before_other
    # and nothing anywhere still mentions them
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                assert me.id not in repr(tuple(row)), table.name


def test_idle_guests_are_purged(store: Store) -> None:

    old, new, account = store.create_user(), store.create_user(), store.create_user()
    store.register(account.id, email="k@example.org", password_hash="x")
    _fill(store, old.id)
    with store.transaction() as s:
        for uid in (old.id, account.id):
            s.get(User, uid).last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    assert store.purge_guests(idle_days=90) == 1
    assert set(store.count_rows(old.id).values()) == {0}
    assert store.count_rows(new.id)["users"] == 1
    assert store.count_rows(account.id)["users"] == 1


# -- the matcher's store ------------------------------------------------------------
def test_matcher_store_implements_the_protocol(store: Store) -> None:
    assert isinstance(MatcherStore(store), MatchStoreProtocol)


def test_matcher_learns_through_the_database(store: Store) -> None:
    u = store.create_user()
    store.save_profile(u.id, {"loved": ["rain"], "disliked": ["chimes"]}, onboarded=True)
    ms = MatcherStore(store)
    m = Matcher(ms, seed=1)
    assert m.profile(u.id).loved == frozenset({"rain"})
    plan = m.recommend(u.id, CheckIn(tension=7, goal="sleep", minutes=20))
    assert "chimes" not in plan.families
    reward = m.record(u.id, plan, CheckOut(tension=3, rating=8))
    recs = ms.sessions(u.id)
    assert len(recs) == 1 and recs[0].reward == pytest.approx(reward)
    assert ms.listener_ids() == [u.id]
    m.refit()
    assert ms.get_state("match.population") is not None
    # same answers as the in-memory store the matcher was written against
    mem = InMemoryStore()
    mem.add_session(recs[0])
    assert mem.sessions(u.id) == recs


def _rec(listener_id: str, recipe: str, reward: float) -> SessionRecord:
    return SessionRecord(listener_id, recipe, ("rain",), reward, features=(1.0, reward))


def test_matcher_sessions_cache_sees_other_processes_merges_and_deletion(store: Store) -> None:
    """The sessions a process keeps decoded (read on every check-in) always equal the
    database's: another process's new session, an older session moved into the account
    (as a merge of a guest's would), a deleted account."""
    account = store.create_user()
    store.register(account.id, email="cache@example.org", password_hash="x")
    other = store.create_user()
    here, there = MatcherStore(store), MatcherStore(store)  # two server processes
    fresh = lambda uid: MatcherStore(store).sessions(uid)  # noqa: E731  (no cache)
    assert here.sessions(account.id) == []
    here.add_session(_rec(account.id, "rain/dark", 0.5))
    assert [r.reward for r in here.sessions(account.id)] == [0.5]
    there.add_session(_rec(account.id, "rain/bright", 0.7))  # the other process
    there.add_session(_rec(other.id, "wind/dark", 0.1))  # someone else's: never seen here
    assert here.sessions(account.id) == fresh(account.id)
    assert [r.reward for r in here.sessions(account.id)] == [0.5, 0.7]
    assert [r.reward for r in here.sessions(other.id)] == [0.1]
    # an older session moves into the account (older than the account's newest)
    guest = store.create_user()
    old = MatchSession(
        id=new_id(),
        user_id=guest.id,
        created_at=utcnow() - dt.timedelta(days=1),
        data=_rec(guest.id, "bowls/dark", 0.9).to_dict(),
    )
    with store.transaction() as s:
        s.add(old)
        s.flush()
        s.execute(
            sa.update(MatchSession).where(MatchSession.id == old.id).values(user_id=account.id)
        )
    got = here.sessions(account.id)
    assert got == fresh(account.id) and [r.reward for r in got] == [0.9, 0.5, 0.7]
    got.clear()  # a caller changing its list does not change the cache
    assert len(here.sessions(account.id)) == 3
    store.delete_user(account.id)
    assert here.sessions(account.id) == [] and here.sessions(other.id) == fresh(other.id)


def test_matcher_profile_round_trip_keeps_web_keys(store: Store) -> None:
    from sonora.match import Profile

    u = store.create_user()
    store.save_profile(u.id, {"country": "US", "output": "headphones"}, onboarded=True)
    ms = MatcherStore(store)
    ms.put_profile(Profile(u.id, loved=frozenset({"water"}), personal_evidence=True))
    data = store.get_profile(u.id).data
    assert data["country"] == "US" and data["quiet_rest"] is True and data["loved"] == ["water"]
    assert ms.get_profile(u.id).personal_evidence is True


def test_matcher_state_upserts_per_listener_and_never_orphans(store: Store) -> None:
    """One statement saves a listener's matcher state (insert, then update), on both
    databases; a key naming a user who does not exist never creates a row for them."""

    me = store.create_user()
    ms = MatcherStore(store)
    key = f"match.pending.{me.id}"
    ms.put_state(key, {"seed": 1})
    ms.put_state(key, {"seed": 2})
    assert ms.get_state(key) == {"seed": 2}
    ms.put_state(key, None)
    assert ms.get_state(key) is None
    with store.reading() as s:
        row = s.get(MatcherState, (me.id, key))
        assert row is not None and row.version == 3
    ghost = "0123456789abcdef0123456789abcdef"
    ms.put_state(f"match.pending.{ghost}", {"seed": 3})
    with store.reading() as s:
        assert s.get(MatcherState, (ghost, f"match.pending.{ghost}")) is None
