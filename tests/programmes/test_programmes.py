"""Consent, programmes, progress and privacy through the service, on real SQLite.

Who may share with whom (a confirmed consult, a verified therapist), the scope and
what a therapist sees of it, revocation and lapsed verification, the access log,
programme validation naming the field, adherence and before/after numbers, the
check-in's extra questions, the CSV/PDF report, and export/deletion as one unit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import PG_URL, pg_schema
from world import World, programme_body, settings

from sonora.core.app import Core
from sonora.errors import ParameterError
from sonora.programmes.report import report_csv, report_pdf
from sonora.store import NotFound


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    core = Core(settings(tmp_path))
    yield World(core)
    core.close()


def test_share_needs_a_confirmed_consult_with_that_therapist(world: World) -> None:
    svc = world.core.programmes
    with pytest.raises(NotFound):  # Lee booked Ada, not Bea
        svc.set_share(world.lee.user, world.bea.therapist_id or "", ["history"])
    share = svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    assert share.scope == ("history",) and not share.notes
    guest, _ = world.core.start_guest()
    with pytest.raises(ParameterError) as e:
        svc.set_share(guest, world.ada.therapist_id or "", ["history"])
    assert e.value.field == "account"


def test_scope_is_checked_and_notes_are_off_unless_chosen(world: World) -> None:
    svc, tid = world.core.programmes, world.ada.therapist_id or ""
    with pytest.raises(ParameterError, match="choose at least one"):
        svc.set_share(world.lee.user, tid, [])
    with pytest.raises(ParameterError, match="'diary' is not shareable"):
        svc.set_share(world.lee.user, tid, ["diary"])
    s = svc.set_share(world.lee.user, tid, {"numbers": "on", "history": "on"})
    assert s.scope == ("numbers", "history")


def test_therapist_sees_only_the_scope_and_each_view_is_logged(world: World) -> None:
    core = world.core
    svc = core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    share = svc.clients(world.ada.user)[0]
    p = svc.create_programme(world.ada.user, share.id, programme_body())
    world.session(world.lee, {f"{p.id}:q0": 4}, note="work was loud today")
    world.session(world.lee, {f"{p.id}:q0": 6})
    viewer, _, pr = svc.open(world.ada.user, p.id, what="programme progress")
    assert viewer == "therapist"
    assert pr.done == 2 and pr.planned_total == 10
    assert pr.sessions and all(s.before is None and s.note is None for s in pr.sessions)
    assert pr.per_sound == []  # numbers not shared
    assert [a["value"] for a in pr.questions[0]["answers"]] == [4.0, 6.0]
    log = svc.access_log(world.lee.user)
    assert [e.what for e in log] == ["programme progress"]
    assert log[0].therapist_name == "Ada Lovelace" and log[0].scope == ("history",)
    # the listener sees everything of their own, and their look is not logged
    viewer, _, mine = svc.open(world.lee.user, p.id, what="x")
    assert viewer == "listener" and mine.sessions[0].note == "work was loud today"
    assert mine.per_sound and mine.per_goal[0]["questions"][0]["change"] == 2.0
    assert len(svc.access_log(world.lee.user)) == 1


def test_other_therapists_revocation_and_lapse_are_refused(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history", "numbers"])
    share = svc.clients(world.ada.user)[0]
    p = svc.create_programme(world.ada.user, share.id, programme_body())
    for who in (world.bea.user, world.mo.user):
        with pytest.raises(NotFound):
            svc.open(who, p.id, what="x")
        with pytest.raises(NotFound):
            svc.client(who, share.id)
    assert svc.clients(world.bea.user) == []
    svc.revoke(world.lee.user, world.ada.therapist_id or "")
    with pytest.raises(NotFound):
        svc.open(world.ada.user, p.id, what="x")
    assert svc.clients(world.ada.user) == []
    assert svc.active_programmes(world.lee.user) == []  # no questions once revoked
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    assert svc.open(world.ada.user, p.id, what="x")[0] == "therapist"
    world.lapse(world.ada)
    with pytest.raises(NotFound):
        svc.open(world.ada.user, p.id, what="x")
    assert svc.shares(world.lee.user)[0].state(world.core.programmes.clock()) == "lapsed"
    with pytest.raises(NotFound):
        svc.create_programme(world.ada.user, share.id, programme_body())


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"goals": []}, "goals"),
        ({"goals": [{"domain": "spiritual", "text": "x"}]}, "goals[0].domain"),
        ({"sessions_per_week": 0}, "sessions_per_week"),
        ({"minutes_min": 30, "minutes_max": 20}, "minutes_max"),
        ({"listen": {"kind": "scenes", "scenes": ["no-such-scene"]}}, "listen.scenes"),
        ({"listen": {"kind": "family", "families": ["rain", "bowls"]}}, "listen.families"),
        ({"listen": {"kind": "library_rule", "library_rule": {"bpm": 60}}}, "listen.library_rule"),
        ({"questions": [{"text": "q", "goal": 7}]}, "questions[0].goal"),
        ({"end_date": "2020-01-01"}, "end_date"),
        ({"start_date": "not a date"}, "start_date"),
    ],
)
def test_bad_programme_names_the_field_and_stores_nothing(
    world: World, over: dict, field: str
) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    share = svc.clients(world.ada.user)[0]
    with pytest.raises(ParameterError) as e:
        svc.create_programme(world.ada.user, share.id, programme_body(**over))
    assert e.value.field == field
    assert svc.programmes(world.lee.user) == []


def test_library_rule_is_stored_for_the_library_to_apply(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    share = svc.clients(world.ada.user)[0]
    rule = {"tempo_max_bpm": 70, "instrumental_only": True, "tags": ["piano"]}
    p = svc.create_programme(
        world.ada.user,
        share.id,
        programme_body(listen={"kind": "library_rule", "library_rule": rule}),
    )
    assert p.listen["library_rule"] == {**rule}


def test_answers_are_checked(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    with pytest.raises(ParameterError) as e:
        svc.record_answers(world.lee.user, {f"{p.id}:q0": 11})
    assert e.value.field == f"programme_answers.{p.id}:q0"
    with pytest.raises(ParameterError):  # Mo has no such programme
        svc.record_answers(world.mo.user, {f"{p.id}:q0": 5})
    assert svc.record_answers(world.lee.user, {f"{p.id}:q0": ""}) == 0


def test_report_csv_and_pdf_hold_the_progress(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    for v in (3, 5, 7):
        world.session(world.lee, {f"{p.id}:q0": v})
    _, _, pr = svc.open(world.ada.user, p.id, what="report")
    rows = list(csv.reader(io.StringIO(report_csv(pr))))
    assert ["adherence", "done", "3", "", ""] in rows
    assert ["adherence", "planned", "10", "", ""] in rows
    assert [r[2] for r in rows if r[0] == "answer"] == ["3.0", "5.0", "7.0"]
    assert not any(r[0] == "session_numbers" for r in rows)  # numbers not shared
    pdf = report_pdf(pr, viewer="therapist")
    assert pdf.startswith(b"%PDF-") and len(pdf) > 2000


def test_reminders_are_the_listeners_and_checked(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    with pytest.raises(ParameterError) as e:
        svc.set_reminders(world.lee.user, p.id, {"email": "on", "weekdays": ["9"]})
    assert e.value.field == "weekdays"
    with pytest.raises(NotFound):
        svc.set_reminders(world.ada.user, p.id, {"email": "on", "weekdays": ["1"]})
    r = svc.set_reminders(world.lee.user, p.id, {"email": "on", "weekdays": ["4", "1"]})
    assert r.remind_email and r.remind_weekdays == [1, 4]


def test_export_and_delete_cover_everything(world: World) -> None:
    core, svc = world.core, world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history", "notes"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    world.session(world.lee, {f"{p.id}:q0": 4})
    svc.open(world.ada.user, p.id, what="programme progress")
    out = core.export(world.lee.user)
    assert out["programme_shares"][0]["notes"] is True
    assert out["programme_access_log"][0]["what"] == "programme progress"
    assert out["programmes"][0]["answers"][0]["value"] == 4.0
    ada = core.export(world.ada.user)
    assert ada["programmes_written"][0]["id"] == p.id and ada["shared_with_me"]
    core.delete_account(world.lee.user)
    part = svc.account_part()
    with core.store.transaction() as s:
        assert set(part.count(s, world.lee.user.id).values()) == {0}
    assert svc.clients(world.ada.user) == []


def test_therapist_deletion_ends_sharing_and_keeps_the_listeners_log(world: World) -> None:
    core, svc = world.core, world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    svc.open(world.ada.user, p.id, what="programme progress")
    core.delete_account(world.ada.user)
    assert svc.shares(world.lee.user) == [] and svc.programmes(world.lee.user) == []
    assert [e.therapist_name for e in svc.access_log(world.lee.user)] == ["Ada Lovelace"]


def test_reminders_go_through_the_outbox_once_a_day(world: World) -> None:
    import datetime as dt

    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    today = svc.clock().date()
    svc.set_reminders(world.lee.user, p.id, {"email": "on", "weekdays": [str(today.weekday())]})
    kw = {"base_url": "https://sonora.example", "mail_from": "Sonora <sonora@example.org>"}
    assert [r.id for r in svc.send_reminders(**kw)] == [p.id]
    assert svc.send_reminders(**kw) == []  # once a day, however often it runs
    tomorrow = today + dt.timedelta(days=1)
    assert svc.send_reminders(**kw, day=tomorrow) == []  # not a chosen day
    mails = [m for m in world.core.therapists.repo.outbox() if m.kind == "programme_reminder"]
    assert len(mails) == 1 and mails[0].to_addr == "lee@example.org"
    from email import message_from_string, policy

    text = message_from_string(mails[0].message, policy=policy.default).get_content()
    assert "from your music" in text and "therapist, Ada Lovelace" in text
    assert f"https://sonora.example/programmes/{p.id}" in text
    svc.revoke(world.lee.user, world.ada.therapist_id or "")
    assert svc.send_reminders(**kw, day=today + dt.timedelta(days=7)) == []  # sharing ended


def test_sessions_stay_within_the_programmes_sounds(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    assert svc.allowed_families(world.lee.user) == {"rain", "bowls"}
    for goal in ("sleep", "unwind", "ease_anxiety"):
        plan_id = world.session(world.lee, {f"{p.id}:q0": 5}, goal=goal)
        _, plan = world.core.plan(world.lee.user, plan_id)
        families = {layer.family for layer in plan.plan_layers}
        assert families <= {"rain", "bowls", "breath"}, (goal, families)
    svc.revoke(world.lee.user, world.ada.therapist_id or "")
    assert svc.allowed_families(world.lee.user) == set()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world on SQLite, and on PostgreSQL in a schema of its own."""
    from sonora.core.database import Database

    if request.param == "sqlite":
        core = Core(settings(tmp_path))
        yield World(core)
        core.close()
        return
    with pg_schema() as schema:
        core = Core(settings(tmp_path), store=Database.open(PG_URL, schema=schema))
        try:
            yield World(core)
        finally:
            core.close()


class _Fails:
    """An account part whose deletion fails (after the programmes' part ran)."""

    def export(self, s: object, user_id: str) -> dict:
        return {}

    def delete(self, s: object, user_id: str) -> dict[str, int]:
        raise RuntimeError("disk on fire")

    def count(self, s: object, user_id: str) -> dict[str, int]:
        return {}

    def move(self, s: object, a: str, b: str) -> None:
        return None


def test_deletion_is_one_unit_on_each_database(any_world: World) -> None:
    world = any_world
    core, svc = world.core, world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history", "notes"])
    p = svc.create_programme(world.ada.user, svc.clients(world.ada.user)[0].id, programme_body())
    world.session(world.lee, {f"{p.id}:q0": 4})
    svc.open(world.ada.user, p.id, what="programme progress")
    part = svc.account_part()
    with core.store.transaction() as s:
        before = part.count(s, world.lee.user.id)
    assert set(before.values()) == {1}
    with pytest.raises(RuntimeError):
        core.store.delete_user(world.lee.user.id, parts=(part, _Fails()))
    with core.store.transaction() as s:
        assert part.count(s, world.lee.user.id) == before  # nothing half-deleted
    core.delete_account(world.lee.user)
    with core.store.transaction() as s:
        assert set(part.count(s, world.lee.user.id).values()) == {0}
