"""axe-core and the screen's width on EVERY page a person can reach (issue #14).

The page list is checked against the app's own routes: every ``GET`` route outside
``/api`` and ``/static`` is either visited here (as a listener, a therapist, an admin
or a visitor with a booking link) or listed in :data:`NOT_PAGES` with the reason, so a
new page cannot be forgotten.  Each page gets axe-core (4.14.1 from npm, vendored in
``vendor/``): zero serious or critical violations, and no horizontal scroll, on a phone
(390x844) and a desktop (1280x900).  Screenshots: ``artifacts/screenshots/all-*.png``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from e2ekit import THERAPIST_PROFILE, e2e_server
from starlette.routing import Route
from test_pwa import AXE, AXE_RUN, CHART_FITS, DESKTOP, OVERFLOW, PHONE

from sonora.library.repo import TrackUpdate
from sonora.settings import Settings
from sonora.therapists import holds
from sonora.web.app import create_app
from sonora.web.testing import RunningServer

pytestmark = pytest.mark.browser

PROFILE = THERAPIST_PROFILE
PASSWORD = "long enough pw"

#: GET routes outside /api that are not HTML pages a person reads, and why.
NOT_PAGES = {
    "/manifest.webmanifest": "the web app manifest (JSON)",
    "/sw.js": "the service worker script",
    "/account/export": "a JSON download of everything of the account",
    "/listening/reference.wav": "an audio file",
    "/bookings/{token}/invite.ics": "a calendar file",
    "/programmes/{programme_id}/report.{fmt}": "the PDF/CSV report of a programme",
    "/healthz": "the operators' liveness check (JSON)",
    "/readyz": "the operators' readiness check (JSON)",
    "/metrics": "Prometheus metrics (text, loopback or token only)",
}


def _route_paths(tmp: Path) -> set[str]:
    """Every GET route path of the app outside /api, /static and the API docs."""
    app = create_app(Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'routes.db'}"))
    out: set[str] = set()

    def walk(routes: Any, prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)  # FastAPI >= 0.16x includes lazily
            if inner is not None:
                walk(inner.routes, prefix + r.include_context.prefix)
            elif isinstance(r, Route) and "GET" in (r.methods or ()):
                out.add(prefix + r.path)

    walk(app.routes, "")
    assert "/" in out and "/kept" in out, "the app's routes could not be read"
    return {p for p in out if not p.startswith(("/api", "/static", "/docs", "/redoc", "/openapi"))}


def _lees_music(core: Any, user_id: str, root: Path) -> None:
    """Lee's music folder with six analysed tracks (the figures stored as a scan would:
    these pages are about layout; tests/web/e2e/test_library_browser.py scans real files)."""
    (root / "lee").mkdir()
    folder = core.library.add_folder(user_id, str(root / "lee"))
    core.library.repo.save_tracks(
        user_id,
        folder.id,
        [
            TrackUpdate(
                rel_path=f"{i:02d} Step.flac",
                size_bytes=1000,
                mtime_ns=1,
                codec="flac",
                tags={"title": f"Step {i}", "artist": "Calm Band", "genre": "Ambient"},
                analysis={
                    "duration_s": 180.0,
                    "tempo_bpm": 96.0 - 6 * i,
                    "energy": 0.5 - 0.06 * i,
                    "loudness_lufs": -18.0 - 1.5 * i,
                    "voice": 0.1,
                    "key": "C major",
                },
            )
            for i in range(6)
        ],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    music = tmp_path_factory.mktemp("music")
    with e2e_server(
        tmp_path_factory,
        "every-page",
        triage_notes=False,
        stream_lead_s=2.0,
        calibrate_ahead=False,
        outbox_interval_s=0,
        booking_notice_hours=0,
        booking_confirmation=True,
        login_free_failures=1,
        # the music library page with a folder allowed (an empty one: the page, not a scan)
        library_roots=str(music),
    ) as s:
        core = s.core
        svc = core.therapists
        ada, ada_token = core.sign_up(None, "ada@example.org", PASSWORD)
        t = svc.create_profile(ada, PROFILE)
        for day in range(7):
            svc.repo.add_rule(t.id, day, 0, 24 * 60)
        admin, admin_token = core.sign_up(None, "admin@example.org", PASSWORD)
        svc.grant_admin("admin@example.org")
        svc.verify(
            core.store.get_user(admin.id), t.id, {"decision": "verified", "note": "HCPC register"}
        )
        lee, lee_token = core.sign_up(None, "lee@example.org", PASSWORD)
        core.save_profile(lee, {"country": "GB", "loved": ["rain", "water"]})
        _lees_music(core, lee.id, music)
        t = svc.public_profile(t.id)
        slots = svc.free_slots(t, limit=4)
        booking = {"tz": "Europe/London", "name": "Lee", "email": "lee@example.org"}
        _, pending = svc.book(t.id, {**booking, "start": slots[0].isoformat()}, user=lee)
        _, booked = svc.book(t.id, {**booking, "start": slots[1].isoformat()}, user=lee)
        holds.confirm(svc, booked)
        share = core.programmes.set_share(lee, t.id, ["numbers", "history"])
        today = dt.date.today()
        programme = core.programmes.create_programme(
            ada,
            share.id,
            {
                "goals": [{"domain": "physical", "text": "Shoulders down before bed"}],
                "sessions_per_week": 5,
                "minutes_min": 10,
                "minutes_max": 20,
                "listen": {"kind": "sonora_chooses", "families": ["rain"]},
                "questions": [
                    {"text": "How settled do you feel?", "low": "not at all", "high": "completely"}
                ],
                "start_date": today.isoformat(),
                "end_date": (today + dt.timedelta(days=13)).isoformat(),
            },
        )
        s.ids = {  # type: ignore[attr-defined]
            "therapist": t.id,
            "slot": quote(slots[2].isoformat()),
            "ada": ada_token,
            "admin": admin_token,
            "lee": lee_token,
            "pending": pending,
            "booked": booked,
            "share": share.id,
            "programme": programme.id,
        }
        yield s


def _pages_of_lee(ctx: Any, url: str, ids: dict[str, str]) -> list[tuple[str, str]]:
    """Lee's history (two sessions checked out, a shared mix) and the pages Lee reaches."""
    r = ctx.request.post(
        url + "/api/checkins",
        data={"tension": 7, "energy": 4, "mood": 4, "goal": "ease_anxiety", "minutes": 5},
    )
    assert r.status == 201, r.text()
    plan_id = r.json()["plan"]["id"]
    r = ctx.request.post(f"{url}/api/plans/{plan_id}/outcome", data={"tension": 3, "rating": 8})
    assert r.status == 201, r.text()
    mix = ctx.request.post(url + "/api/mixes", data={"plan_id": plan_id, "name": "Rain"}).json()
    shared = ctx.request.patch(f"{url}/api/mixes/{mix['id']}", data={"shared": True}).json()
    r = ctx.request.post(
        url + "/api/library/playlists",
        data={"tension": 7, "energy": 6, "mood": 5, "goal": "sleep", "minutes": 30},
    )
    assert r.status == 201, r.text()
    playlist_id = r.json()["id"]
    tid = ids["therapist"]
    return [
        ("welcome", "/", "/"),
        ("onboarding", "/onboarding", "/onboarding"),
        ("checkin", "/checkin", "/checkin"),
        ("plan", "/plan/{plan_id}", f"/plan/{plan_id}"),
        ("player", "/play/{plan_id}", f"/play/{plan_id}"),
        ("after", "/after/{plan_id}", f"/after/{plan_id}"),
        ("history", "/history", "/history"),
        ("mixes", "/mixes", "/mixes"),
        ("shared-mix", "/m/{token}", shared["share_url"]),
        ("kept", "/kept", "/kept"),
        ("account", "/account", "/account"),
        ("listening", "/listening", "/listening"),
        ("guide", "/guide", "/guide"),
        ("guide-which", "/guide/which", "/guide/which"),
        ("evidence", "/evidence", "/evidence"),
        ("about", "/about", "/about"),
        ("therapists", "/therapists", "/therapists"),
        ("therapist", "/therapists/{therapist_id}", f"/therapists/{tid}"),
        ("book", "/therapists/{therapist_id}/book", f"/therapists/{tid}/book?start={ids['slot']}"),
        ("check-your-email", "/bookings/{token}", f"/bookings/{ids['pending']}"),
        ("booking-confirm", "/bookings/{token}/confirm", f"/bookings/{ids['pending']}/confirm"),
        ("booking", "/bookings/{token}", f"/bookings/{ids['booked']}"),
        ("reschedule", "/bookings/{token}/reschedule", f"/bookings/{ids['booked']}/reschedule"),
        ("sharing", "/sharing", "/sharing"),
        ("library", "/library", "/library"),
        ("playlist", "/library/playlists/{playlist_id}", f"/library/playlists/{playlist_id}"),
        ("programme-listener", "/programmes/{programme_id}", f"/programmes/{ids['programme']}"),
    ]


THERAPIST_PAGES = [
    ("t-dashboard", "/therapists/me", "/therapists/me"),
    ("t-profile", "/therapists/me/profile", "/therapists/me/profile"),
    ("t-hours", "/therapists/me/availability", "/therapists/me/availability"),
    ("t-clients", "/therapists/me/clients", "/therapists/me/clients"),
    ("t-client", "/therapists/me/clients/{share_id}", "/therapists/me/clients/{share}"),
    ("t-programme", "/programmes/{programme_id}", "/programmes/{programme}"),
]
ADMIN_PAGES = [("admin", "/admin/verify", "/admin/verify")]
VISITOR_PAGES = [
    ("v-welcome", "/", "/"),
    ("v-join", "/therapists/join", "/therapists/join"),
    ("v-signup", "/signup", "/signup"),
    # the emailed link's page (any token shows the form; the token is checked on send)
    ("v-signup-confirm", "/signup/confirm/{token}", "/signup/confirm/a-link-token"),
    ("v-login", "/login", "/login"),
    ("v-listening", "/listening", "/listening"),
]


def test_every_get_route_is_visited_or_listed_as_not_a_page(tmp_path: Path) -> None:
    visited = {p for _, p, _ in THERAPIST_PAGES + ADMIN_PAGES + VISITOR_PAGES}
    visited |= set(LEE_ROUTES) | {"/429"}
    routes = _route_paths(tmp_path)
    missing = routes - visited - set(NOT_PAGES)
    assert missing == set(), f"pages no browser test visits: {sorted(missing)}"
    stale = (visited | set(NOT_PAGES)) - routes - {"/429"}
    assert stale == set(), f"listed but no longer routes: {sorted(stale)}"


#: The route paths of Lee's pages (kept in step with _pages_of_lee by the browser test).
LEE_ROUTES = [
    "/", "/onboarding", "/checkin", "/plan/{plan_id}", "/play/{plan_id}", "/after/{plan_id}",
    "/history", "/mixes", "/m/{token}", "/kept", "/account", "/listening", "/guide",
    "/guide/which", "/evidence", "/about", "/therapists", "/therapists/{therapist_id}",
    "/therapists/{therapist_id}/book", "/bookings/{token}", "/bookings/{token}/confirm",
    "/bookings/{token}/reschedule", "/sharing", "/library", "/library/playlists/{playlist_id}",
    "/programmes/{programme_id}",
]  # fmt: skip


WIDEST = """() => Array.from(document.querySelectorAll('body *')).filter(e =>
  e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _check(page: Any, name: str, shots: Path, device: str, failures: dict[str, Any]) -> None:
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    bad = page.evaluate(AXE_RUN)
    if bad:
        failures[f"{name} axe"] = bad
    over = page.evaluate(OVERFLOW)
    if over["doc"] > over["win"] or over["wide"]:
        over["all"] = page.evaluate(WIDEST)
        failures[f"{name} overflow"] = over
    cut = page.evaluate(CHART_FITS)
    if cut:
        failures[f"{name} chart labels cut"] = cut
    page.screenshot(path=str(shots / f"all-{name}-{device}.png"), full_page=True)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_page_passes_axe_and_fits(
    browser: Any, server: RunningServer, shots: Path, device: str
) -> None:
    ids: dict[str, str] = server.ids  # type: ignore[attr-defined]
    failures: dict[str, Any] = {}
    errors: list[str] = []

    def context(token: str | None) -> tuple[Any, Any]:
        # bypass_csp only so the test can inject axe-core; the pages are unchanged
        ctx = browser.new_context(
            **(PHONE if device == "phone" else DESKTOP),
            bypass_csp=True,
            timezone_id="America/New_York",
        )
        if token:
            ctx.add_cookies([{"name": "sonora_session", "value": token, "url": server.url}])
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        return ctx, page

    def visit(token: str | None, pages: list[tuple[str, str, str]]) -> None:
        ctx, page = context(token)
        listed = pages if token != ids["lee"] else _pages_of_lee(ctx, server.url, ids)
        if token == ids["lee"]:
            assert sorted({p for _, p, _ in listed}) == sorted(LEE_ROUTES)
        for name, _, path in listed:
            resp = page.goto(server.url + path.format(**ids))
            assert resp is not None and resp.status == 200, (name, resp and resp.status)
            _check(page, name, shots, device, failures)
        ctx.close()

    visit(ids["lee"], [])
    visit(ids["ada"], THERAPIST_PAGES)
    visit(ids["admin"], ADMIN_PAGES)
    visit(None, VISITOR_PAGES)

    # the 429 page: a second wrong password in a row (login_free_failures=1) waits
    ctx, page = context(None)
    status = 0
    for _ in range(3):
        page.goto(server.url + "/login")
        page.locator("#f-email").fill("lee@example.org")
        page.locator("#f-password").fill("not the password")
        with page.expect_navigation() as nav:
            page.locator("form button[type=submit], form input[type=submit]").first.click()
        status = nav.value.status if nav.value else 0
        if status == 429:
            break
    assert status == 429
    _check(page, "too-many", shots, device, failures)
    ctx.close()

    assert failures == {}, json.dumps(failures, indent=1)
    assert errors == []
