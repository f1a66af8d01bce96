"""The JSON API and the pages: validation, CSRF, cookies, accounts, export and deletion
(authorisation on every route: ``test_authorisation.py``; the app and listeners are
fixtures in this folder's ``conftest.py``, the helpers in ``tests/webkit.py``).

Everything runs against the real app and a real SQLite database (``TestClient``);
streaming is tested against a real server in ``test_web_stream.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webkit import CHECKIN, csrf_of, make_listener, post_checkin

from sonora.settings import Settings
from sonora.web import Core, create_app


# -- validation: 4xx naming the field, never a 500 ---------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tension": 11}, "tension"),
        ({"tension": -1}, "tension"),
        ({"tension": "high"}, "tension"),
        ({"mood": 5, "goal": "nap"}, "goal"),
        ({"mood": 5, "minutes": 2}, "minutes"),
        ({"mood": 5, "minutes": 5000}, "minutes"),
        ({"mood": 5, "place": "moon"}, "place"),
        ({"mood": 5, "output": "radio"}, "output"),
        ({"mood": 5, "local_time": "25:99"}, "local_time"),
        ({"mood": 5, "note": "x" * 2001}, "note"),
        ({"mood": 5, "colour": "blue"}, "colour"),
        ({"goal": "sleep"}, "tension"),
    ],
)
def test_invalid_checkins_name_the_field(alice: TestClient, body: dict, field: str) -> None:
    r = alice.post("/api/checkins", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == field
    assert r.json()["detail"].startswith(field)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/api/profile", {"loved": ["jazz"]}, "loved[0]"),
        ("PUT", "/api/profile", {"loved": ["rain"], "disliked": ["rain"]}, "disliked"),
        ("PUT", "/api/profile", {"sensitivities": ["loud"]}, "sensitivities[0]"),
        ("PUT", "/api/profile", {"country": "Narnia"}, "country"),
        ("PUT", "/api/profile", {"country": "1X"}, "country"),
        ("PATCH", "/api/plans/{plan}", {"minutes": 1}, "minutes"),
        ("PATCH", "/api/plans/{plan}", {"swap": {"layer": 7, "family": "water"}}, "layer"),
        ("PATCH", "/api/plans/{plan}", {"swap": {"layer": 0, "family": "chimes"}}, "family"),
        ("PATCH", "/api/plans/{plan}", {"swap": {"layer": 0, "family": "opera"}}, "swap.family"),
        ("PUT", "/api/plans/{plan}/gains", {"gains": [3.0]}, "gains[0]"),
        ("PUT", "/api/plans/{plan}/gains", {"gains": [1, 1, 1, 1, 1]}, "gains"),
        ("POST", "/api/plans/{plan}/outcome", {"rating": 12}, "rating"),
        ("POST", "/api/plans/{plan}/outcome", {"completed": "maybe"}, "completed"),
        ("GET", "/api/plans/{plan}/stream?format=wav", None, "format"),
        ("GET", "/api/plans/{plan}/stream?offset_s=-1", None, "offset_s"),
        ("GET", "/api/plans/{plan}/stream?offset_s=999999", None, "offset_s"),
        ("POST", "/api/signup", {"email": "not-an-email", "password": "long enough"}, "email"),
        ("POST", "/api/signup", {"email": "a@example.org", "password": "short"}, "password"),
        ("POST", "/api/signup", {"email": "a@example.org"}, "password"),
    ],
)
def test_invalid_input_names_the_field(
    alice: TestClient, method: str, path: str, body: Any, field: str
) -> None:
    plan = post_checkin(alice)["plan"]["id"]
    kwargs = {} if body is None else {"json": body}
    r = alice.request(method, path.format(plan=plan), **kwargs)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["field"] == field, r.json()


def test_malformed_json_is_a_4xx(alice: TestClient) -> None:
    r = alice.post(
        "/api/checkins", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["field"]
    r = alice.post("/api/checkins", json=[1, 2, 3])
    assert r.status_code == 422


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "tension",
                "energy",
                "mood",
                "goal",
                "minutes",
                "place",
                "output",
                "local_time",
                "note",
                "x",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 1000),
            st.floats(allow_nan=True),
            st.text(max_size=8),
            st.lists(st.integers(), max_size=2),
        ),
        max_size=5,
    )
)
def test_no_checkin_body_causes_a_500(alice: TestClient, body: dict) -> None:
    r = alice.post(
        "/api/checkins",
        content=json.dumps(body, allow_nan=True),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (201, 422), r.text


# -- CSRF and cookies ------------------------------------------------------------------
def test_api_refuses_simple_cross_site_requests(alice: TestClient) -> None:
    r = alice.post("/api/checkins", data={"tension": "5"})
    assert r.status_code == 403 and r.json()["field"] == "csrf"
    r = alice.post("/api/checkins", json=CHECKIN, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = alice.post("/api/checkins", json=CHECKIN, headers={"Origin": "http://testserver"})
    assert r.status_code == 201


def test_forms_need_the_csrf_token(alice: TestClient) -> None:
    form = {"tension": "6", "goal": "unwind", "minutes": "5", "place": "sitting"}
    assert alice.post("/checkin", data=form, follow_redirects=False).status_code == 403
    r = alice.post("/checkin", data={**form, "csrf_token": "0" * 64}, follow_redirects=False)
    assert r.status_code == 403
    token = csrf_of(alice, "/checkin")
    r = alice.post("/checkin", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/plan/")


def test_a_token_from_another_browser_does_not_work(alice: TestClient, bob: TestClient) -> None:
    token = csrf_of(bob, "/checkin")
    form = {"tension": "6", "minutes": "5", "csrf_token": token}
    assert alice.post("/checkin", data=form, follow_redirects=False).status_code == 403


def _set_cookies(r: Any) -> dict[str, str]:
    out = {}
    for raw in r.headers.get_list("set-cookie"):
        out[raw.split("=", 1)[0]] = raw.lower()
    return out


def test_cookie_flags(app: Any, app_settings: Settings) -> None:
    with TestClient(app) as c:
        r = c.post("/api/guest", json={})
        cookie = _set_cookies(r)["sonora_session"]
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        r = c.get("/")
        assert "samesite=strict" in _set_cookies(r)["sonora_csrf"]
    with TestClient(app, base_url="https://sonora.example") as c:
        r = c.post("/api/guest", json={}, headers={"Origin": "https://sonora.example"})
        assert "secure" in _set_cookies(r)["sonora_session"]


def test_secure_cookies_always(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path, database_url="sqlite://", secret_key="k" * 40, secure_cookies="always"
    )
    with TestClient(create_app(s)) as c:
        assert "secure" in _set_cookies(c.post("/api/guest", json={}))["sonora_session"]


def test_pages_send_a_strict_content_security_policy(anon: TestClient) -> None:
    r = anon.get("/")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "http" not in r.text.replace("http://www.w3.org/2000/svg", "")


# -- accounts --------------------------------------------------------------------------
def test_guest_signs_up_and_keeps_sessions_then_logs_in_elsewhere(app: Any) -> None:
    with TestClient(app) as guest:
        make_listener(guest)
        plan_id = post_checkin(guest)["plan"]["id"]
        r = guest.post("/api/signup", json={"email": "Kim@Example.org", "password": "pw-12345678"})
        assert r.status_code == 201 and r.json()["is_guest"] is False
        assert guest.get(f"/api/plans/{plan_id}").status_code == 200
        assert guest.post("/api/logout", json={}).status_code == 200
        assert guest.get("/api/me").status_code == 401
        # another browser, as a guest with a session of its own, logs in: both kept
        other = TestClient(app)
        make_listener(other)
        theirs = post_checkin(other)["plan"]["id"]
        r = other.post("/api/login", json={"email": "kim@example.org", "password": "nope-nope"})
        assert r.status_code == 401 and r.json()["field"] == "password"
        r = other.post("/api/login", json={"email": "kim@example.org", "password": "pw-12345678"})
        assert r.status_code == 200
        ids = {s["plan_id"] for s in other.get("/api/history").json()["sessions"]}
        assert ids == {plan_id, theirs}
        r = other.post("/api/signup", json={"email": "kim@example.org", "password": "pw-12345678"})
        assert r.status_code == 409


def test_unknown_email_and_wrong_password_look_the_same(
    anon: TestClient, alice: TestClient
) -> None:
    alice.post("/api/signup", json={"email": "al@example.org", "password": "pw-12345678"})
    a = anon.post("/api/login", json={"email": "nobody@example.org", "password": "pw-12345678"})
    b = anon.post("/api/login", json={"email": "al@example.org", "password": "wrong-wrong"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_export_is_one_json_file_of_everything(alice: TestClient) -> None:
    made = post_checkin(alice, note="only mine")
    alice.post(f"/api/plans/{made['plan']['id']}/outcome", json={"tension": 2, "rating": 8})
    r = alice.get("/api/export")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    data = r.json()
    assert data["format"] == "sonora-export"
    assert data["checkins"][0]["answers"]["note"] == "only mine"
    assert data["outcomes"][0]["answers"]["rating"] == 8
    assert data["profile"]["data"]["loved"] == ["rain"]
    assert data["learning"]["sessions"], "what the matcher learnt is part of the export"
    assert "password" not in json.dumps(data)


def test_delete_account_removes_everything(app: Any, alice: TestClient, bob: TestClient) -> None:
    core: Core = app.state.core
    uid = alice.get("/api/me").json()["id"]
    made = post_checkin(alice)
    alice.post(f"/api/plans/{made['plan']['id']}/outcome", json={"tension": 2})
    alice.put(
        f"/api/plans/{made['plan']['id']}/gains",
        json={"gains": [0.5] * len(made["plan"]["layers"])},
    )
    bob_before = core.store.count_rows(bob.get("/api/me").json()["id"])
    r = alice.delete("/api/account")
    assert r.status_code == 200 and r.json()["deleted"]["users"] == 1
    assert set(core.store.count_rows(uid).values()) == {0}
    assert alice.get("/api/me").status_code == 401
    assert core.store.count_rows(bob.get("/api/me").json()["id"]) == bob_before


# -- the pages, as a visitor uses them -------------------------------------------------
def test_a_visitor_goes_through_every_page(app: Any) -> None:
    with TestClient(app) as c:
        home = c.get("/").text
        assert "Begin" in home
        assert 'href="/signup"' in home  # one who came to sign up finds it on the first page
        r = c.post("/start", data={"csrf_token": csrf_of(c)}, follow_redirects=False)
        assert r.headers["location"] == "/onboarding"
        assert c.get("/checkin", follow_redirects=False).headers["location"] == "/onboarding"
        token = csrf_of(c, "/onboarding")
        r = c.post(
            "/onboarding",
            data={
                "csrf_token": token,
                "loved": ["rain", "bowls"],
                "disliked": "chimes",
                "default_goal": "unwind",
                "breath_pacer": "on",
            },
            follow_redirects=False,
        )
        assert r.headers["location"] == "/checkin"
        token = csrf_of(c, "/checkin")
        r = c.post(
            "/checkin",
            data={
                "csrf_token": token,
                "tension": "8",
                "energy": "6",
                "mood": "3",
                "goal": "ease_anxiety",
                "minutes": "10",
                "place": "sitting",
                "output": "speaker",
                "local_time": "14:30",
                "note": "",
            },
            follow_redirects=False,
        )
        plan_url = r.headers["location"]
        plan_id = plan_url.rsplit("/", 1)[-1]
        page = c.get(plan_url).text
        assert "What will play" in page and "Start listening" in page
        # swap the first layer for the first choice offered
        choice = re.search(r'<select id="swap-0" name="family">\s*<option value="(\w+)"', page)
        assert choice, "the plan page offers a swap"
        r = c.post(
            plan_url,
            data={
                "csrf_token": csrf_of(c, plan_url),
                "action": "swap",
                "layer": "0",
                "family": choice.group(1),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        plan = c.get(f"/api/plans/{plan_id}").json()
        assert plan["layers"][0]["family"] == choice.group(1)
        r = c.post(
            plan_url,
            data={"csrf_token": csrf_of(c, plan_url), "action": "length", "minutes": "15"},
            follow_redirects=False,
        )
        assert c.get(f"/api/plans/{plan_id}").json()["plan"]["duration_s"] == 900
        player = c.get(f"/play/{plan_id}").text
        assert f"/api/plans/{plan_id}/stream?format=opus" in player
        assert "Mixer" in player and "Sleep timer" in player and "Night mode" in player
        # "Finish and check out" is the next step, on its own line, not a third download
        downloads = re.search(r'<p class="links" id="downloads">(.*?)</p>', player, re.S)
        assert downloads is not None and "MP3" in downloads.group(1)
        assert 'id="finish"' not in downloads.group(1)
        assert not downloads.group(1).rstrip().endswith("·")
        # the mixer shows every layer of the plan, each with its part in the mix
        layers = c.get(f"/api/plans/{plan_id}").json()["layers"]
        sliders = re.findall(r'<label for="gain-(\d+)">([^<]+) volume <span', player)
        assert [int(i) for i, _ in sliders] == list(range(len(layers)))
        assert [label for _, label in sliders] == [x["label"] for x in layers]
        assert all(x["role"] in ("bed", "texture", "event", "pacer") for x in layers)
        sound = [x for x in layers if x["role"] != "pacer"]
        assert ('id="layers-hint"' in player) == (len(sound) > 1)
        if len(sound) > 1:
            assert f"{len(sound)} layers" in player
        r = c.post(
            f"/after/{plan_id}",
            data={
                "csrf_token": csrf_of(c, f"/after/{plan_id}"),
                "tension": "4",
                "energy": "4",
                "mood": "6",
                "rating": "8",
                "ending": "finished",
            },
            follow_redirects=False,
        )
        assert r.headers["location"].startswith("/history")
        hist = c.get("/history").text
        assert f'id="session-{plan_id}"' in hist
        assert "<svg" in hist and "Tension before and after each session" in hist
        # errors re-render the form, naming the field
        r = c.post(
            "/checkin",
            data={"csrf_token": csrf_of(c, "/checkin"), "tension": "12", "minutes": "10"},
        )
        assert r.status_code == 422 and "tension" in r.text
        # export and delete from the account page
        assert c.get("/account/export").json()["format"] == "sonora-export"
        r = c.post(
            "/account/delete", data={"csrf_token": csrf_of(c, "/account"), "confirm": "nope"}
        )
        assert r.status_code == 422
        r = c.post(
            "/account/delete",
            data={"csrf_token": csrf_of(c, "/account"), "confirm": "delete"},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/?msg=deleted"
        assert c.get(f"/api/plans/{plan_id}").status_code == 401


def test_signup_and_login_pages(app: Any) -> None:
    with TestClient(app) as c:
        c.post("/start", data={"csrf_token": csrf_of(c)})
        r = c.post(
            "/signup",
            data={
                "csrf_token": csrf_of(c, "/signup"),
                "email": "p@example.org",
                "password": "short",
            },
        )
        assert r.status_code == 400 and "password" in r.text
        r = c.post(
            "/signup",
            data={
                "csrf_token": csrf_of(c, "/signup"),
                "email": "p@example.org",
                "password": "long-enough-1",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "Signed in as" in c.get("/account").text
        c.post("/logout", data={"csrf_token": csrf_of(c, "/account")})
        assert c.get("/api/me").status_code == 401
        r = c.post(
            "/login",
            data={
                "csrf_token": csrf_of(c, "/login"),
                "email": "p@example.org",
                "password": "long-enough-1",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and c.get("/api/me").json()["email"] == "p@example.org"


def test_crisis_note_puts_help_first(tmp_path: Path) -> None:
    s = Settings(
        data_dir=tmp_path, database_url="sqlite://", secret_key="k" * 40, triage_notes=True
    )
    with TestClient(create_app(s)) as c:
        make_listener(c)
        made = post_checkin(c, note="I don't want to wake up tomorrow", minutes=5)
        assert made["care"]["level"] == "crisis"
        page = c.get(f"/plan/{made['plan']['id']}").text
        assert page.index('class="care crisis"') < page.index("What will play")
        assert "116 123" in page  # Samaritans, the default country's crisis line


def test_serve_command_registers_on_a_typer_app() -> None:
    import typer
    from typer.testing import CliRunner

    from sonora.web.cli import serve_command

    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "127.0.0.1:8000" in r.output
    r = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert r.exit_code != 0


def test_serve_on_a_busy_port_says_so_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import typer
    from typer.testing import CliRunner

    from sonora.web.cli import serve_command

    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("noop")(lambda: None)
    monkeypatch.setenv("SONORA_DATA_DIR", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(app, ["serve", "--port", str(port)])
    assert r.exit_code == 2, r.output
    assert f"127.0.0.1:{port} is already in use" in r.output
    assert "listening" not in r.output  # nothing started


def test_sound_vs_quiet_rest_comparison_shows_in_history(alice: TestClient) -> None:
    assert alice.put("/api/profile", json={"quiet_rest": True}).status_code == 200
    kinds = []
    for _ in range(4):
        plan = post_checkin(alice)["plan"]
        kinds.append(plan["plan"]["quiet_rest"])
        r = alice.post(f"/api/plans/{plan['id']}/outcome", json={"tension": 4, "rating": 6})
        assert r.status_code == 201
    assert kinds.count(True) == 2, kinds  # randomised in pairs: one of each per pair
    report = alice.get("/api/history").json()["sound_vs_quiet"]
    assert (report["n_sound"], report["n_rest"]) == (2, 2)
    assert "Not enough data yet" in report["message"]
    page = alice.get("/history").text
    assert 'id="sound-vs-quiet"' in page and "quiet-rest session" in page


def test_history_says_what_seems_to_help_per_goal(alice: TestClient) -> None:
    from sonora.plan import FAMILIES

    others = [f for f in FAMILIES if f not in ("rain", "breath")]
    r = alice.put("/api/profile", json={"loved": ["rain"], "disliked": others})
    assert r.status_code == 200, r.text
    drops = []
    for tension_after in (3, 4, 2):
        plan = post_checkin(alice, goal="sleep", tension=7, local_time="22:40")["plan"]
        assert [x["family"] for x in plan["plan"]["layers"]] == ["rain"]
        out = {"tension": tension_after, "rating": 8, "completed": True}
        assert alice.post(f"/api/plans/{plan['id']}/outcome", json=out).status_code == 201
        drops.append(7 - tension_after)
    helps = alice.get("/api/history").json()["what_helps_by_goal"]
    assert set(helps) == {"sleep"}
    text = (
        f"Rain helped you at night before sleep: tension down {sum(drops) / 3:.1f} on average "
        "over 3 sessions (a pattern, not proof)."
    )
    assert helps["sleep"]["text"] == text
    page = alice.get("/history").text
    assert 'id="what-helps"' in page and text in page
    # and the next plan for that goal says it too
    plan = post_checkin(alice, goal="sleep", tension=6, local_time="23:00")["plan"]
    assert text in plan["plan"]["reason"]


def test_a_number_out_of_range_gives_the_whole_range_and_the_value(alice: TestClient) -> None:
    """The API said 'tension: Input should be less than or equal to 10' (one bound,
    not what was sent); it names the field, the range and the value (found by qa11)."""
    for value in (11, -1, 10.5):
        r = alice.post("/api/checkins", json={"tension": value})
        assert r.status_code == 422
        assert r.json()["field"] == "tension"
        assert r.json()["detail"] == f"tension: expected 0 to 10, got {value!r}"
    r = alice.post("/api/checkins", json={"tension": "x"})
    assert r.status_code == 422
    assert r.json()["detail"] == "tension: expected a number from 0 to 10, got 'x'"
