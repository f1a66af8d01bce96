"""Issue #17 in a real browser: consult, consent, a programme, sessions, progress,
a PDF report, revocation and the access log (Debian's Chromium, a real server).

A listener books a free consult with a verified music therapist, shares their session
history only, the therapist writes a two-week programme with one extra question, the
listener does three sessions (answering it), the therapist sees adherence 3/10 and the
charts and downloads the PDF; the listener revokes, the therapist's next request is
refused, and the listener's access log shows each look.  Screenshots:
``artifacts/screenshots/p*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from e2ekit import THERAPIST_PROFILE

from sonora.settings import Settings
from sonora.web.testing import RunningServer, running_server

PROFILE = THERAPIST_PROFILE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("e2e-programmes")
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'e2e.db'}",
        secret_key="e2e-secret-" + "k" * 32,
        triage_notes=False,
        calibrate_ahead=False,
        outbox_interval_s=0,
        booking_notice_hours=0,
        booking_confirmation=False,  # the direct flow; confirmation: tests/test_holds.py
        rate_limits=False,
    )
    with running_server(settings) as s:
        core = s.core
        ada, ada_token = core.sign_up(None, "ada@example.org", "long enough pw")
        t = core.therapists.create_profile(ada, PROFILE)
        for day in range(7):
            core.therapists.repo.add_rule(t.id, day, 0, 24 * 60)
        admin, _ = core.sign_up(None, "admin@example.org", "long enough pw")
        core.therapists.grant_admin("admin@example.org")
        core.therapists.verify(
            core.store.get_user(admin.id), t.id, {"decision": "verified", "note": "HCPC register"}
        )
        lee, lee_token = core.sign_up(None, "lee@example.org", "long enough pw")
        core.save_profile(lee, {"country": "GB"})
        s.ids = {"therapist": t.id, "ada": ada_token, "lee": lee_token}  # type: ignore[attr-defined]
        yield s


def _context(browser: Any, server: RunningServer, token: str, errors: list[str]) -> Any:
    ctx = browser.new_context(
        viewport={"width": 900, "height": 1000}, timezone_id="Europe/London", color_scheme="light"
    )
    ctx.add_cookies([{"name": "sonora_session", "value": token, "url": server.url}])
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return ctx, page


def test_consult_share_programme_progress_report_revoke(
    browser: Any, server: RunningServer, shots: Path
) -> None:
    ids = server.ids  # type: ignore[attr-defined]
    errors: list[str] = []
    lctx, lee = _context(browser, server, ids["lee"], errors)
    tctx, ada = _context(browser, server, ids["ada"], errors)

    # 1. the listener books a free consult
    lee.goto(f"{server.url}/therapists/{ids['therapist']}")
    lee.locator("a.slot").nth(2).click()
    lee.wait_for_selector("#b-name")
    lee.locator("#b-name").fill("Lee")
    lee.locator("#b-email").fill("lee@example.org")
    lee.get_by_role("button", name="Book this consult").click()
    lee.wait_for_url(re.compile(r".*/bookings/.*\?new=1"))

    # 2. shares history only (notes are off unless ticked)
    lee.get_by_role("link", name="Sharing with your music therapist").click()
    lee.wait_for_url(re.compile(r".*/sharing$"))
    assert not lee.locator("input[name=notes]").is_checked()
    lee.locator("input[name=history]").check()
    lee.get_by_role("button", name="Share this with Ada Lovelace").click()
    lee.wait_for_url(re.compile(r".*/sharing\?msg=shared"))
    assert "You share with Ada Lovelace: history." in lee.locator("p.status").inner_text()
    lee.screenshot(path=str(shots / "p1-sharing.png"), full_page=True)

    # 3. the therapist assigns a two-week programme with one extra question
    ada.goto(f"{server.url}/therapists/me")
    ada.get_by_role("link", name="Clients sharing with you").click()
    ada.get_by_role("link", name="Lee").click()
    ada.wait_for_selector("#programme-form")
    ada.locator("#f-gd0").select_option("emotional")  # no domain is chosen for her
    ada.locator("#f-gt0").fill("Notice the evening worry and let it pass")
    ada.locator("#f-gd1").select_option("physical")
    ada.locator("#f-gt1").fill("Shoulders down before bed")
    ada.locator("#f-rn").fill("5 evenings a week, before bed")
    ada.locator("input[name=listen_kind][value=sonora_chooses]").check()
    ada.locator("input[name=listen_families][value=rain]").check()
    ada.locator("input[name=listen_families][value=bowls]").check()
    ada.locator("#f-qt0").fill("How settled do you feel?")
    ada.locator("#f-ql0").fill("not at all")
    ada.locator("#f-qh0").fill("completely")
    ada.locator("#f-qg0").select_option("0")
    ada.screenshot(path=str(shots / "p2-programme-form.png"), full_page=True)
    ada.get_by_role("button", name=re.compile("Give this programme")).click()
    ada.wait_for_url(re.compile(r".*/programmes/[0-9a-f]{32}\?msg=created"))
    programme_url = ada.url.split("?")[0]
    assert "0/10" in ada.locator("p.adherence").inner_text()

    # 4. the listener sees it "from your music therapist" and does three sessions
    lee.goto(programme_url)
    eyebrow = lee.locator("p.eyebrow").text_content() or ""  # shown in capitals by CSS
    assert "From your music therapist, Ada Lovelace" in eyebrow
    for value in ("3", "5", "7"):
        lee.goto(f"{server.url}/checkin")
        q = lee.locator("fieldset.programme-questions input[type=range]")
        assert q.count() == 1
        q.fill(value)
        if value == "3":
            lee.screenshot(path=str(shots / "p2b-checkin-question.png"), full_page=True)
        lee.get_by_role("button", name="Make my session").click()
        lee.wait_for_url(re.compile(r".*/plan/[0-9a-f]{32}$"))
        plan_id = lee.url.rsplit("/", 1)[1]
        lee.goto(f"{server.url}/after/{plan_id}")
        lee.get_by_role("button", name="Save").click()
        lee.wait_for_load_state()
    lee.goto(programme_url)
    assert "3/10" in lee.locator("p.adherence").inner_text()
    lee.screenshot(path=str(shots / "p2c-programme-listener.png"), full_page=True)

    # 5. the therapist sees adherence 3/10 and the charts, and exports the PDF
    resp = ada.goto(programme_url)
    assert resp is not None and resp.status == 200
    assert "3/10" in ada.locator("p.adherence").inner_text()
    assert ada.locator("svg.chart").count() >= 2  # adherence and the question's answers
    assert "not monitored in real time" in ada.locator("main").inner_text()
    assert "Tension before" not in ada.locator("main").inner_text()  # numbers not shared
    ada.screenshot(path=str(shots / "p3-progress-therapist.png"), full_page=True)
    with ada.expect_download() as dl:
        ada.get_by_role("link", name="Download PDF").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    (shots / "p4-report.pdf").write_bytes(pdf)

    # 6. the listener revokes; the therapist's next request is refused
    lee.goto(f"{server.url}/sharing")
    lee.get_by_role("button", name="Stop sharing with Ada Lovelace now").click()
    lee.wait_for_url(re.compile(r".*/sharing\?msg=revoked"))
    resp = ada.goto(programme_url)
    assert resp is not None and resp.status == 404
    assert "How settled" not in ada.locator("main").inner_text()

    # 7. the access log shows each look, and nothing after the revocation
    rows = lee.locator("table.access-log tbody tr")
    whats = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    assert whats == ["report (PDF)", "programme progress", "programme progress", "client overview"]
    assert all("Ada Lovelace" in rows.nth(i).inner_text() for i in range(rows.count()))
    lee.screenshot(path=str(shots / "p5-access-log.png"), full_page=True)
    assert [e for e in errors if "404" not in e] == []
    lctx.close()
    tctx.close()
