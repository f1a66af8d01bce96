"""Authorisation on every route: each has a rule; anonymous visitors are refused; another
person's objects are not found; one's own lists never show another person's data; the
OpenAPI document lists every API route.

Runs against the real app and a real SQLite database.  The refusals and the "own" routes
share one app per module (``one_app``), each test with new listeners of its own (other
tests' listeners in the same database only make "never another person's data" a
stronger check); the "object" tests, which start download renders, get a fresh app
each (``conftest.py``), whose closing stops those renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount
from webkit import CHECKIN, csrf_of, make_listener, post_checkin, web_settings

from sonora.web import Core, create_app

#: Every route of the app and what protects it:
#: "public"  — anyone;
#: "own"     — needs a listener, and only ever shows or changes that listener's data;
#: "object"  — needs a listener and addresses one of their objects by id: someone else's
#:             id is a 404, exactly like an id that does not exist.
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/guest"): "public",
    ("POST", "/api/signup"): "public",
    ("POST", "/api/signup/confirm"): "public",
    ("POST", "/api/login"): "public",
    ("POST", "/api/logout"): "own",
    ("GET", "/api/me"): "own",
    ("GET", "/api/export"): "own",
    ("DELETE", "/api/account"): "own",
    ("GET", "/api/options"): "public",
    ("GET", "/api/profile"): "own",
    ("PUT", "/api/profile"): "own",
    ("POST", "/api/checkins"): "own",
    ("GET", "/api/checkins/{checkin_id}"): "object",
    ("GET", "/api/plans/{plan_id}"): "object",
    ("PATCH", "/api/plans/{plan_id}"): "object",
    ("PUT", "/api/plans/{plan_id}/gains"): "object",
    ("GET", "/api/plans/{plan_id}/stream"): "object",
    ("GET", "/api/plans/{plan_id}/download"): "object",
    ("POST", "/api/plans/{plan_id}/downloads"): "object",
    ("GET", "/api/downloads"): "own",
    ("GET", "/api/downloads/{download_id}"): "object",
    ("GET", "/api/downloads/{download_id}/file"): "object",
    ("POST", "/api/plans/{plan_id}/outcome"): "object",
    ("PATCH", "/api/plans/{plan_id}/outcome"): "object",
    ("GET", "/api/history"): "own",
    ("GET", "/api/health"): "public",
    ("GET", "/api/docs"): "public",
    ("GET", "/"): "public",
    ("POST", "/start"): "public",
    ("GET", "/onboarding"): "own",
    ("POST", "/onboarding"): "own",
    ("GET", "/checkin"): "own",
    ("POST", "/checkin"): "own",
    ("GET", "/plan/{plan_id}"): "object",
    ("POST", "/plan/{plan_id}"): "object",
    ("GET", "/play/{plan_id}"): "object",
    ("GET", "/after/{plan_id}"): "object",
    ("POST", "/after/{plan_id}"): "object",
    ("GET", "/history"): "own",
    ("GET", "/account"): "own",
    ("GET", "/signup"): "public",
    ("POST", "/signup"): "public",
    ("GET", "/signup/confirm/{token}"): "public",
    ("POST", "/signup/confirm/{token}"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/account/export"): "own",
    ("POST", "/account/delete"): "own",
    ("GET", "/about"): "public",
    ("GET", "/guide"): "public",
    ("GET", "/guide/which"): "public",
    ("GET", "/evidence"): "public",
    ("GET", "/listening"): "public",  # a visitor gets the general advice (issue #14)
    ("POST", "/listening"): "own",
    ("GET", "/listening/reference.wav"): "public",
    ("GET", "/openapi.json"): "public",
    # quick starts and the installable app (issue #14; tests/test_mixes.py in depth)
    ("GET", "/api/mixes"): "own",
    ("POST", "/api/mixes"): "own",
    ("PATCH", "/api/mixes/{mix_id}"): "object",
    ("DELETE", "/api/mixes/{mix_id}"): "object",
    ("POST", "/api/mixes/{mix_id}/start"): "object",
    ("POST", "/api/plans/{plan_id}/again"): "object",
    ("POST", "/api/quick-start"): "own",
    ("GET", "/mixes"): "own",
    ("POST", "/mixes"): "own",
    ("POST", "/mixes/{mix_id}"): "object",
    ("POST", "/again/{plan_id}"): "object",
    ("POST", "/quick"): "own",
    ("GET", "/m/{token}"): "public",
    ("POST", "/m/{token}"): "public",
    ("GET", "/manifest.webmanifest"): "public",
    ("GET", "/sw.js"): "public",
    ("GET", "/kept"): "public",
    # the listener's own music (issue #16; tests/web/test_library_web.py in depth)
    ("GET", "/api/library"): "own",
    ("POST", "/api/library/folders"): "own",
    ("POST", "/api/library/scans"): "own",
    ("GET", "/api/library/scan"): "own",
    ("GET", "/library"): "own",
    ("POST", "/library/folders"): "own",
    ("POST", "/library/scan"): "own",
    # "track": another listener's track is a 404 (tests/library/test_library_web.py)
    ("GET", "/api/library/tracks/{track_id}/audio"): "track",
    # playlists of the listener's music; "playlist": another listener's is a 404
    # (tests/library/test_library_playlists_web.py)
    ("POST", "/api/library/playlists"): "own",
    ("GET", "/api/library/playlists"): "own",
    ("GET", "/api/library/playlists/{playlist_id}"): "playlist",
    ("GET", "/api/library/playlists/{playlist_id}/export"): "playlist",
    ("GET", "/api/library/prefs"): "own",
    ("PUT", "/api/library/prefs"): "own",
    ("GET", "/library/playlists/{playlist_id}"): "playlist",
    ("POST", "/library/prefs"): "own",
}

#: The therapist directory (issue #6; tests/web/therapists checks these in depth).
#: Booking links are "public": the unguessable token in the path is what authorises.
#: "therapist" and "admin" pages send an anonymous visitor to sign up or log in.
THERAPIST_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/therapists"): "public",
    ("GET", "/therapists/join"): "public",
    ("POST", "/therapists/join"): "public",
    ("GET", "/therapists/{therapist_id}"): "public",
    ("GET", "/therapists/{therapist_id}/book"): "public",
    ("POST", "/therapists/{therapist_id}/book"): "public",
    ("GET", "/bookings/{token}"): "public",
    ("GET", "/bookings/{token}/invite.ics"): "public",
    ("POST", "/bookings/{token}/cancel"): "public",
    ("GET", "/bookings/{token}/reschedule"): "public",
    ("POST", "/bookings/{token}/reschedule"): "public",
    ("GET", "/therapists/me"): "therapist",
    ("GET", "/therapists/me/profile"): "therapist",
    ("POST", "/therapists/me/profile"): "therapist",
    ("GET", "/therapists/me/availability"): "therapist",
    ("POST", "/therapists/me/availability"): "therapist",
    ("POST", "/therapists/me/bookings/{booking_id}/cancel"): "therapist",
    ("GET", "/admin/verify"): "admin",
    ("POST", "/admin/verify/{therapist_id}"): "admin",
    ("GET", "/api/therapists"): "public",
    ("GET", "/api/therapists/credentials"): "public",
    ("GET", "/api/therapists/{therapist_id}"): "public",
    ("GET", "/api/therapists/{therapist_id}/slots"): "public",
    ("POST", "/api/therapists/{therapist_id}/bookings"): "public",
    ("GET", "/api/bookings/{token}"): "public",
    ("PATCH", "/api/bookings/{token}"): "public",
    ("DELETE", "/api/bookings/{token}"): "public",
    ("GET", "/api/therapists/me/bookings"): "therapist",
    # bookings held once the email confirms; addresses a therapist blocks (issue #13)
    ("GET", "/bookings/{token}/confirm"): "public",
    ("POST", "/bookings/{token}/confirm"): "public",
    ("POST", "/api/bookings/{token}/confirm"): "public",
    ("GET", "/api/therapists/me/blocks"): "therapist",
    ("POST", "/api/therapists/me/blocks"): "therapist",
    ("DELETE", "/api/therapists/me/blocks"): "therapist",
}
ROUTES.update(THERAPIST_ROUTES)

#: Therapist-guided programmes (issue #17): "programme" — needs a signed-in person;
#: tests/programmes/test_programmes_web.py refuses each of these to another therapist,
#: the therapist after revocation and after their verification lapses, a listener of
#: another therapist and a guest.
PROGRAMME_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/sharing"): "programme",
    ("POST", "/sharing/{therapist_id}"): "programme",
    ("POST", "/sharing/{therapist_id}/revoke"): "programme",
    ("GET", "/therapists/me/clients"): "programme",
    ("GET", "/therapists/me/clients/{share_id}"): "programme",
    ("POST", "/therapists/me/clients/{share_id}/programmes"): "programme",
    ("GET", "/programmes/{programme_id}"): "programme",
    ("POST", "/programmes/{programme_id}/reminders"): "programme",
    ("GET", "/programmes/{programme_id}/report.{fmt}"): "programme",
    ("GET", "/api/sharing"): "programme",
    ("PUT", "/api/sharing/{therapist_id}"): "programme",
    ("DELETE", "/api/sharing/{therapist_id}"): "programme",
    ("GET", "/api/therapists/me/clients"): "programme",
    ("POST", "/api/therapists/me/clients/{share_id}/programmes"): "programme",
    ("GET", "/api/programmes/{programme_id}/progress"): "programme",
    ("GET", "/api/programmes/{programme_id}/report.{fmt}"): "programme",
}
ROUTES.update(PROGRAMME_ROUTES)
#: Operations endpoints (sonora/web/ops.py): "operator" — loopback clients or the metrics
#: token only, tested in tests/scale/test_ops.py.
ROUTES.update(
    {("GET", "/healthz"): "public", ("GET", "/readyz"): "public", ("GET", "/metrics"): "operator"}
)
#: Where an anonymous visitor of a therapist or admin page is sent.
ANON_REDIRECTS = {"therapist": "/therapists/join", "admin": "/login"}

#: JSON bodies that are valid for each route (so a 404 is about the id, not the body).
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/plans/{plan_id}"): {"minutes": 10},
    ("PUT", "/api/plans/{plan_id}/gains"): None,  # filled in with one gain per layer
    ("POST", "/api/plans/{plan_id}/outcome"): {"tension": 3, "rating": 7},
    ("PATCH", "/api/plans/{plan_id}/outcome"): {"mood": 6},
    ("PUT", "/api/profile"): {"loved": ["water"]},
    ("POST", "/api/checkins"): CHECKIN,
    ("POST", "/api/signup"): {"email": "new@example.org", "password": "long enough pw"},
    ("POST", "/api/login"): {"email": "nobody@example.org", "password": "whatever1"},
    ("POST", "/api/signup/confirm"): {"token": "not.a-token", "password": "whatever1"},
}


def _app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, whichever way routers were included."""
    out: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for r in routes:
            if isinstance(r, Mount):
                continue
            inner = getattr(r, "original_router", None)
            if inner is not None:  # an included router (FastAPI >= 0.16x)
                walk(list(inner.routes))
                continue
            methods = getattr(r, "methods", None) or set()
            for m in set(methods) - {"HEAD"}:
                out.add((m, r.path))

    walk(list(app.routes))
    return out


@pytest.fixture(scope="module")
def one_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for the module, started (its lifespan runs once, around all its tests).

    Every test here makes listeners from the one test-client address, so the per-client
    limits on new guests and check-ins are raised (their own tests:
    tests/web/test_limits.py)."""
    settings = web_settings(
        tmp_path_factory.mktemp("authorisation"),
        limit_guests_per_client="10000/1h",
        limit_checkins_per_client="10000/1h",
    )
    core = Core(settings)
    app = create_app(core)
    with TestClient(app):
        yield app
    core.close()


@pytest.fixture
def anon_one(one_app: Any) -> TestClient:
    """An anonymous visitor of :func:`one_app`."""
    return TestClient(one_app, follow_redirects=False)


@pytest.fixture
def alice_and_bob(one_app: Any) -> tuple[TestClient, TestClient]:
    """Two new listeners of :func:`one_app`, each with their own cookies."""
    alice, bob = TestClient(one_app), TestClient(one_app)
    make_listener(alice)
    make_listener(bob)
    return alice, bob


def test_every_route_has_an_authorisation_rule(one_app: Any) -> None:
    routes = _app_routes(one_app)
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes without an authorisation test: {missing}"
    gone = sorted(set(ROUTES) - routes)
    assert not gone, f"ROUTES lists routes the app no longer has: {gone}"


def _call(c: TestClient, method: str, path: str, ids: dict[str, str], gains: int = 1) -> Any:
    url = path.format(**ids)
    body = BODIES.get((method, path))
    if (method, path) == ("PUT", "/api/plans/{plan_id}/gains"):
        body = {"gains": [1.0] * gains}
    if path.startswith("/api"):
        if method in ("POST", "PUT", "PATCH"):
            return c.request(method, url, json=body if body is not None else {})
        return c.request(method, url)
    if method == "POST":
        token = csrf_of(c)
        form = {
            "csrf_token": token,
            "action": "favourite" if path.startswith("/mixes/") else "length",
            "minutes": "10",
            "tension": "3",
            "ending": "finished",
            "confirm": "no",
        }
        return c.post(url, data=form, follow_redirects=False)
    return c.request(method, url, follow_redirects=False)


@pytest.mark.parametrize(
    ("method", "path"), sorted(k for k, v in ROUTES.items() if v not in ("public", "operator"))
)
def test_anonymous_visitors_are_refused(anon_one: TestClient, method: str, path: str) -> None:
    ids = {
        "plan_id": "0" * 32,
        "checkin_id": "0" * 32,
        "therapist_id": "0" * 32,
        "booking_id": "0" * 32,
        "mix_id": "0" * 32,
        "download_id": "0" * 32,
        "programme_id": "0" * 32,
        "share_id": "0" * 32,
        "track_id": "0" * 32,
        "playlist_id": "0" * 32,
        "fmt": "pdf",
    }
    r = _call(anon_one, method, path, ids)
    if ROUTES[(method, path)] in ANON_REDIRECTS and not path.startswith("/api"):
        assert r.status_code == 303, (r.status_code, r.text[:300])
        assert r.headers["location"] == ANON_REDIRECTS[ROUTES[(method, path)]]
        return
    if path.startswith("/api"):
        assert r.status_code == 401, r.text
        assert r.json()["field"] == "session"
    elif (method == "POST" and path in ("/onboarding", "/checkin", "/account/delete")) or (
        method == "POST" and "{" in path
    ):
        assert r.status_code == 303 and r.headers["location"] == "/", (r.status_code, r.text)
    else:
        assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.parametrize(("method", "path"), sorted(k for k, v in ROUTES.items() if v == "object"))
def test_another_persons_objects_are_not_found(
    alice: TestClient, bob: TestClient, method: str, path: str
) -> None:
    made = post_checkin(alice)
    ids = {"plan_id": made["plan"]["id"], "checkin_id": made["checkin"]["id"]}
    ids["mix_id"] = alice.post("/api/mixes", json={"plan_id": ids["plan_id"]}).json()["id"]
    if "{download_id}" in path:
        r = alice.post(f"/api/plans/{ids['plan_id']}/downloads", json={"format": "opus"})
        assert r.status_code == 202, r.text
        ids["download_id"] = r.json()["id"]
    layers = len(made["plan"]["layers"])
    r = _call(bob, method, path, ids, gains=layers)
    assert r.status_code == 404, (r.status_code, r.text[:300])
    # ... while the owner gets it (streams are exercised against a real server)
    if (method, path) == ("PATCH", "/api/plans/{plan_id}/outcome"):  # edits need a first one
        alice.post(f"/api/plans/{ids['plan_id']}/outcome", json={"tension": 3})
    # (streams, downloads and their files are exercised against the real flow elsewhere)
    if not path.endswith(("/stream", "/download", "/downloads", "/file")):
        r = _call(alice, method, path, ids, gains=layers)
        assert r.status_code in (200, 201, 204, 303), (r.status_code, r.text[:300])
        if r.status_code == 303:
            assert r.headers["location"] != "/"
    # and an id that does not exist looks the same as someone else's
    missing = {k: "f" * 32 for k in ("plan_id", "checkin_id", "mix_id", "download_id")}
    r = _call(bob, method, path, missing, gains=layers)
    assert r.status_code == 404


@pytest.mark.parametrize(("method", "path"), sorted(k for k, v in ROUTES.items() if v == "own"))
def test_own_routes_never_show_another_persons_data(
    alice_and_bob: tuple[TestClient, TestClient], method: str, path: str
) -> None:
    alice, bob = alice_and_bob
    made = post_checkin(alice, note="alice's private note")
    secret_ids = [made["plan"]["id"], made["checkin"]["id"], alice.get("/api/me").json()["id"]]
    post_checkin(bob)
    r = _call(bob, method, path, {})
    assert r.status_code < 400 or r.status_code == 422, (r.status_code, r.text[:300])
    for s in secret_ids:
        assert s not in r.text
    assert "alice's private note" not in r.text
    # alice is untouched whatever bob did (even deleting his account)
    assert alice.get(f"/api/plans/{made['plan']['id']}").status_code == 200


def test_openapi_documents_every_api_route(anon_one: TestClient) -> None:
    spec = anon_one.get("/openapi.json").json()
    paths = spec["paths"]
    for method, path in ROUTES:
        if path.startswith("/api") and path != "/api/docs":
            assert method.lower() in paths[path], (method, path)
    assert anon_one.get("/api/docs").status_code == 200
