"""Care in the app: the guide and its helper, the evidence page, the low-mood pattern,
the clinical banner's links, and safe listening (calibration, weekly dose, warnings).

Everything runs against the real app and a real SQLite database (``TestClient``).
Listening history is written as the stream writes it (``listening_sessions`` rows),
with start and end times placed in the past.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from webkit import web_settings

from sonora.care.evidence import load_evidence
from sonora.listening.models import CheckInRow, ListeningSession
from sonora.store.base import new_id, utcnow
from sonora.web import Core, create_app

CHECKIN = {"tension": 6, "energy": 4, "mood": 5, "goal": "unwind", "minutes": 20}
H = 3600.0


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    c = Core(web_settings(tmp_path))
    yield c
    c.close()


@pytest.fixture
def client(core: Core) -> Iterator[TestClient]:
    with TestClient(create_app(core)) as c:
        yield c


def _listener(c: TestClient, **profile: Any) -> str:
    r = c.post("/api/guest", json={})
    assert r.status_code == 201, r.text
    r = c.put("/api/profile", json={"loved": ["rain"], **profile})
    assert r.status_code == 200, r.text
    return str(c.get("/api/me").json()["id"])


def _csrf(c: TestClient, page: str = "/checkin") -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get(page).text)
    assert m, f"no CSRF field on {page}"
    return m.group(1)


def _text(html: str) -> str:
    """Visible text, whitespace collapsed (for phrase checks across line breaks)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")


# -- guide -------------------------------------------------------------------------------
def test_guide_explains_compares_and_shows_credentials(client: TestClient) -> None:
    r = client.get("/guide")
    assert r.status_code == 200
    text = _text(r.text)
    for heading in (
        "What each one is",
        "Differences at a glance",
        "Which is right for you?",
        "How they work together",
        "Credentials by country",
    ):
        assert heading in text
    for row in ("Training", "Regulation", "Setting and goals", "Evidence", "Cost and access"):
        assert f'<th scope="row">{row}</th>' in r.text
    for word in ("HCPC", "BAMT", "MT-BC", "CBMT", "AMTA", "MTA", "CAMT", "RMT", "225A00000X"):
        assert word in text, word
    assert 'href="/therapists"' in r.text
    assert 'href="/evidence#claim-music-therapy-definition"' in r.text
    assert load_evidence().claim("uk-protected-title").text.replace("'", "&#39;") in r.text
    # the helper is a plain GET form: it works without JavaScript
    assert re.search(r'<form method="get" action="/guide/which#result"', r.text)
    body = r.text.split("</head>", 1)[1]
    # (offline.js, on every page, only installs the service worker: an enhancement)
    assert "<script" not in body.replace('<script src="/static/offline.js"></script>', "")


ANSWERS = {"hope": "relax", "duration": "days", "impact": "little", "structured": "no"}


@pytest.mark.parametrize(
    ("over", "outcome"),
    [
        ({}, "sonora"),
        ({"hope": "sleep", "duration": "weeks", "impact": "some"}, "sonora"),
        ({"hope": "health"}, "professional"),
        ({"impact": "lot"}, "professional"),
        ({"duration": "months", "impact": "some"}, "professional"),
        ({"structured": "yes"}, "professional"),
    ],
)
def test_helper_ends_in_sonora_or_a_professional(
    client: TestClient, over: dict[str, str], outcome: str
) -> None:
    r = client.get("/guide/which", params={**ANSWERS, **over})
    assert r.status_code == 200, r.text
    text = _text(r.text)
    assert f'data-outcome="{outcome}"' in r.text
    if outcome == "sonora":
        assert "A Sonora session is a fine place to start" in text
        assert "credentialed music therapist or your doctor" not in text
    else:
        assert "This sounds like a goal for a credentialed music therapist or your doctor" in text
        assert 'href="/therapists"' in r.text
        assert "Your GP" in text  # the default country's doctor
        assert "111" not in text  # no urgent line named until the listener gives a region
    # the answers are kept in the form so they can be changed
    for name, value in {**ANSWERS, **over}.items():
        assert re.search(rf'name="{name}" value="{value}" checked', r.text), name


def test_helper_puts_crisis_lines_first_when_someone_mentions_self_harm(
    client: TestClient,
) -> None:
    r = client.get("/guide/which", params={**ANSWERS, "harm": "yes"})
    assert r.status_code == 200
    text = _text(r.text)
    assert "Please reach out now" in text and "Samaritans" in text and "116 123" in text
    assert text.index("Samaritans") < text.index("credentialed music therapist or your doctor")
    # on a phone, one tap calls a line and one tap opens a text to Shout, keyword typed in
    assert 'href="tel:116123"' in r.text
    assert '<a href="sms:85258?&amp;body=SHOUT">Text SHOUT to 85258</a>' in r.text


def test_sms_links_are_made_only_from_a_number() -> None:
    from sonora.web.care_pages import sms_href

    assert sms_href("Text HELLO to 50808 (any first message starts a conversation)") == (
        "sms:50808?&body=HELLO"
    )
    assert sms_href("Text 0477 13 11 14") == "sms:0477131114"
    assert sms_href("Text 1737") == "sms:1737"
    assert sms_href("") is None and sms_href("Text us any time") is None


def test_helper_uses_the_listeners_country(client: TestClient) -> None:
    _listener(client, country="US")
    r = client.get("/guide/which", params={**ANSWERS, "harm": "yes"})
    assert "988" in _text(r.text)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({k: v for k, v in ANSWERS.items() if k != "impact"}, "impact"),
        ({**ANSWERS, "hope": "riches"}, "hope"),
        ({**ANSWERS, "harm": "maybe"}, "harm"),
    ],
)
def test_helper_errors_name_the_field(client: TestClient, params: dict, field: str) -> None:
    from sonora.care.guide import QUESTIONS

    r = client.get("/guide/which", params=params)
    assert r.status_code == 422
    # named in the listener's words (the question), not by the form field (issue #14)
    question = next(q.text for q in QUESTIONS if q.name == field)
    assert f"Please choose an answer to “{question}”" in _text(r.text)
    assert f"Please check {field}" not in _text(r.text)


# -- evidence ----------------------------------------------------------------------------
def test_evidence_page_lists_every_claim_and_its_sources(client: TestClient) -> None:
    base = load_evidence()
    r = client.get("/evidence")
    assert r.status_code == 200
    for c in base.claims.values():
        assert f'id="claim-{c.id}"' in r.text
    for s in base.sources.values():
        assert f'id="source-{s.id}"' in r.text
        if s.doi:
            assert f'href="https://doi.org/{s.doi}"' in r.text
    text = _text(r.text)
    assert "Still to confirm" in text  # "check" details are shown as such
    assert "How MTA is maintained is still to confirm" in text
    # the HCPC's "AS" prefix was confirmed (docs/references.md), so it is stated, unmarked
    assert "arts therapists' registration numbers start with AS" in text


def test_evidence_page_filters_by_grade(client: TestClient) -> None:
    base = load_evidence()
    r = client.get("/evidence", params={"grade": "insufficient"})
    assert r.status_code == 200
    shown = set(re.findall(r'id="claim-([a-z0-9-]+)"', r.text))
    assert shown == {c.id for c in base.claims_at("insufficient")}
    assert 'id="source-goldsby2017"' in r.text and 'id="source-dewitte2020"' not in r.text
    r = client.get("/evidence", params={"grade": "amazing"})
    assert r.status_code == 422 and "grade" in _text(r.text)


def test_pages_link_the_guide_and_evidence(client: TestClient) -> None:
    for page in ("/", "/about", "/evidence"):
        html = client.get(page).text
        assert 'href="/guide"' in html and 'href="/evidence"' in html
    about = client.get("/about").text
    assert 'href="/evidence#claim-music-stress"' in about
    assert "de Witte et al. 2020, Health Psychology Review" not in about  # now a claim


# -- triage banner and the low-mood pattern ---------------------------------------------
def test_clinical_banner_links_to_the_guide_and_the_directory(tmp_path: Path) -> None:
    core = Core(web_settings(tmp_path, triage_notes=True))
    try:
        with TestClient(create_app(core)) as c:
            _listener(c)
            note = "I've been depressed for months and nothing helps, I think I need proper help"
            made = c.post("/api/checkins", json={**CHECKIN, "note": note}).json()
            assert made["care"]["level"] == "clinical", made["care"]
            html = c.get(f"/plan/{made['plan']['id']}").text
            banner = html.split('class="care clinical"', 1)[1].split("</section>", 1)[0]
            assert 'href="/therapists"' in banner and 'href="/guide"' in banner
    finally:
        core.close()


def _checkin_form(c: TestClient, mood: int) -> str:
    token = _csrf(c)
    r = c.post(
        "/checkin",
        data={
            "csrf_token": token,
            "tension": "6",
            "energy": "3",
            "mood": str(mood),
            "goal": "unwind",
            "minutes": "20",
            "place": "sitting",
            "output": "speaker",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_very_low_mood_in_several_check_ins_brings_a_gentle_suggestion(
    client: TestClient,
) -> None:
    _listener(client)
    first = _checkin_form(client, 1)
    assert "A gentle word" not in client.get(first).text
    _checkin_form(client, 1)
    _checkin_form(client, 6)  # a better day ends the run
    _checkin_form(client, 2)
    second_low = _checkin_form(client, 1)
    assert "A gentle word" not in client.get(second_low).text  # two in a row: not yet
    assert "A gentle word" not in client.get("/checkin").text
    third_low = _checkin_form(client, 0)
    html = client.get(third_low).text
    text = _text(html)
    assert "A gentle word" in text
    assert "Your recent check-ins have been very low" in text
    assert 'href="/therapists"' in html.split('id="mood-pattern"', 1)[1]
    # it is also on the check-in page, and stored with the check-in
    assert "A gentle word" in client.get("/checkin").text
    plan_id = third_low.rsplit("/", 1)[1]
    checkin_id = client.get(f"/api/plans/{plan_id}").json()["checkin_id"]
    care = client.get(f"/api/checkins/{checkin_id}").json()["care"]
    assert care["pattern"]["kind"] == "low_mood"
    assert care["pattern"]["reasons"] == [
        "the last 3 check-ins all had mood 2 or lower on a 0-10 scale"
    ]
    assert care["level"] == "everyday"  # the note said nothing: no clinical banner


def test_old_low_check_ins_do_not_count(core: Core, client: TestClient) -> None:
    uid = _listener(client)
    for _ in range(3):
        _checkin_form(client, 1)
    assert "A gentle word" in client.get("/checkin").text
    with core.store.transaction() as s:  # the run was three weeks ago
        for row in s.query(CheckInRow).filter(CheckInRow.user_id == uid):
            row.created_at = utcnow() - dt.timedelta(days=21)
    assert "A gentle word" not in client.get("/checkin").text
    assert "A gentle word" not in client.get(_checkin_form(client, 1)).text


def test_good_moods_bring_no_suggestion(client: TestClient) -> None:
    _listener(client)
    for mood in (7, 3, 8, 6):
        loc = _checkin_form(client, mood)
    assert "A gentle word" not in client.get(loc).text
    assert "A gentle word" not in client.get("/checkin").text


# -- safe listening ----------------------------------------------------------------------
def _listened(core: Core, user_id: str, plan_id: str, *, hours: float, days_ago: float) -> None:
    """A stream as ``sonora.web.stream`` leaves it: started, played ``hours``, ended."""
    end = utcnow() - dt.timedelta(days=days_ago)
    start = end - dt.timedelta(hours=hours)
    with core.store.transaction() as s:
        s.add(
            ListeningSession(
                id=new_id(),
                plan_id=plan_id,
                user_id=user_id,
                format="opus",
                start_offset_s=0.0,
                offset_s=hours * H + 5.0,  # a stream runs a few seconds ahead
                started_at=start,
                updated_at=end,
                ended="finished",
            )
        )


def _set_level(c: TestClient, level: str) -> Any:
    return c.post(
        "/listening",
        data={"csrf_token": _csrf(c, "/listening"), "level_dba": level},
        follow_redirects=False,
    )


def test_calibration_is_stored_once_in_the_profile(client: TestClient) -> None:
    _listener(client)
    html = client.get("/listening").text
    assert "not known yet" in _text(html)
    assert 'src="/listening/reference.wav"' in html
    r = _set_level(client, "75")
    assert r.status_code == 303 and r.headers["location"] == "/listening?msg=saved"
    profile = client.get("/api/profile").json()
    assert profile["listening_level_dba"] == 75.0 and profile["onboarded"] is True
    text = _text(client.get("/listening?msg=saved").text)
    assert "Your listening level is saved" in text and "about 75 dBA" in text
    assert re.search(r'value="75" checked', client.get("/listening").text)


def test_calibration_does_not_finish_onboarding(client: TestClient) -> None:
    client.post("/api/guest", json={})
    assert _set_level(client, "65").status_code == 303
    assert client.get("/api/profile").json()["onboarded"] is False


@pytest.mark.parametrize("level", ["", "loud", "72", "200"])
def test_bad_levels_are_refused_naming_the_field(client: TestClient, level: str) -> None:
    _listener(client)
    r = _set_level(client, level)
    assert r.status_code == 422
    assert "Please check The reference sound seems…" in _text(r.text)
    assert client.get("/api/profile").json()["listening_level_dba"] is None


def test_api_profile_level_is_validated(client: TestClient) -> None:
    _listener(client)
    r = client.put("/api/profile", json={"listening_level_dba": 140})
    assert r.status_code == 422 and r.json()["field"] == "listening_level_dba"
    r = client.put("/api/profile", json={"listening_level_dba": 70})
    assert r.status_code == 200 and r.json()["listening_level_dba"] == 70.0


def test_weekly_dose_counts_the_last_seven_days_and_warns(core: Core, client: TestClient) -> None:
    uid = _listener(client)
    plan_id = client.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    _listened(core, uid, plan_id, hours=6.0, days_ago=1)
    _listened(core, uid, plan_id, hours=2.5, days_ago=3)
    _listened(core, uid, plan_id, hours=9.0, days_ago=8)  # older than a week: not counted
    html = client.get("/listening").text
    assert "8 h 30 min" in _text(html)
    _set_level(client, "80")  # 8.5 of 40 h = 21%
    text = _text(client.get("/listening").text)
    assert "21%" in text and "dose-warning" not in client.get("/listening").text
    _set_level(client, "85")  # 8.5 of 12.6 h = 67%
    assert "67%" in _text(client.get("/listening").text)
    _listened(core, uid, plan_id, hours=2.0, days_ago=0.5)  # 10.5 h at 85 dBA = 83%
    html = client.get("/listening").text
    assert 'class="dose-warning near"' in html and "83%" in _text(html)
    assert "near this week's safe-listening allowance" in _text(html)
    # the warning also shows where people listen
    assert 'id="dose-warning"' in client.get(f"/plan/{plan_id}").text
    assert 'id="dose-warning"' in client.get(f"/play/{plan_id}").text
    _listened(core, uid, plan_id, hours=3.0, days_ago=0.2)  # 13.5 h at 85 dBA = 107%
    html = client.get("/listening").text
    assert 'class="dose-warning over"' in html and "107%" in _text(html)
    assert "You have used this week's safe-listening allowance" in _text(html)


def test_a_download_counts_only_the_time_it_was_open(core: Core, client: TestClient) -> None:
    uid = _listener(client, listening_level_dba=80)
    plan_id = client.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    now = utcnow()
    with core.store.transaction() as s:  # a whole hour rendered in 20 seconds
        s.add(
            ListeningSession(
                id=new_id(),
                plan_id=plan_id,
                user_id=uid,
                format="mp3",
                start_offset_s=0.0,
                offset_s=H,
                started_at=now - dt.timedelta(seconds=20),
                updated_at=now,
                ended="finished",
            )
        )
    dose = core.listening_dose(core.store.get_user(uid))
    assert dose.listened_s == pytest.approx(20.0, abs=1.0)


def test_the_mixer_raises_the_estimate(core: Core, client: TestClient) -> None:
    uid = _listener(client, listening_level_dba=80)
    made = client.post("/api/checkins", json=CHECKIN).json()
    plan_id, layers = made["plan"]["id"], len(made["plan"]["layers"])
    _listened(core, uid, plan_id, hours=10.0, days_ago=1)
    user = core.store.get_user(uid)
    assert core.listening_dose(user).dose_percent == pytest.approx(25.0, rel=0.01)
    r = client.put(f"/api/plans/{plan_id}/gains", json={"gains": [2.0] * layers})
    assert r.status_code == 200
    # every layer doubled = +6 dB: 10 h at 86 dBA, about 100%
    assert core.listening_dose(user).dose_percent == pytest.approx(99.5, abs=1.0)


def test_other_listeners_streams_do_not_count(core: Core, client: TestClient) -> None:
    uid = _listener(client, listening_level_dba=85)
    plan_id = client.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
    _listened(core, uid, plan_id, hours=12.0, days_ago=1)
    other = TestClient(client.app)
    _listener(other, listening_level_dba=85)
    assert "0 h 00 min" in _text(other.get("/listening").text)
    assert 'id="dose-warning"' not in other.get("/listening").text


def test_reference_sound_is_wav_at_the_session_loudness(core: Core, client: TestClient) -> None:
    from sonora.engine.loudness import integrated_lufs

    r = client.get("/listening/reference.wav")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(r.content), dtype="float32", always_2d=True)
    assert audio.shape[1] == 2 and 5.0 <= audio.shape[0] / rate <= 8.0
    middle = audio[rate:-rate].T.astype(np.float64)
    assert integrated_lufs(middle, rate) == pytest.approx(core.settings.target_lufs, abs=0.5)
    assert float(np.max(np.abs(audio))) < 0.99


def _plan_page_for(c: TestClient, **checkin: Any) -> str:
    made = c.post("/api/checkins", json={**CHECKIN, **checkin}).json()
    return c.get(f"/plan/{made['plan']['id']}").text


def test_plan_pages_give_safe_listening_guidance_where_it_matters(client: TestClient) -> None:
    _listener(client)
    sleep = _text(_plan_page_for(client, goal="sleep", place="in_bed", output="headphones"))
    assert "For sleep, keep the volume low" in sleep
    assert "a speaker at low volume is gentler on your ears than earbuds" in sleep
    assert "Set your listening level once" in sleep
    day = _text(_plan_page_for(client, goal="focus", place="sitting", output="speaker"))
    assert "you should be able to talk over it" in day
    assert "For sleep, keep the volume low" not in day


def test_safe_listening_mentions_headphones_for_binaural_plans() -> None:
    from types import SimpleNamespace

    from sonora.web.app import page_templates

    templates = page_templates()

    tpl = templates.env.get_template("_safe_listening.html")
    plan = SimpleNamespace(goal="unwind", duration_s=1200.0, headphones=True, quiet_rest=False)
    checkin = SimpleNamespace(data={"output": "headphones", "place": "sitting"})
    html = tpl.render(plan=plan, checkin=checkin, dose=None)
    assert "binaural layer only works over headphones" in html
    quiet = SimpleNamespace(goal="sleep", duration_s=1200.0, headphones=False, quiet_rest=True)
    assert "Safe listening" not in tpl.render(plan=quiet, checkin=checkin, dose=None)
