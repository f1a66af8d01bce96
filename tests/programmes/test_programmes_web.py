"""Programme pages and API against the real app and SQLite: the flow, and every new
route refused to the five roles of issue #17 (another therapist, the therapist after
revocation, after their verification lapses, a listener of another therapist, a
guest), with nothing of the client's in any refused answer and no access logged."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from world import Person, World, programme_body, settings

from sonora.core.app import Core
from sonora.web import create_app


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    core = Core(settings(tmp_path))
    yield World(core)
    core.close()


def client(app: Any, who: Person | None) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    if who is not None:
        c.cookies.set("sonora_session", who.token)
    return c


def csrf(c: TestClient) -> str:
    r = c.get("/account")
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    return m.group(1) if m else ""


def _setup(world: World) -> dict[str, str]:
    """Lee shares history with Ada, Ada writes a programme, Lee does a session."""
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    share = svc.clients(world.ada.user)[0]
    p = svc.create_programme(world.ada.user, share.id, programme_body())
    world.session(world.lee, {f"{p.id}:q0": 4}, note="SECRET-NOTE")
    return {"tid": world.ada.therapist_id or "", "share": share.id, "pid": p.id}


#: Every new route: method, path, body kind ("form", "json" or None), and whether it
#: is the caller's own view (then it answers, but shows nothing of Lee's).
ROUTES = [
    ("GET", "/sharing", None, True),
    ("POST", "/sharing/{tid}", "form", False),
    ("POST", "/sharing/{tid}/revoke", "form", False),
    ("GET", "/therapists/me/clients", None, True),
    ("GET", "/therapists/me/clients/{share}", None, False),
    ("POST", "/therapists/me/clients/{share}/programmes", "form", False),
    ("GET", "/programmes/{pid}", None, False),
    ("POST", "/programmes/{pid}/reminders", "form", False),
    ("GET", "/programmes/{pid}/report.pdf", None, False),
    ("GET", "/programmes/{pid}/report.csv", None, False),
    ("GET", "/api/sharing", None, True),
    ("PUT", "/api/sharing/{tid}", "json", False),
    ("DELETE", "/api/sharing/{tid}", None, False),
    ("GET", "/api/therapists/me/clients", None, True),
    ("POST", "/api/therapists/me/clients/{share}/programmes", "json", False),
    ("GET", "/api/programmes/{pid}/progress", None, False),
    ("GET", "/api/programmes/{pid}/report.pdf", None, False),
    ("GET", "/api/programmes/{pid}/report.csv", None, False),
]


def _call(c: TestClient, method: str, path: str, kind: str | None, token: str) -> Any:
    if kind == "form":
        data: dict[str, Any] = {
            "csrf_token": token,
            "history": "on",
            "email": "on",
            "weekdays": "1",
            "listen_kind": "sonora_chooses",
            "listen_families": "rain",
            "goal_domain_0": "emotional",
            "goal_text_0": "x",
            "sessions_per_week": "3",
            "minutes_min": "10",
            "minutes_max": "20",
        }
        return c.request(method, path, data=data)
    if kind == "json":
        body = {"scope": ["history", "numbers", "notes"]} if "sharing" in path else programme_body()
        return c.request(method, path, json=body)
    return c.request(method, path)


def _refused(world: World, app: Any, who: Person | None, ids: dict[str, str]) -> None:
    c = client(app, who)
    token = csrf(c) if who is not None else ""
    log_before = len(world.core.programmes.access_log(world.lee.user))
    secrets = [ids["share"], ids["pid"], "SECRET-NOTE", "Evenings, winding down"]
    for method, template, kind, own in ROUTES:
        path = template.format(**ids)
        r = _call(c, method, path, kind, token)
        where = f"{method} {path} -> {r.status_code}"
        if who is None:
            expected = 401 if path.startswith("/api") else 303
            assert r.status_code == expected, where
            if expected == 303:
                assert r.headers["location"] == "/", where
        elif own:  # the caller's own view (a therapist's list is 404 to non-therapists)
            assert r.status_code in (200, 404), where
        else:
            assert r.status_code == 404, where
        assert not any(s in r.text for s in secrets), where
    assert len(world.core.programmes.access_log(world.lee.user)) == log_before
    assert world.core.programmes.shares(world.lee.user)[0].scope == ("history",)
    assert len(world.core.programmes.programmes(world.lee.user)) == 1


@pytest.mark.parametrize(
    "role", ["other_therapist", "revoked", "lapsed", "other_listener", "guest"]
)
def test_every_new_route_is_refused(world: World, role: str) -> None:
    ids = _setup(world)
    app = create_app(world.core)
    if role == "revoked":  # the programme's own therapist, once the client revoked
        world.core.programmes.revoke(world.lee.user, ids["tid"])
        _refused_after_revocation(world, app, ids)
        return
    if role == "lapsed":
        world.lapse(world.ada)
    who = {
        "other_therapist": world.bea,
        "lapsed": world.ada,
        "other_listener": world.mo,
        "guest": None,
    }[role]
    _refused(world, app, who, ids)


def _refused_after_revocation(world: World, app: Any, ids: dict[str, str]) -> None:
    c = client(app, world.ada)
    token = csrf(c)
    log_before = len(world.core.programmes.access_log(world.lee.user))
    for method, template, kind, own in ROUTES:
        path = template.format(**ids)
        r = _call(c, method, path, kind, token)
        where = f"{method} {path} -> {r.status_code}"
        assert r.status_code == 404 or (own and r.status_code == 200), where
        assert ids["pid"] not in r.text and "SECRET-NOTE" not in r.text, where
    assert len(world.core.programmes.access_log(world.lee.user)) == log_before
    assert world.core.programmes.clients(world.ada.user) == []


def test_the_owners_may_and_views_are_logged(world: World) -> None:
    ids = _setup(world)
    app = create_app(world.core)
    ada, lee = client(app, world.ada), client(app, world.lee)
    r = ada.get(f"/therapists/me/clients/{ids['share']}")
    assert r.status_code == 200 and "Lee" in r.text and "SECRET-NOTE" not in r.text
    r = ada.get(f"/programmes/{ids['pid']}")
    assert r.status_code == 200 and "1/10" in r.text and "not monitored in real time" in r.text
    assert '<svg class="chart"' in r.text
    r = ada.get(f"/programmes/{ids['pid']}/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    r = ada.get(f"/api/programmes/{ids['pid']}/progress")
    assert r.json()["adherence"] == {"done": 1, "planned": 10, "planned_to_date": 1}
    assert "before" not in r.json()["sessions"][0]  # numbers not shared
    log = lee.get("/api/sharing").json()["access_log"]
    assert [e["what"] for e in log] == [
        "progress (API)",
        "report (PDF)",
        "programme progress",
        "client overview",
    ]
    r = lee.get("/sharing")
    assert r.text.count("Ada Lovelace") >= 4  # the form, and each log row
    r = lee.get(f"/programmes/{ids['pid']}")
    assert "From your music therapist, Ada Lovelace" in r.text and "SECRET-NOTE" in r.text
    r = lee.get("/checkin")
    assert "How settled do you feel?" in r.text and f"pq_{ids['pid']}_q0" in r.text
    assert f'href="/programmes/{ids["pid"]}"' in r.text  # the programme, one tap away


def test_checkin_form_stores_answers_and_refuses_bad_ones_whole(world: World) -> None:
    ids = _setup(world)
    app = create_app(world.core)
    lee = client(app, world.lee)
    token = csrf(lee)
    n = len(world.core.store.history(world.lee.user.id))
    form = {
        "csrf_token": token,
        "tension": "6",
        "energy": "5",
        "mood": "5",
        "goal": "unwind",
        "minutes": "10",
        "place": "sitting",
        "output": "speaker",
    }
    r = lee.post("/checkin", data={**form, f"pq_{ids['pid']}_q0": "12"})
    assert r.status_code == 422 and "expected 0 to 10" in r.text
    assert len(world.core.store.history(world.lee.user.id)) == n  # nothing half-written
    r = lee.post("/checkin", data={**form, f"pq_{ids['pid']}_q0": "8"})
    assert r.status_code == 303
    answers = world.core.programmes.repo.answers(ids["pid"])
    assert [a.value for a in answers] == [4.0, 8.0]


def test_share_form_revoke_and_bad_scope(world: World) -> None:
    app = create_app(world.core)
    lee = client(app, world.lee)
    token = csrf(lee)
    tid = world.ada.therapist_id
    r = lee.post(f"/sharing/{tid}", data={"csrf_token": token})
    assert r.status_code == 422 and "choose at least one" in r.text
    r = lee.post(f"/sharing/{tid}", data={"csrf_token": token, "history": "on"})
    assert r.status_code == 303
    page = lee.get("/sharing").text
    assert "You share with Ada Lovelace:</strong> history." in page
    r = lee.put(f"/api/sharing/{tid}", json={"scope": ["diary"]})
    assert r.status_code == 422 and r.json()["field"] == "scope"
    assert lee.delete(f"/api/sharing/{tid}").status_code == 204
    assert client(app, world.ada).get("/api/therapists/me/clients").json() == []
    assert lee.delete(f"/api/sharing/{tid}").status_code == 404


@pytest.mark.parametrize("notes", [False, True])
def test_crisis_note_in_a_programme_puts_help_first_and_the_therapist_sees_only_the_scope(
    tmp_path: Path, notes: bool
) -> None:
    core = Core(settings(tmp_path, triage_notes=True))
    try:
        world = World(core)
        scope = ["history", "notes"] if notes else ["history"]
        core.programmes.set_share(world.lee.user, world.ada.therapist_id or "", scope)
        share = core.programmes.clients(world.ada.user)[0]
        p = core.programmes.create_programme(world.ada.user, share.id, programme_body())
        app = create_app(core)
        lee = client(app, world.lee)
        core.save_profile(world.lee.user, {"country": "GB"})
        form = {
            "csrf_token": csrf(lee),
            "tension": "9",
            "energy": "2",
            "mood": "1",
            "goal": "unwind",
            "minutes": "10",
            "place": "sitting",
            "output": "speaker",
            "note": "I don't want to wake up tomorrow",
            f"pq_{p.id}_q0": "1",
        }
        r = lee.post("/checkin", data=form)
        assert r.status_code == 303
        page = lee.get(r.headers["location"]).text
        assert page.index('class="care crisis"') < page.index("What will play")
        assert "116 123" in page  # Samaritans, the default country's crisis line
        view = client(app, world.ada).get(f"/api/programmes/{p.id}/progress").json()
        assert view["monitored"] is False
        session = view["sessions"][0]
        if notes:
            assert session["care_level"] == "crisis" and "wake up" in session["note"]
        else:
            assert "note" not in session and "care_level" not in session
            assert "wake up" not in str(view) and "crisis" not in str(view)
        html = client(app, world.ada).get(f"/programmes/{p.id}").text
        assert "not monitored in real time" in html
        assert ("Screen: crisis" in html) is notes
    finally:
        core.close()


def test_without_the_pdf_extra_the_page_offers_csv_and_says_how(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sonora.programmes.report as report

    monkeypatch.setattr(report, "pdf_available", lambda: False)
    ids = _setup(world)
    app = create_app(world.core)
    ada = client(app, world.ada)
    page = ada.get(f"/programmes/{ids['pid']}")
    assert page.status_code == 200
    assert "report.csv" in page.text and "report.pdf" not in page.text
    assert ".[pdf]" in page.text
    r = ada.get(f"/programmes/{ids['pid']}/report.pdf")
    assert r.status_code == 501 and ".[pdf]" in r.text and "CSV" in r.text
    assert ada.get(f"/programmes/{ids['pid']}/report.csv").status_code == 200


def test_report_downloads_are_rate_limited_like_downloads() -> None:
    from sonora.web.limits import _match

    for path in ("/programmes/abc/report.pdf", "/api/programmes/abc/report.csv"):
        assert _match("GET", path) == ("downloads", None), path
    assert _match("GET", "/programmes/abc") is None


def test_a_client_without_a_programme_says_where_their_data_will_show(world: World) -> None:
    svc = world.core.programmes
    svc.set_share(world.lee.user, world.ada.therapist_id or "", ["numbers", "history"])
    share = svc.clients(world.ada.user)[0]
    ada = client(create_app(world.core), world.ada)
    page = ada.get(f"/therapists/me/clients/{share.id}").text
    # no programme yet: the therapist is told why nothing of Lee's is shown, and how
    assert "shows here over a programme's dates" in page
    svc.create_programme(world.ada.user, share.id, programme_body())
    assert (
        "shows here over a programme's dates"
        not in ada.get(f"/therapists/me/clients/{share.id}").text
    )


def test_the_programme_form_makes_the_therapist_choose_each_goals_domain(world: World) -> None:
    """No domain is chosen for the therapist: the form starts on 'Choose a domain', and a
    goal written without one is refused naming the goal's row and the five domains,
    nothing saved (it defaulted to 'Emotional', saved silently) (found by qa11)."""
    world.core.programmes.set_share(world.lee.user, world.ada.therapist_id or "", ["history"])
    share = world.core.programmes.clients(world.ada.user)[0]
    app = create_app(world.core)
    ada = client(app, world.ada)
    today = world.core.programmes.clock().date()
    page = ada.get(f"/therapists/me/clients/{share.id}").text
    select = re.search(r'<select id="f-gd0" name="goal_domain_0">(.*?)</select>', page, re.S)
    assert select is not None
    assert re.search(r'<option value="" selected>Choose a domain</option>', select.group(1))
    assert not re.search(r'value="emotional"\s+selected', select.group(1))
    form = {
        "csrf_token": csrf(ada),
        "title": "Evenings",
        "goal_domain_0": "social",
        "goal_text_0": "Join the choir",
        "goal_domain_1": "",
        "goal_text_1": "Sleep through",
        "sessions_per_week": "3",
        "minutes_min": "10",
        "minutes_max": "20",
        "listen_kind": "sonora_chooses",
        "listen_families": "rain",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=13)).isoformat(),
    }
    r = ada.post(f"/therapists/me/clients/{share.id}/programmes", data=form)
    assert r.status_code == 422
    text = " ".join(re.sub(r"<[^>]+>", " ", r.text).split())
    assert "Please check domain of goal 2: choose one of Emotional, Cognitive" in text
    assert "(none was chosen)" in text
    # the refused form keeps what was ticked, and names sounds as the app does
    assert re.search(r'name="listen_families" value="rain"\s+checked>\s*Rain<', r.text)
    assert re.search(r'name="listen_scenes" value="rain-with-bowls"\s*>\s*Rain with bowls<', r.text)
    # the therapist's own pages are not 'Find a therapist'
    assert not re.search(r'href="/therapists"\s+aria-current="page"', r.text)
    assert world.core.programmes.client(world.ada.user, share.id)[1] == []
    # the API names the list index, as before
    body = programme_body()
    body["goals"] = [{"domain": "", "text": "Sleep through"}]
    r = ada.post(f"/api/therapists/me/clients/{share.id}/programmes", json=body)
    assert r.status_code == 422 and r.json()["field"] == "goals[0].domain"
    r = ada.post(
        f"/therapists/me/clients/{share.id}/programmes", data={**form, "goal_domain_1": "physical"}
    )
    assert r.status_code == 303
    (p,) = world.core.programmes.client(world.ada.user, share.id)[1]
    assert [g["domain"] for g in p.goals] == ["social", "physical"]
